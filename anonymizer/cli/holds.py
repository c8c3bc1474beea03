"""``anonymizer holds add|list|release|review``: what keeps footage past its retention deadline."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from anonymizer.cli.config import actor, config_option
from anonymizer.cli.lines import echo_line
from anonymizer.cli.timeopt import WALL_TIME, tz_option
from anonymizer.config import load_config
from anonymizer.domain.holds import HOLD_KINDS, HOLD_SCOPES
from anonymizer.pipelines import holds as pipeline
from anonymizer.store.catalogue import Catalogue


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _render(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no holds")
    for h in rows:
        span = ""
        if h.get("start_utc") or h.get("end_utc"):
            span = f" [{h.get('start_local') or '...'} .. {h.get('end_local') or '...'}]"
        state = "released" if h.get("released_at") else ("overdue for review" if h.get("overdue") else
                                                         ("active" if h.get("active", True) else "expired"))
        echo_line(f"{h['id']}  {h['kind']:<8} {h['scope']} {h['target']}{span}  owner {h['owner']}  "
                  f"review {h.get('review_local') or '-'}  expires {h.get('expires_local') or '-'}  {state}")
        echo_line(f"    reason: {h['reason']}")


@click.group("holds")
def holds() -> None:
    """Holds keep footage past its retention deadline (rnd: needed for further R&D; incident; legal)."""


@holds.command("add")
@config_option
@click.option("--scope", type=click.Choice(HOLD_SCOPES), required=True, help="What the hold covers.")
@click.option("--target", required=True, help="Clip id (or a unique prefix), camera id or site id.")
@click.option("--kind", type=click.Choice(HOLD_KINDS), required=True,
              help="rnd: needed for further R&D purposes; incident: security footage under investigation; legal.")
@click.option("--reason", required=True, help="Why the footage must be kept (written to the audit log).")
@click.option("--owner", required=True, help="Who answers for the hold.")
@click.option("--from", "start", type=WALL_TIME, help="Camera or site scope: recordings from this time (ISO 8601; "
              "without an offset: in --tz or the site's zone).")
@click.option("--until", "end", type=WALL_TIME, help="Camera or site scope: recordings up to this time.")
@click.option("--review", type=WALL_TIME, help="Review date (required for rnd holds).")
@click.option("--expires", type=WALL_TIME, help="The hold stops blocking deletion from this time.")
@tz_option
@click.option("--json", "as_json", is_flag=True, help="Print the hold as JSON.")
def add(config_path: Path, scope: str, target: str, kind: str, reason: str, owner: str, start: datetime | None,
        end: datetime | None, review: datetime | None, expires: datetime | None, tz: str | None,
        as_json: bool) -> None:
    """Add a hold; while active, the purge keeps every clip it covers. Audited.

    Times without an offset are read in --tz, or in the zone of the site the hold is about (the clip's, the
    camera's or the site itself); --from takes the earliest instant a wall time can mean, --until the latest."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        row = pipeline.add_hold(cat, scope=scope, target=target, kind=kind, reason=reason, owner=owner, now=_now(),
                                actor=actor(), start=start, end=end, review=review, expires=expires, tz=tz,
                                config=cfg)
    _render([row], as_json)


@holds.command("list")
@config_option
@click.option("--all", "include_all", is_flag=True, help="Also released and expired holds.")
@click.option("--json", "as_json", is_flag=True, help="Print the holds as JSON.")
def list_(config_path: Path, include_all: bool, as_json: bool) -> None:
    """Active holds (with --all: every hold ever added)."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        _render(pipeline.list_holds(cat, _now(), include_all, cfg), as_json)


@holds.command("release")
@config_option
@click.argument("hold_id", metavar="ID")
@click.option("--reason", required=True, help="Why the hold is no longer needed (written to the audit log).")
@click.option("--json", "as_json", is_flag=True, help="Print the released hold as JSON.")
def release(config_path: Path, hold_id: str, reason: str, as_json: bool) -> None:
    """Release a hold (ID or a unique prefix of 4+ characters, the h optional): the next purge deletes what it
    kept, if due. Audited."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        row = pipeline.release(cat, hold_id, reason=reason, now=_now(), actor=actor(), config=cfg)
    _render([row], as_json)


@holds.command("review")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the holds as JSON.")
def review(config_path: Path, as_json: bool) -> None:
    """Active holds past their review date: confirm them (add a new hold) or release them."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        _render(pipeline.review_holds(cat, _now(), cfg), as_json)
