"""Times a person types and reads, in the site's local time.

A time given without a UTC offset is a wall-clock reading: it is read in a zone the caller knows (``--tz``, or the
one zone of the sites concerned), never silently as UTC; without one it is refused with the fix. Near a DST change
a wall time may not exist (spring forward) or exist twice (fall back): a window's start takes the earliest
instant it can mean and its end the latest, so a request never loses a recording to the clock change.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterable, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anonymizer.errors import ConfigError

UTC = timezone.utc
Bound = Literal["start", "end"]
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
EXAMPLE = "2025-03-01T14:05+01:00"


class LocalTimeError(ConfigError):
    """A time cannot be read, or has no offset and no zone to read it in."""


def parse_time(text: str, what: str = "time") -> datetime:
    """ISO 8601 date or time; aware when it carries an offset (or Z), naive (a wall-clock reading) otherwise."""
    try:
        return datetime.fromisoformat(str(text).strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise LocalTimeError(f"{what} {text!r} is not an ISO 8601 date or time (e.g. 2025-03-01, 2025-03-01T14:05 "
                             f"or {EXAMPLE})") from exc


def tz_option(value: str | None, site_zones: set[str]) -> tzinfo | None:
    """The zone naive times are read in: ``site`` (the one zone of the sites concerned), ``UTC``, an offset
    (``+02:00``) or an IANA name. ``None`` (not given): the sites' zone when they have exactly one, else none."""
    if value is None:
        return ZoneInfo(next(iter(site_zones))) if len(site_zones) == 1 else None
    v = value.strip()
    if v.casefold() == "site":
        if len(site_zones) == 1:
            return ZoneInfo(next(iter(site_zones)))
        if not site_zones:
            raise LocalTimeError("--tz site: no site is concerned here; give an offset or a zone (--tz Europe/Berlin)")
        raise LocalTimeError(f"--tz site: the sites concerned are in several zones ({', '.join(sorted(site_zones))}); "
                             "give one of them with --tz, or times with an offset")
    if v.upper() in ("UTC", "Z"):
        return UTC
    m = _OFFSET.match(v)
    if m:
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(-delta if m.group(1) == "-" else delta)
    try:
        return ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LocalTimeError(f"--tz {value!r}: expected 'site', 'UTC', an offset such as +02:00, or an IANA zone "
                             "such as Europe/Berlin") from exc


def zone_for_sites(site_zones: Mapping[str, str], site_ids: Iterable[str] | None) -> set[str]:
    """The distinct zones of ``site_ids`` (every site when None)."""
    ids = site_zones.keys() if site_ids is None else site_ids
    return {site_zones[s] for s in ids if s in site_zones}


def resolve(value: datetime, tz: tzinfo | None, bound: Bound = "start", what: str = "time") -> datetime:
    """An aware UTC instant. Aware input is converted; naive input is read in ``tz`` (refused without one): the
    earliest instant it can mean for a ``start``, the latest for an ``end`` (DST gaps and overlaps)."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    if tz is None:
        raise LocalTimeError(
            f"{what} {value.isoformat(sep=' ')} has no UTC offset and no zone is known to read it in: add the offset "
            f"(e.g. {value.isoformat()}+02:00, or Z for UTC) or give --tz site|ZONE|+HH:MM")
    readings = {value.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1)}
    return min(readings) if bound == "start" else max(readings)


def local_iso(t: datetime, zone: str | None, timespec: str = "seconds") -> str:
    """``2024-06-01T14:00:00+02:00``: ISO 8601 in ``zone`` with its offset (UTC when no zone is known), for lines
    a person reads; JSON keeps UTC."""
    return t.astimezone(ZoneInfo(zone) if zone else UTC).isoformat(timespec=timespec)


def local_label(t: datetime, zone: str | None, ms: bool = False) -> str:
    """``2024-05-30 01:40:00 CEST (+02:00)``: the wall time in ``zone`` with its abbreviation and offset (UTC when
    no zone is known)."""
    spec = "milliseconds" if ms else "seconds"
    if not zone:
        return t.astimezone(UTC).isoformat(sep=" ", timespec=spec).replace("+00:00", "") + " UTC"
    local = t.astimezone(ZoneInfo(zone))
    off = local.strftime("%z")
    return f"{local.replace(tzinfo=None).isoformat(sep=' ', timespec=spec)} {local.tzname()} ({off[:3]}:{off[3:]})"
