"""``anonymizer ingest BATCH``: register the clips of a recording batch in the catalogue."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from anonymizer.cli.lines import echo_line, quiet

from anonymizer.cli.config import actor, config_option
from anonymizer.config import load_config
from anonymizer.domain.clips import ClipRecord
from anonymizer.domain.local_time import local_iso
from anonymizer.pipelines.local_times import site_zones
from anonymizer.pipelines.ingest import (
    FAILED, IMPORT, IN_PLACE, MOVE, REGISTERED, IngestOutcome, IngestResult, ingest_batch,
)
from anonymizer.store.catalogue import Catalogue


def clip_dict(c: ClipRecord) -> dict[str, Any]:
    return {
        "id": c.id, "uri": c.uri, "sha256": c.sha256, "size": c.size, "camera": c.camera_id, "site": c.site_id,
        "purpose": c.purpose, "start": c.start.isoformat(), "end": c.end.isoformat() if c.end else None,
        "time_source": c.time_source, "time_uncertain": c.time_uncertain, "codec": c.codec, "width": c.width,
        "height": c.height, "rate": c.rate, "frames": c.frames, "duration_s": c.duration_s,
        "has_audio": c.has_audio, "state": c.state, "derived_from": c.derived_from, "report": c.report_uri,
        "purge_after": c.purge_after.isoformat() if c.purge_after else None, "restricted": c.restricted,
        "ingested_at": c.ingested_at.isoformat() if c.ingested_at else None, "imported_from": c.imported_from,
    }


def outcome_dict(o: IngestOutcome) -> dict[str, Any]:
    d: dict[str, Any] = {"path": str(o.path), "status": o.status}
    if o.clip is not None:
        d["clip"] = o.clip.id
        d["uri"] = o.clip.uri
    if o.moved:
        d["original_removed"] = True
    if o.error:
        d["error"] = o.error
    return d


def echo_outcome(o: IngestOutcome, as_json: bool, zones: dict[str, str] | None = None) -> None:
    """One line per registered clip (its start in its site's zone, ``zones``: site id -> zone), errors on stderr."""
    if o.status == REGISTERED and not as_json and not quiet() and o.clip is not None:
        c = o.clip
        uncertain = " (uncertain)" if c.time_uncertain else ""
        imported = f" -> {c.uri}" if c.imported_from else ""
        moved = " (original removed)" if o.moved else ""
        echo_line(f"{c.id} {c.camera_id} {local_iso(c.start, (zones or {}).get(c.site_id))} [{c.time_source}{uncertain}] {o.path}{imported}{moved}")
    if o.error:
        echo_line(f"error: {o.error}", err=True)


def echo_warning(result: IngestResult) -> None:
    """One line per batch when originals stay outside the archive root (not covered by the retention policy)."""
    line = result.retention_warning()
    if line and not quiet():
        echo_line(f"warning: {line}", err=True)


def import_mode(move: bool, in_place: bool) -> str:
    if move and in_place:
        raise click.UsageError("--move and --in-place exclude each other")
    return MOVE if move else IN_PLACE if in_place else IMPORT


def import_options(f):  # type: ignore[no-untyped-def]
    f = click.option("--in-place", is_flag=True, help=(
        "Register clips outside the archive root where they lie instead of importing them. The purge never "
        "deletes a file outside the archive root: such clips are reported as failures when due."))(f)
    f = click.option("--move", is_flag=True, help=(
        "Remove each original outside the archive root once its verified copy is registered (audited). Default: "
        "keep it, with a warning that it is not covered by the retention policy."))(f)
    return f


def summary(result: IngestResult) -> str:
    return (f"{len(result.having(REGISTERED))} registered, {len(result.having('known'))} already registered, "
            f"{len(result.failed)} failed")


@click.command("ingest")
@click.argument("batch", type=click.Path(exists=True, path_type=Path))
@click.option("--camera", help="Camera of every clip of the batch (default: sidecar, or a folder named after it).")
@import_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@config_option
def ingest(batch: Path, camera: str | None, move: bool, in_place: bool, as_json: bool, config_path: Path) -> None:
    """Register the clips of BATCH (walked recursively): camera, recording time, sha256, retention deadline.

    Clips already inside the archive root are registered where they lie. Clips outside it are imported into
    ARCHIVE/raw/<site>/<camera>/<YYYY>/<MM>/ (verified copy, sha256-checked, renamed into place; sidecar beside
    it), so that the purge can delete them on time; the originals are kept (a warning says they are not covered
    by the retention policy) unless --move. Rerunning does nothing new.

    Recording time, in order of trust: a sidecar CLIP.json ({"start": ISO 8601 with offset, "camera": ID}), the
    camera's filename_pattern, the container's creation time corrected by the camera's clock setting, the file's
    modification time (marked uncertain). A file that cannot be registered gets one line (file, cause, fix); the
    rest goes on. Exit 3 when some clips failed, 1 when all did, 75 when another ingest holds the archive.
    """
    mode = import_mode(move, in_place)
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        result = ingest_batch(batch, cfg, cat, datetime.now(timezone.utc), camera, actor(),
                              on_outcome=lambda o: echo_outcome(o, as_json, site_zones(cfg)), mode=mode)
    if as_json:
        click.echo(json.dumps({"clips": [outcome_dict(o) for o in result.outcomes],
                               "registered": len(result.having(REGISTERED)), "known": len(result.having("known")),
                               "failed": len(result.failed), "warning": result.retention_warning()}, indent=2))
    echo_warning(result)
    if not quiet() or result.failed:
        click.echo(summary(result), err=True)
    raise SystemExit(result.exit_code())
