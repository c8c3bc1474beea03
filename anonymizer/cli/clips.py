"""``anonymizer clips list|show``: query the catalogue."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from anonymizer.cli.config import config_option
from anonymizer.cli.ingest import clip_dict
from anonymizer.cli.lines import echo_line
from anonymizer.cli.timeopt import WALL_TIME, tz_option
from anonymizer.config import load_config
from anonymizer.domain.clips import STATES
from anonymizer.domain.sites import PURPOSES
from anonymizer.domain.local_time import local_iso
from anonymizer.pipelines.local_times import resolve_times, site_zones, sites_of
from anonymizer.pipelines.purge import explain_clip
from anonymizer.store.catalogue import Catalogue, ClipFilter


@click.group("clips")
def clips() -> None:
    """List and show the clips of the catalogue."""


@clips.command("list")
@config_option
@click.option("--site", help="Only clips of this site.")
@click.option("--camera", help="Only clips of this camera.")
@click.option("--purpose", type=click.Choice(PURPOSES), help="Only clips recorded for this purpose.")
@click.option("--state", type=click.Choice(STATES), help="Only clips in this state.")
@click.option("--since", type=WALL_TIME, help="Only clips recorded (in part) at or after this time.")
@click.option("--until", type=WALL_TIME, help="Only clips that started before this time.")
@click.option("--expiring-before", type=WALL_TIME, help="Only clips whose purge_after is before this time.")
@tz_option
@click.option("--limit", type=click.IntRange(1, None), help="At most this many clips.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
def list_clips(config_path: Path, site: str | None, camera: str | None, purpose: str | None, state: str | None,
               since: datetime | None, until: datetime | None, expiring_before: datetime | None,
               tz: str | None, limit: int | None, as_json: bool) -> None:
    """Clips in recording order: id, state, camera, start, source of the time, purge_after, file; times in the
    clip's site's zone with the offset (--json: UTC).

    Times are ISO 8601; without an offset they are read in --tz, or in the zone of --site / --camera's site (of
    every configured site when they share one zone); otherwise such times are refused."""
    cfg = load_config(config_path)
    when = resolve_times(cfg, tz, sites_of(cfg, site=site, camera=camera), {
        "--since": (since, "start"), "--until": (until, "end"), "--expiring-before": (expiring_before, "end")})
    since, until, expiring_before = when["--since"], when["--until"], when["--expiring-before"]
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        found = cat.find(ClipFilter(site=site, camera=camera, purpose=purpose, state=state, since=since, until=until,
                                    expiring_before=expiring_before, limit=limit))
    if as_json:
        click.echo(json.dumps([clip_dict(c) for c in found], indent=2))
        return
    zones = site_zones(cfg)
    for c in found:
        source = c.time_source + ("?" if c.time_uncertain else "")
        zone = zones.get(c.site_id)
        purge = local_iso(c.purge_after, zone, "minutes") if c.purge_after else "never"
        echo_line(f"{c.id}  {c.state:<10} {c.camera_id:<10} {local_iso(c.start, zone)} "
                   f"{source:<10} purge {purge:<22} {c.uri}")
    click.echo(f"{len(found)} clips", err=True)


@clips.command("show")
@config_option
@click.argument("clip_id")
@click.option("--json", "as_json", is_flag=True, help="A JSON object on stdout.")
def show(config_path: Path, clip_id: str, as_json: bool) -> None:
    """Everything the catalogue holds about one clip (ID or a unique prefix of it), with its anonymised copies."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        c = cat.get(clip_id)
        with cat.engine.connect() as conn:
            copies = cat.derived(conn, c.id)
        retention = explain_clip(cat, cfg.policy, c.id, datetime.now(timezone.utc), cfg.archive)
    d = clip_dict(c)
    d["anonymised_copies"] = [x.id for x in copies]
    d["retention_rule"] = retention["rule"]
    d["retention_now"] = retention["decision"]
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    zone = site_zones(cfg).get(c.site_id)
    for key, t in (("start", c.start), ("end", c.end), ("purge_after", c.purge_after), ("ingested_at", c.ingested_at)):
        if t is not None:  # in the site's zone with the offset (--json: UTC)
            d[key] = local_iso(t, zone)
    width = max(len(k) for k in d)
    for k, v in d.items():
        if isinstance(v, list):
            v = ", ".join(v) or "none"
        echo_line(f"{k:<{width}}  {'' if v is None else v}")
