"""``anonymizer purge``: delete the raw footage whose retention deadline has passed (for cron)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from anonymizer.cli.lines import echo_line, quiet

from anonymizer.cli.config import config_option
from anonymizer.cli.timeopt import INSTANT
from anonymizer.config import load_config
from anonymizer.pipelines.purge import decisions_as_dicts, purge as run_purge
from anonymizer.store.catalogue import Catalogue


@click.command("purge")
@config_option
@click.option("-n", "--dry-run", is_flag=True, help="Plan only: say what would be deleted, change nothing.")
@click.option("--list", "list_", is_flag=True, help="A line per clip: delete / keep, with the reason.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and the outcomes as JSON.")
@click.option("--now", type=INSTANT, help="With --dry-run only: plan as if it were this time (what-if).")
def purge(config_path: Path, dry_run: bool, list_: bool, as_json: bool, now: datetime | None) -> None:
    """Delete every clip whose deadline has passed, unless anonymised, held or outside the archive root.

    Each deletion: the clip is marked deleting, the file unlinked, the clip marked deleted with an audit event.
    A purge killed at any point is finished by the next one. Exit codes: 0 done; 3 some deletions failed or a
    due clip could not be deleted (each named on stderr); 75 another purge is running.
    """
    if now is not None and not dry_run:
        raise click.UsageError("--now is only allowed with --dry-run")
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        report = run_purge(cat, cfg.policy, now or datetime.now(timezone.utc), cfg.archive, dry_run=dry_run,
                           warn_days=cfg.warn_days, every_clip=list_)
    if as_json:
        click.echo(json.dumps({
            "now": report.now.isoformat(), "dry_run": report.dry_run, "counts": report.counts(),
            "outcomes": [o.as_dict() for o in report.outcomes],
            "decisions": decisions_as_dicts(report) if list_ else None,
            "failures": report.failures, "anomalies": report.anomalies, "warnings": report.warnings,
            "in_use": report.leased, "artefacts": report.artefacts, "at_risk": report.at_risk,
        }, indent=2, ensure_ascii=False))
    else:
        if list_:
            done = {o.clip_id: o for o in report.outcomes}
            for d in decisions_as_dicts(report):
                o = done.get(d["clip"])
                verb = o.outcome if o is not None else ("would delete" if d["action"] == "delete" else "keeping")
                echo_line(f"{verb:<12} {d['clip']}  {d['reason']:<12} {d['detail']}  {d['uri']}")
        c = report.counts()
        done_word = "would delete" if report.dry_run else "deleted"
        n_done = c.get("would_delete", 0) if report.dry_run else c.get("deleted", 0) + c.get("missing", 0)
        kept = sum(v for k, v in c.items() if k.startswith("keep:"))
        for line in report.at_risk:  # on stdout: also in the nightly (-q) output
            click.echo(f"at risk: {line}")
        # -q (cron): the summary only when a person must look (cron mails any output)
        needs_a_person = report.failures or report.at_risk or report.anomalies or report.warnings
        if not quiet() or needs_a_person:
            click.echo(f"{done_word} {n_done} clip(s), kept {kept}; failures {len(report.failures)}, anomalies "
                       f"{len(report.anomalies)}, holds to review {len(report.warnings)}, in use (left for the "
                       f"next purge) {len(report.leased)}; request artefacts {done_word} {len(report.artefacts)}")
    for line in report.failures:
        echo_line(f"error: {line}", err=True)
    if report.exit_code:
        raise SystemExit(report.exit_code)
