"""``anonymizer ingest BATCH``: register the clips of a recording batch in the catalogue."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from anonymizer.cli.config import actor, config_option
from anonymizer.config import load_config
from anonymizer.domain.clips import ClipRecord
from anonymizer.pipelines.ingest import FAILED, REGISTERED, IngestOutcome, IngestResult, ingest_batch
from anonymizer.store.catalogue import Catalogue


def clip_dict(c: ClipRecord) -> dict[str, Any]:
    return {
        "id": c.id, "uri": c.uri, "sha256": c.sha256, "size": c.size, "camera": c.camera_id, "site": c.site_id,
        "purpose": c.purpose, "start": c.start.isoformat(), "end": c.end.isoformat() if c.end else None,
        "time_source": c.time_source, "time_uncertain": c.time_uncertain, "codec": c.codec, "width": c.width,
        "height": c.height, "rate": c.rate, "frames": c.frames, "duration_s": c.duration_s,
        "has_audio": c.has_audio, "state": c.state, "derived_from": c.derived_from, "report": c.report_uri,
        "purge_after": c.purge_after.isoformat() if c.purge_after else None, "restricted": c.restricted,
        "ingested_at": c.ingested_at.isoformat() if c.ingested_at else None,
    }


def outcome_dict(o: IngestOutcome) -> dict[str, Any]:
    d: dict[str, Any] = {"path": str(o.path), "status": o.status}
    if o.clip is not None:
        d["clip"] = o.clip.id
    if o.error:
        d["error"] = o.error
    return d


def echo_outcome(o: IngestOutcome, as_json: bool) -> None:
    if o.status == FAILED:
        click.echo(f"error: {o.error}", err=True)
    elif o.status == REGISTERED and not as_json and o.clip is not None:
        c = o.clip
        uncertain = " (uncertain)" if c.time_uncertain else ""
        click.echo(f"{c.id} {c.camera_id} {c.start.isoformat()} [{c.time_source}{uncertain}] {o.path}")


def summary(result: IngestResult) -> str:
    return (f"{len(result.having(REGISTERED))} registered, {len(result.having('known'))} already registered, "
            f"{len(result.failed)} failed")


@click.command("ingest")
@click.argument("batch", type=click.Path(exists=True, path_type=Path))
@click.option("--camera", help="Camera of every clip of the batch (default: sidecar, or a folder named after it).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@config_option
def ingest(batch: Path, camera: str | None, as_json: bool, config_path: Path) -> None:
    """Register the clips of BATCH (walked recursively): camera, recording time, sha256, retention deadline.

    Recording time, in order of trust: a sidecar CLIP.json ({"start": ISO 8601 with offset, "camera": ID}), the
    camera's filename_pattern, the container's creation time corrected by the camera's clock setting, the file's
    modification time (marked uncertain). A file that cannot be registered gets one line (file, cause, fix); the
    rest goes on. Exit 3 when some clips failed, 1 when all did.
    """
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url) as cat:
        result = ingest_batch(batch, cfg, cat, datetime.now(timezone.utc), camera, actor(),
                              on_outcome=lambda o: echo_outcome(o, as_json))
    if as_json:
        click.echo(json.dumps({"clips": [outcome_dict(o) for o in result.outcomes],
                               "registered": len(result.having(REGISTERED)), "known": len(result.having("known")),
                               "failed": len(result.failed)}, indent=2))
    click.echo(summary(result), err=True)
    raise SystemExit(result.exit_code())
