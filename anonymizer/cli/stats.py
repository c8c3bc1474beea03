"""``anonymizer stats``: clips and hours recorded, anonymised, deleted and held, per site, month and purpose."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from anonymizer.cli.config import config_option
from anonymizer.config import load_config
from anonymizer.pipelines.stats import KINDS, at_risk, stats as compute
from anonymizer.store.catalogue import Catalogue


def duration_text(seconds: float) -> str:
    """``12:03:07`` (hours:minutes:seconds), with hundredths below a minute so short clips do not show as zero."""
    if seconds < 60:
        return f"0:00:{seconds:05.2f}"
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@click.command("stats")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def stats(config_path: Path, as_json: bool) -> None:
    """Aggregates only (no clip, path or time of day): what the notice lets us keep after the footage is gone.

    Per site, month and purpose: clips and duration (h:mm:ss; --json has hours and seconds) recorded, anonymised,
    deleted and held. Warns on stderr, per camera, about originals due within warn_days (configuration, default 14)
    that have no anonymised copy."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        now = datetime.now(timezone.utc)
        rows = compute(cat, now)
        risk = at_risk(cat, now, cfg.warn_days)
    for camera, n in risk.items():
        click.echo(f"warning: {n} original clip(s) of camera {camera} are due within {cfg.warn_days} days and have "
                   "no anonymised copy: lost for good then (names: 'anonymizer purge --dry-run')", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    head = f"{'site':<12} {'month':<7} {'purpose':<9}" + "".join(f" {k + ' clips, h:mm:ss':>29}" for k in KINDS)
    click.echo(head)
    for r in rows:
        cells = "".join(f" {r[k + '_clips']:>8} {duration_text(r[k + '_seconds']):>20}" for k in KINDS)
        click.echo(f"{r['site']:<12} {r['month']:<7} {r['purpose']:<9}{cells}")
