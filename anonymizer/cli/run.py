"""``anonymizer run BATCH``: ingest a batch and anonymise every clip of it (the main job)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from anonymizer.cli.lines import echo_line, quiet

from anonymizer.cli import progress as progress_bars
from anonymizer.cli.config import actor, config_option
from anonymizer.cli.ingest import echo_outcome, echo_warning, import_mode, import_options, outcome_dict, summary
from anonymizer.cli.options import settings_from, settings_options
from anonymizer.config import load_config
from anonymizer.pipelines.batch import Task
from anonymizer.pipelines.local_times import site_zones
from anonymizer.pipelines.run import RunOutcome, run_batch
from anonymizer.store.catalogue import Catalogue


def run_dict(o: RunOutcome) -> dict[str, Any]:
    d: dict[str, Any] = {"clip": o.raw.id, "input": o.raw.uri, "output": str(o.output),
                         "ok": o.copy is not None and not o.error}
    if o.copy is not None and o.copy.state == "quarantined":
        d.update(quarantined=o.copy.id, report=o.copy.report_uri)
    elif o.copy is not None:
        d.update(anonymised=o.copy.id, report=o.copy.report_uri)
    if o.error:
        d["error"] = o.error
    return d


@click.command("run")
@click.argument("batch", type=click.Path(exists=True, path_type=Path))
@click.option("--camera", help="Camera of every clip of the batch (default: sidecar, or a folder named after it).")
@click.option("-j", "--workers", type=click.IntRange(0, 256), default=0,
              help="Worker processes (0: one per CPU core, at most one per clip); each worker's decoder, encoder and "
                   "detectors get cores / workers threads (at least 1).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Anonymise on the Dask cluster whose scheduler listens at ADDRESS (tcp://HOST:8786) instead of "
                   "local worker processes; -j is then ignored (default: the configuration's 'scheduler').")
@import_options
@click.option("--accept-residual", is_flag=True,
              help="Publish the clips whose residual check still finds a face or plate (you looked at the frames "
                   "listed in their quarantined reports: false positives); a quarantined copy of the same input and "
                   "settings is published as it is, without processing the clip again.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@config_option
@settings_options
def run(batch: Path, camera: str | None, workers: int, scheduler: str | None, move: bool, in_place: bool,
        as_json: bool, accept_residual: bool, config_path: Path, **kwargs: Any) -> None:
    """Ingest BATCH, then anonymise every clip of it not anonymised yet into ARCHIVE/anonymised/<BATCH name>/
    (the batch's tree mirrored), recording each copy, its report and its sha256 in the catalogue.

    Ingest as with 'anonymizer ingest': clips outside the archive root are imported into ARCHIVE/raw/ first (the
    originals kept, with a warning, unless --move; --in-place registers them where they lie).

    With --scheduler (or 'scheduler' in the configuration) the clips are anonymised by the workers of a Dask
    cluster, which read them from the archive at the same path; only this process writes the catalogue.

    Settings come from the configuration's [anonymise] table; options given here override them. Rerunning does
    nothing new; a run that was killed resumes where it stopped. Exit 3 when some clips failed or may leak (one
    line each on stderr). Several runs may share a batch (other machines too, with a PostgreSQL catalogue): each clip
    is claimed just before it starts, and a clip another run took is left to it.
    """
    mode = import_mode(move, in_place)
    cfg = load_config(config_path)
    settings = cfg.anonymise.with_(**settings_from(kwargs))
    bar = progress_bars.bar(None, "clips", position=0)

    def on_done(o: RunOutcome) -> None:
        bar.update(1)
        if o.error:
            echo_line(f"error: {o.error}", err=True)
        elif o.copy is not None and not as_json and not quiet():
            r = o.outcome.report if o.outcome else None
            found = f": faces {r.detections.get('face', 0)}, plates {r.detections.get('plate', 0)}" if r else ""
            echo_line(f"{o.raw.id} -> {o.copy.id} {o.output}{found}")

    def clip_progress(task: Task, _i: int) -> Any:
        return None

    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        result = run_batch(batch, cfg, cat, datetime.now(timezone.utc), camera, settings, workers, actor(),
                           on_ingest=lambda o: echo_outcome(o, as_json, site_zones(cfg)), on_done=on_done,
                           clip_progress=clip_progress, mode=mode, scheduler=scheduler or cfg.scheduler or None,
                           accept_residual=accept_residual)
    bar.close()
    done = [o for o in result.anonymised if o.copy is not None and not o.error]
    if as_json:
        click.echo(json.dumps({
            "ingest": [outcome_dict(o) for o in result.ingest.outcomes],
            "anonymised": [run_dict(o) for o in result.anonymised],
            "already_anonymised": result.already, "failed": len(result.failed),
            "restricted": result.restricted, "anonymised_elsewhere": result.elsewhere,
            "deleted_meanwhile": result.gone,
            "warning": result.ingest.retention_warning(),
        }, indent=2))
    echo_warning(result.ingest)
    if quiet() and not result.failed:
        raise SystemExit(result.exit_code())
    click.echo(f"ingest: {summary(result.ingest)}; anonymise: {len(done)} done, {result.already} done before, "
               f"{len(result.anonymised) - len(done)} failed"
               + (f", {len(result.restricted)} restricted (left alone)" if result.restricted else "")
               + (f", {len(result.elsewhere)} taken by another run" if result.elsewhere else "")
               + (f", {len(result.gone)} deleted meanwhile" if result.gone else ""), err=True)
    raise SystemExit(result.exit_code())
