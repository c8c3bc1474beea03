"""Times typed by a person, resolved in the zone of the sites a command is about (see
``anonymizer.domain.local_time``): which sites those are comes from the configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from anonymizer.config import Config
from anonymizer.domain.local_time import Bound, resolve, tz_option, zone_for_sites


def site_zones(config: Config) -> dict[str, str]:
    return {s.id: s.timezone for s in config.sites.values()}


def site_zone(config: Config, site_id: str | None) -> str | None:
    site = config.sites.get(site_id or "")
    return site.timezone if site else None


def sites_of(config: Config, *, site: str | None = None, camera: str | None = None) -> list[str] | None:
    """The sites a filter is about: the site, the camera's site, or every site (None)."""
    if site:
        return [site]
    if camera:
        cam = config.cameras.get(camera)
        return [cam.site] if cam else []
    return None


def resolve_times(config: Config, tz: str | None, site_ids: Iterable[str] | None,
                  times: dict[str, tuple[datetime | None, Bound]]) -> dict[str, datetime | None]:
    """Each named time as an aware UTC instant: aware ones converted, naive ones read in ``--tz`` or, without it,
    in the one zone of ``site_ids`` (every site when None); refused (LocalTimeError) when no zone is known."""
    zone = tz_option(tz, zone_for_sites(site_zones(config), site_ids))
    return {name: None if value is None else resolve(value, zone, bound, what=name)
            for name, (value, bound) in times.items()}
