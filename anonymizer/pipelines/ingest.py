"""Ingest a recording batch: register every clip of a folder in the catalogue (DESIGN.md section 5).

For each file: its camera (``--camera``, the sidecar's ``camera``, or a folder of the batch named after a camera),
a probe of the video, its sha256, its recording start (sidecar, filename pattern, container time corrected by the
camera's clock, modification time marked uncertain) and its ``purge_after`` from the retention policy. Each clip is
registered with its audit event in one transaction: completely or not at all. A clip that cannot be registered
gets one line naming the file, the cause and the fix; the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

from anonymizer.config import CONFIG_NAME, Config
from anonymizer.domain.clips import ClipRecord, clip_id
from anonymizer.domain.recording_time import (
    Sidecar,
    check_not_future,
    parse_container_time,
    parse_filename_time,
    parse_sidecar,
    recording_start,
)
from anonymizer.domain.retention import purge_after
from anonymizer.domain.sites import Camera
from anonymizer.errors import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    AnonymizerError,
    ClipError,
    ConfigError,
    DuplicateClipError,
    MediaError,
    TimeSourceError,
)
from anonymizer.media.probe import probe
from anonymizer.pipelines.batch import VIDEO_SUFFIXES
from anonymizer.store.catalogue import Catalogue

log = logging.getLogger(__name__)
UTC = timezone.utc
CHUNK = 1 << 20

REGISTERED = "registered"
KNOWN = "known"  # registered before, same file at the same place: nothing to do
FAILED = "failed"


@dataclass
class IngestOutcome:
    path: Path
    status: str
    clip: ClipRecord | None = None
    error: str | None = None
    exit_code: int = EXIT_OK


@dataclass
class IngestResult:
    outcomes: list[IngestOutcome] = field(default_factory=list)

    def having(self, status: str) -> list[IngestOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def failed(self) -> list[IngestOutcome]:
        return self.having(FAILED)

    def exit_code(self) -> int:
        if not self.failed:
            return EXIT_OK
        return EXIT_PARTIAL if len(self.failed) < len(self.outcomes) else EXIT_ERROR


def sha256_of(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def sidecar_for(path: Path) -> Path | None:
    """``clip.mp4.json`` or ``clip.json`` beside the clip."""
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate.is_file():
            return candidate
    return None


def batch_files(batch: Path, config: Config) -> Iterator[Path]:
    """Every file of the batch except hidden ones, JSON (sidecars, reports) and the archive's own files."""
    skip_dirs = {config.anonymised_root.resolve()}
    if batch.is_file():
        yield batch
        return
    for root, dirs, files in os.walk(batch):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() not in skip_dirs)
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".json") or name == CONFIG_NAME or ".sqlite" in name:
                continue
            yield Path(root) / name


class _Fail(Exception):
    """One clip's failure: the one-line message and the exit code of the underlying error."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _camera_for(path: Path, batch: Path, config: Config, given: str | None, sidecar: Sidecar | None) -> Camera:
    where = ""
    if given:
        cid, where = given, "--camera"
    elif sidecar is not None and sidecar.camera:
        cid, where = sidecar.camera, "its sidecar"
    else:
        rel_parts = path.resolve().relative_to(batch.resolve()).parts[:-1] if batch.is_dir() else ()
        named = [p for p in reversed(rel_parts) if p in config.cameras]
        if not named:
            raise _Fail(
                f"{path}: no camera for this clip; fix: pass --camera ID, put it in a folder named after its "
                f"camera, or add \"camera\" to its sidecar (cameras: {', '.join(config.cameras) or 'none configured'})",
                EXIT_ERROR,
            )
        cid, where = named[0], "its folder"
    if cid not in config.cameras:
        raise _Fail(
            f"{path}: unknown camera {cid!r} (from {where}); fix: add [cameras.{cid}] to "
            f"{config.path or 'the configuration'} or name a configured camera "
            f"({', '.join(config.cameras) or 'none configured'})",
            ConfigError.exit_code,
        )
    return config.cameras[cid]


def prepare_clip(path: Path, batch: Path, config: Config, now: datetime, camera: str | None,
                 catalogue: Catalogue) -> ClipRecord | IngestOutcome:
    """Everything about one clip that needs no write: the record to insert, or an outcome (known or failed)."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise _Fail(f"{path}: not a video file (suffix {path.suffix or 'none'!r}); fix: move it out of the batch "
                    "folder, or rename it if it is a video")
    sidecar = None
    side_path = sidecar_for(path)
    if side_path is not None:
        try:
            sidecar = parse_sidecar(side_path.read_text(encoding="utf-8"))
        except (TimeSourceError, UnicodeDecodeError) as exc:
            raise _Fail(f"{path}: unparseable sidecar {side_path.name}: {exc}; fix: correct it (JSON such as "
                        '{"start": "2024-06-01T09:30:00+02:00", "camera": "lab1"}) or remove it') from exc
    cam = _camera_for(path, batch, config, camera, sidecar)
    site = config.sites[cam.site]

    uri = str(path.resolve())
    sha, size = sha256_of(path)
    with catalogue.engine.connect() as conn:
        same = catalogue.by_sha256(conn, sha)
        at_uri = [c for c in catalogue.by_uri(conn, uri) if c.state != "deleted"]
    if same is not None:
        if same.uri == uri:
            return IngestOutcome(path, KNOWN, clip=same)
        raise _Fail(f"{path}: duplicate of clip {same.id} ({same.uri}, state {same.state}), same sha256; fix: "
                    "nothing to register, remove the copy", DuplicateClipError.exit_code)
    if at_uri:
        raise _Fail(f"{path}: changed since it was registered as clip {at_uri[0].id} (sha256 differs); fix: restore "
                    "the original file, or move the new one to another name")

    try:
        info = probe(path)
    except MediaError as exc:
        raise _Fail(f"{exc}; fix: check that the file plays, or move it out of the batch folder") from exc

    clock = cam.camera_clock(site)
    try:
        filename_wall = parse_filename_time(path.name, cam.filename_pattern) if cam.filename_pattern else None
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        when = recording_start(clock, sidecar, filename_wall, parse_container_time(info.creation_time or ""),
                               mtime, info.duration)
        check_not_future(when.start, now)
    except TimeSourceError as exc:
        raise _Fail(f"{path}: {exc}; fix: correct the camera's clock settings (clock, clock_offset_s) in the "
                    "configuration, or write a sidecar with the true start time") from exc
    if when.uncertain:
        log.warning("%s: recording time %s is uncertain (%s)", path, when.start.isoformat(), when.note or when.source)

    deadline = purge_after(when.start, site.kind, site.timezone, cam.purpose, False, config.policy,
                           site_id=site.id, camera_id=cam.id)
    end = when.start + timedelta(seconds=info.duration) if info.duration is not None else None
    return ClipRecord(
        id=clip_id(sha), uri=uri, sha256=sha, size=size, camera_id=cam.id, site_id=site.id, purpose=cam.purpose,
        start=when.start, end=end, time_source=when.source, time_uncertain=when.uncertain, codec=info.codec,
        width=info.width, height=info.height, rate=str(Fraction(info.rate)) if info.rate else None,
        frames=info.frames, duration_s=info.duration, has_audio=info.has_audio, state="raw",
        purge_after=deadline, ingested_at=now,
    )


def register_clip(catalogue: Catalogue, record: ClipRecord, actor: str, now: datetime) -> None:
    """The clip and its audit event, in one transaction."""
    with catalogue.transaction() as conn:
        catalogue.add_clip(conn, record)
        catalogue.audit_append(conn, now, actor, "ingest", f"clip {record.id}", {
            "uri": record.uri, "sha256": record.sha256, "camera": record.camera_id, "site": record.site_id,
            "start": record.start.isoformat(), "time_source": record.time_source,
            "purge_after": record.purge_after.isoformat() if record.purge_after else None,
        })


def ingest_batch(
    batch: Path,
    config: Config,
    catalogue: Catalogue,
    now: datetime,
    camera: str | None = None,
    actor: str = "anonymizer",
    on_outcome: Callable[[IngestOutcome], None] | None = None,
) -> IngestResult:
    """Register every clip of ``batch`` (a folder, walked recursively, or one file)."""
    if not batch.exists():
        raise ClipError(f"{batch}: no such batch folder")
    if camera is not None and camera not in config.cameras:
        raise ConfigError(f"--camera {camera}: unknown camera (configured: {', '.join(config.cameras) or 'none'})")
    with catalogue.transaction() as conn:
        catalogue.sync(conn, config.sites.values(), config.cameras.values())
    result = IngestResult()
    for path in batch_files(batch, config):
        try:
            prepared = prepare_clip(path, batch, config, now, camera, catalogue)
            if isinstance(prepared, IngestOutcome):
                outcome = prepared
            else:
                register_clip(catalogue, prepared, actor, now)
                outcome = IngestOutcome(path, REGISTERED, clip=prepared)
        except _Fail as exc:
            outcome = IngestOutcome(path, FAILED, error=str(exc), exit_code=exc.exit_code)
        except DuplicateClipError as exc:  # registered by someone else between our check and our insert
            outcome = IngestOutcome(path, FAILED, error=f"{path}: {exc}", exit_code=exc.exit_code)
        except OSError as exc:
            outcome = IngestOutcome(path, FAILED, error=f"{path}: cannot read ({exc.strerror}); fix: check the "
                                    "file's permissions", exit_code=EXIT_ERROR)
        except AnonymizerError as exc:
            if not isinstance(exc, ClipError):
                raise
            outcome = IngestOutcome(path, FAILED, error=f"{path}: {exc}", exit_code=exc.exit_code)
        if outcome.status == FAILED:
            log.debug("ingest failed: %s", outcome.error)
        result.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return result
