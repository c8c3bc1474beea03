"""``anonymizer audit verify|export``: check the audit log's sha256 chain, or export it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from anonymizer.cli.config import config_option
from anonymizer.config import load_config
from anonymizer.errors import EXIT_ERROR
from anonymizer.pipelines.audit import verify as verify_archive
from anonymizer.store.catalogue import Catalogue


@click.group("audit")
def audit() -> None:
    """The audit log: every destructive or disclosing action, chained by sha256."""


@audit.command("verify")
@config_option
@click.option("--expect", metavar="HASH", help="A head hash noted earlier: fail if it is no longer in the chain "
              "(detects a log cut or rewritten from some event on).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(config_path: Path, expect: str | None, as_json: bool) -> None:
    """Recompute the chain; name every event that was changed, removed or inserted, and every clip or hold whose
    state, deadline or content differs from what the chain last recorded (a direct edit of the catalogue, an
    emptied audit table), and every file of the archive that no clip or artefact owns (its deadline is lost).
    Exit 1 when anything is wrong."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        report = verify_archive(cat, expect, cfg)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "events": report.events, "head": report.head,
                               "problems": report.problems}, indent=2))
    else:
        for p in report.problems:
            click.echo(f"error: {p}", err=True)
        if report.ok:
            click.echo(f"audit log intact: {report.events} events, head {report.head}")
    if not report.ok:
        raise SystemExit(EXIT_ERROR)


@audit.command("export")
@config_option
@click.option("--json", "as_json", is_flag=True, help="A JSON array (default: one JSON object per line).")
def export(config_path: Path, as_json: bool) -> None:
    """Write every event (sequence, time, actor, action, object, details, previous hash, hash) to stdout."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        events = [e.as_dict() for e in cat.audit_events()]
    if as_json:
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))
    else:
        for e in events:
            click.echo(json.dumps(e, ensure_ascii=False))
