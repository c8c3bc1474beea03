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


@click.command("stats")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def stats(config_path: Path, as_json: bool) -> None:
    """Aggregates only (no clip, path or time of day): what the notice lets us keep after the footage is gone.

    Warns on stderr, per camera, about originals due within warn_days (configuration, default 14) that have no
    anonymised copy."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url) as cat:
        now = datetime.now(timezone.utc)
        rows = compute(cat, now)
        risk = at_risk(cat, now, cfg.warn_days)
    for camera, n in risk.items():
        click.echo(f"warning: {n} original clip(s) of camera {camera} are due within {cfg.warn_days} days and have "
                   "no anonymised copy: lost for good then (names: 'anonymizer purge --dry-run')", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    head = f"{'site':<12} {'month':<7} {'purpose':<9}" + "".join(f" {k + ' n/h':>18}" for k in KINDS)
    click.echo(head)
    for r in rows:
        cells = "".join(f" {r[k + '_clips']:>8} {r[k + '_hours']:>9.2f}" for k in KINDS)
        click.echo(f"{r['site']:<12} {r['month']:<7} {r['purpose']:<9}{cells}")
