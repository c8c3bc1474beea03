"""Ingest a recording batch: register every clip of a folder in the catalogue (DESIGN.md section 5).

For each file: its camera (``--camera``, the sidecar's ``camera``, or a folder of the batch named after a camera),
a probe of the video, its sha256, its recording start (sidecar, filename pattern, container time corrected by the
camera's clock, modification time marked uncertain; a photo, a clip of one frame, has its EXIF time as container
time) and its ``purge_after`` from the retention policy. Each clip is
registered with its audit event in one transaction: completely or not at all. A clip that cannot be registered
gets one line naming the file, the cause and the fix; the rest of the batch goes on.

Every clip ends up under the archive root, where the purge can delete it on time. A file already inside the root
is registered where it lies. A file outside it is imported (unless ``in_place``) into
``ARCHIVE/raw/<site>/<camera>/<YYYY>/<MM>/<name>`` (the recording start's month in the site's calendar; a short
sha256 prefix on a name clash): copied to a hidden temporary file beside its destination, fsynced, checked
against the source's sha256, renamed; its sidecar copied beside it; then registered with the archive path as its
uri and the original path as ``imported_from``. With ``move`` the original is removed once the clip is committed.
A rerun finds an imported clip by its sha256 and source path and does nothing; a crash between the copy and the
commit leaves at most a hidden temporary file (removed by the next ingest into that folder) or an unregistered
file with the same sha256 at the destination (registered as it is by the next ingest). One ingest per archive at
a time (a lock; exit 75 for the second, except under ``run``, which waits for it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

from anonymizer.config import CONFIG_NAME, SIMPLE_ID, Config
from anonymizer.domain.clips import ClipRecord, clip_id
from anonymizer.domain.recording_time import (
    Sidecar,
    check_not_future,
    parse_container_time,
    parse_filename_time,
    parse_sidecar,
    recording_start,
    zone,
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
from anonymizer.media.photo import is_photo, probe_photo
from anonymizer.media.probe import probe
from anonymizer.media.reader import stream_problem
from anonymizer.pipelines.batch import VIDEO_SUFFIXES, unreadable_folder
from anonymizer.safe_files import fsync_dir, private_dirs
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.lock import FileLock

log = logging.getLogger(__name__)
UTC = timezone.utc
CHUNK = 1 << 20
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML key that needs no quotes

REGISTERED = "registered"
KNOWN = "known"  # registered before, same file at the same place (or imported before from it): nothing to do
FAILED = "failed"

#: How clips outside the archive root are brought in.
IMPORT = "import"  # copy into ARCHIVE/raw, keep the original (the default)
MOVE = "move"  # copy into ARCHIVE/raw, remove the original once the clip is committed
IN_PLACE = "in-place"  # register it where it lies (the purge cannot delete it: reported as an anomaly)
MODES = (IMPORT, MOVE, IN_PLACE)
FILE_MODE = 0o640
LOCK_NAME = ".ingest.lock"
TEMP_MARK = ".import-"  # hidden temporary files: .<name>.import-<pid>


@dataclass
class IngestOutcome:
    path: Path
    status: str
    clip: ClipRecord | None = None
    error: str | None = None  # a failure, or (for a registered or known clip) an original that --move could not remove
    exit_code: int = EXIT_OK
    outside: bool = False  # the original lies outside the archive root and is still there
    moved: bool = False  # the original was removed (--move)


@dataclass
class IngestResult:
    outcomes: list[IngestOutcome] = field(default_factory=list)
    batch: Path | None = None
    archive: Path | None = None
    mode: str = IMPORT

    def having(self, status: str) -> list[IngestOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def failed(self) -> list[IngestOutcome]:
        return [o for o in self.outcomes if o.status == FAILED or o.error]

    def retention_warning(self) -> str | None:
        """One line when originals of catalogued clips remain outside the archive root, or None."""
        outside = [o for o in self.outcomes if o.outside and o.clip is not None and o.status in (REGISTERED, KNOWN)]
        in_place = len([o for o in outside if o.clip is not None and o.clip.imported_from is None])
        originals = len(outside) - in_place
        parts = []
        if originals:
            parts.append(f"{originals} originals in {self.batch} stay outside the archive root {self.archive} and "
                         "are not covered by the retention policy (only their imported copies are): remove them, "
                         "or ingest with --move")
        if in_place:
            parts.append(f"{in_place} clips of {self.batch} are registered in place outside the archive root "
                         f"{self.archive}: the retention policy cannot be kept for them (the purge will not delete "
                         "them and reports them as failures); ingest again without --in-place to import them")
        return "; ".join(parts) or None

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


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` lies under ``root``, both with every symlink resolved (as the purge checks it)."""
    p, r = os.path.realpath(path), os.path.realpath(root).rstrip(os.sep)
    return p == r or p.startswith(r + os.sep)


def batch_files(batch: Path, config: Config, on_error: Callable[[OSError], None] | None = None) -> Iterator[Path]:
    """Every file of the batch except hidden ones, JSON (sidecars, reports) and the archive's own files; a folder
    that cannot be listed goes to ``on_error`` (``os.walk``'s error)."""
    skip_dirs = {config.anonymised_root.resolve()}
    if batch.is_file():
        yield batch
        return
    for root, dirs, files in os.walk(batch, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() not in skip_dirs)
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".json") or name == CONFIG_NAME or ".sqlite" in name:
                continue
            yield Path(root) / name


def _check_link(path: Path, batch: Path) -> None:
    """A file of the batch that is, or lies under, a symlink must stay inside the batch: a link out of it could
    bring in (and an erasure then delete) any file of the machine."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise _Fail(f"{path}: a broken symlink (to {os.readlink(path) if path.is_symlink() else real}); fix: remove "
                    "it, or copy the clip it pointed to into the batch")
    if batch.is_dir() and not inside(path, batch):
        raise _Fail(f"{path}: a symlink leading outside the batch (to {real}); fix: copy the clip into the batch "
                    "folder instead of linking to it, or remove the link")


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
        known = ', '.join(config.cameras) or 'none configured'
        if not SIMPLE_ID.fullmatch(cid):  # never suggest a table named after a path or worse
            raise _Fail(f"{path}: camera {cid!r} (from {where}) is not a valid camera id (letters, digits, '_', '-', "
                        f"'.'; at most 64, starting with a letter or digit); fix: name a configured camera ({known})",
                        ConfigError.exit_code)
        key = cid if BARE_KEY.fullmatch(cid) else f'"{cid}"'  # TOML: a dot in a bare key would nest tables
        raise _Fail(
            f"{path}: unknown camera {cid!r} (from {where}); fix: add [cameras.{key}] (with its site and purpose) "
            f"to {config.path or 'the configuration'} or name a configured camera ({known})",
            ConfigError.exit_code,
        )
    return config.cameras[cid]


def prepare_clip(path: Path, batch: Path, config: Config, now: datetime, camera: str | None,
                 catalogue: Catalogue, mode: str = IMPORT) -> ClipRecord | IngestOutcome:
    """Everything about one clip that needs no write: the record to insert, or an outcome (known or failed).

    A clip to import comes back with ``imported_from`` set and ``uri`` still the source: ``import_clip`` gives it
    its archive path."""
    photo = is_photo(path)  # a photo is catalogued as a clip of one frame (media.photo)
    if path.suffix.lower() not in VIDEO_SUFFIXES and not photo:
        raise _Fail(f"{path}: not a video file or a photo (suffix {path.suffix or 'none'!r}); fix: move it out of "
                    "the batch folder, or rename it if it is a video")
    _check_link(path, batch)
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
    to_import = mode != IN_PLACE and not inside(path, config.archive)
    sha, size = sha256_of(path)
    with catalogue.engine.connect() as conn:
        same = catalogue.by_sha256(conn, sha)
        at_uri = [c for c in catalogue.by_uri(conn, uri) if c.state != "deleted"]
        earlier = [c for c in catalogue.by_imported_from(conn, uri) if c.state != "deleted"] if to_import else []
    if same is not None:
        if same.uri == uri or same.imported_from == uri:
            return IngestOutcome(path, KNOWN, clip=same)
        raise _Fail(f"{path}: duplicate of clip {same.id} ({same.uri}, state {same.state}), same sha256; fix: "
                    "nothing to register, remove the copy", DuplicateClipError.exit_code)
    if at_uri:
        raise _Fail(f"{path}: changed since it was registered as clip {at_uri[0].id} (sha256 differs); fix: restore "
                    "the original file, or move the new one to another name")
    if earlier:
        raise _Fail(f"{path}: imported before from this path as clip {earlier[0].id} ({earlier[0].uri}, state "
                    f"{earlier[0].state}) with other content (sha256 differs: this file changed, or the archive "
                    "copy was amended); fix: move the new file to another name, or remove it if it is the old one")

    try:
        info = probe_photo(path) if photo else probe(path)
        bad_stream = None if photo else stream_problem(path)
    except MediaError as exc:
        raise _Fail(f"{exc}; fix: check that the file {'opens' if photo else 'plays'}, or move it out of the batch "
                    "folder") from exc
    if bad_stream:
        fix = ("rewrite the container with fresh timestamps (e.g. ffmpeg -fflags +genpts -i IN -c copy OUT), or "
               "move it out of the batch folder") if "timestamp" in bad_stream else "move it out of the batch folder"
        raise _Fail(f"{path}: {bad_stream}; fix: {fix}")

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
    if when.source == "mtime":
        # A plain copy resets a file's modification time: the clip would be kept from the copy, not the recording.
        if cam.purpose == "security" or config.mtime_time == "refuse":
            why = ("security footage must have a trusted recording time" if cam.purpose == "security"
                   else "mtime_time = \"refuse\" in the configuration")
            raise _Fail(f"{path}: the only recording time is the file's modification time ({why}); fix: write a "
                        "sidecar CLIP.json with the true start time, or set the camera's filename_pattern")
        log.warning("%s: NO RECORDING TIME: only the file's modification time (%s), which a copy resets: the clip "
                    "may be kept longer than the policy allows; fix: write a sidecar with the true start time",
                    path, when.start.isoformat())
    elif when.uncertain:
        log.warning("%s: recording time %s is uncertain (%s)", path, when.start.isoformat(), when.note or when.source)

    deadline = purge_after(when.start, site.kind, site.timezone, cam.purpose, False, config.policy,
                           site_id=site.id, camera_id=cam.id)
    end = when.start + timedelta(seconds=info.duration) if info.duration is not None else None
    return ClipRecord(
        id=clip_id(sha), uri=uri, sha256=sha, size=size, camera_id=cam.id, site_id=site.id, purpose=cam.purpose,
        start=when.start, end=end, time_source=when.source, time_uncertain=when.uncertain, codec=info.codec,
        width=info.width, height=info.height, rate=str(Fraction(info.rate)) if info.rate else None,
        frames=info.frames, duration_s=info.duration, has_audio=info.has_audio, state="raw",
        purge_after=deadline, ingested_at=now, imported_from=uri if to_import else None,
    )


def _component(value: str, what: str, path: Path) -> str:
    """A site or camera id used as a folder name: one plain path component."""
    if not value or value in (".", "..") or os.sep in value or (os.altsep and os.altsep in value) or "\0" in value:
        raise _Fail(f"{path}: {what} id {value!r} cannot name a folder of the archive; fix: rename it in the "
                    "configuration (no slash, not . or ..)")
    return value


def import_folder(record: ClipRecord, config: Config, path: Path) -> Path:
    """ARCHIVE/raw/<site>/<camera>/<YYYY>/<MM>: the month of the recording start in the site's calendar."""
    site = config.sites[record.site_id]
    local = record.start.astimezone(zone(site.timezone))
    root = Path(os.path.realpath(config.raw_root))
    return (root / _component(site.id, "site", path) / _component(record.camera_id, "camera", path)
            / f"{local.year:04d}" / f"{local.month:02d}")


def _remove_leftovers(folder: Path) -> None:
    """Hidden temporary files an interrupted ingest left in ``folder`` (the ingest lock says no one writes them)."""
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and TEMP_MARK in p.name:
                log.info("removed %s, left by an interrupted ingest", p)
                p.unlink(missing_ok=True)


def _copy_atomic(src: Path, dst: Path, sha: str | None) -> None:
    """Copy ``src`` to a hidden temporary file beside ``dst``, fsync, check its sha256 (when given), rename."""
    tmp = dst.with_name(f".{dst.name}{TEMP_MARK}{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        if sha is not None and sha256_of(tmp)[0] != sha:
            raise _Fail(f"{src}: its copy in the archive does not match the sha256 read before (the file changed "
                        "while it was imported, or a read or write error); nothing was registered; fix: run "
                        "ingest again once the file is complete")
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)


def import_clip(path: Path, record: ClipRecord, config: Config, catalogue: Catalogue) -> ClipRecord:
    """Bring the file (and its sidecar) into ARCHIVE/raw; the record with its archive path as uri.

    The destination is the original name, else ``<sha8>-<name>`` (then longer prefixes) when that name is taken by
    another file or by any clip of the catalogue. A file already there with the same sha256 is what an interrupted
    ingest left: it is registered as it is."""
    folder = import_folder(record, config, path)
    private_dirs(folder)
    _remove_leftovers(folder)
    name = path.name
    candidates = [folder / n for n in (name, f"{record.sha256[:8]}-{name}", f"{record.sha256[:16]}-{name}",
                                       f"{record.sha256}-{name}")]
    with catalogue.engine.connect() as conn:
        # a uri names one clip for ever, deleted ones included
        free = [d for d in candidates if not catalogue.by_uri(conn, str(d))]
    dest = None
    for d in free:
        if os.path.lexists(d):
            if d.is_file() and not d.is_symlink() and sha256_of(d)[0] == record.sha256:
                log.info("%s: found at %s (an interrupted ingest copied it), registering it", path, d)
                dest = d
                break
            continue  # another file of that name: a clash
        _copy_atomic(path, d, record.sha256)
        dest = d
        break
    if dest is None:
        raise _Fail(f"{path}: no free name for it in {folder}; fix: rename the file and ingest again")
    side = sidecar_for(path)
    if side is not None:
        _copy_atomic(side, dest.with_name(dest.name + ".json"), None)
    return replace(record, uri=str(dest))


def register_clip(catalogue: Catalogue, record: ClipRecord, actor: str, now: datetime) -> None:
    """The clip and its audit event, in one transaction."""
    with catalogue.transaction() as conn:
        catalogue.add_clip(conn, record)
        catalogue.audit_append(conn, now, actor, "ingest", f"clip {record.id}", {
            "uri": record.uri, "sha256": record.sha256, "camera": record.camera_id, "site": record.site_id,
            "start": record.start.isoformat(), "time_source": record.time_source,
            "purge_after": record.purge_after.isoformat() if record.purge_after else None,
            "imported_from": record.imported_from,
        })


def adopt_in_place(path: Path, clip: ClipRecord, config: Config, catalogue: Catalogue, actor: str,
                   now: datetime) -> ClipRecord:
    """A clip registered in place outside the archive root (``--in-place``, or before imports existed): import its
    file now and point the clip at the archive copy (one transaction, audited)."""
    record = import_clip(path, replace(clip, imported_from=clip.uri), config, catalogue)
    with catalogue.transaction() as conn:
        if not catalogue.move_clip(conn, clip.id, clip.uri, record.uri, record.imported_from):
            raise _Fail(f"{path}: clip {clip.id} changed while it was being imported; fix: run ingest again")
        catalogue.audit_append(conn, now, actor, "ingest.import", f"clip {clip.id}", {
            "uri": record.uri, "imported_from": record.imported_from, "sha256": record.sha256,
        })
    return record


def remove_original(catalogue: Catalogue, path: Path, clip: ClipRecord, actor: str, now: datetime) -> None:
    """--move: remove the batch original (and its sidecar) of a committed clip whose archive copy is verified,
    and audit it. Raises _Fail when the archive copy cannot vouch for it."""
    if clip.state != "deleted":  # a clip the purge deleted: its original is all that is left, and is overdue
        if not os.path.isfile(clip.uri) or sha256_of(Path(clip.uri))[0] != clip.sha256:
            raise _Fail(f"{path}: not removed (--move): its archive copy {clip.uri} is missing or differs from "
                        "the catalogue's sha256; fix: check the archive copy, then remove the original by hand")
    real = Path(os.path.realpath(path))
    side = sidecar_for(path)
    try:
        os.unlink(real)
        if real != path and os.path.islink(path):
            os.unlink(path)
        if side is not None:
            os.unlink(side)
    except OSError as exc:
        raise _Fail(f"{path}: imported as clip {clip.id}, but the original could not be removed ({exc.strerror}); "
                    "fix: remove it by hand, it is not covered by the retention policy") from exc
    with catalogue.transaction() as conn:
        catalogue.audit_append(conn, now, actor, "ingest.remove_original", f"clip {clip.id}", {
            "original": str(real), "sidecar": str(side) if side else None, "uri": clip.uri, "sha256": clip.sha256,
            "clip_state": clip.state,
        })


def ingest_batch(
    batch: Path,
    config: Config,
    catalogue: Catalogue,
    now: datetime,
    camera: str | None = None,
    actor: str = "anonymizer",
    on_outcome: Callable[[IngestOutcome], None] | None = None,
    mode: str = IMPORT,
    wait: bool = False,
) -> IngestResult:
    """Register every clip of ``batch`` (a folder, walked recursively, or one file); clips outside the archive root
    are imported into it first (``mode``: IMPORT, MOVE or IN_PLACE; see the module docstring). One ingest per
    archive at a time: another one raises LockedError, or with ``wait`` (``run``) is waited for."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    if not batch.exists():
        raise ClipError(f"{batch}: no such batch folder")
    if camera is not None and camera not in config.cameras:
        raise ConfigError(f"--camera {camera}: unknown camera (configured: {', '.join(config.cameras) or 'none'})")
    with FileLock(config.archive / LOCK_NAME, "ingest", wait=wait):
        with catalogue.transaction() as conn:
            catalogue.sync(conn, config.sites.values(), config.cameras.values())
        result = IngestResult(batch=batch, archive=config.archive, mode=mode)
        unreadable: list[OSError] = []

        def add(outcome: IngestOutcome) -> None:
            if outcome.status == FAILED:
                log.debug("ingest failed: %s", outcome.error)
            result.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        def flush() -> None:  # each unreadable folder a failure of its own, named where the walk met it
            while unreadable:
                exc = unreadable.pop(0)
                add(IngestOutcome(Path(exc.filename or batch), FAILED, exit_code=EXIT_ERROR,
                                  error=unreadable_folder(exc, "its clips were not registered")))

        for path in batch_files(batch, config, unreadable.append):
            flush()
            add(_ingest_one(path, batch, config, catalogue, now, camera, actor, mode))
        flush()
    return result


def _ingest_one(path: Path, batch: Path, config: Config, catalogue: Catalogue, now: datetime, camera: str | None,
                actor: str, mode: str) -> IngestOutcome:
    outcome: IngestOutcome | None = None
    try:
        prepared = prepare_clip(path, batch, config, now, camera, catalogue, mode)
        if isinstance(prepared, IngestOutcome):
            outcome = prepared
            known = outcome.clip
            if (known is not None and mode != IN_PLACE and known.imported_from is None
                    and known.state in ("raw", "amended") and known.uri == str(path.resolve())
                    and not inside(path, config.archive)):
                outcome.clip = adopt_in_place(path, known, config, catalogue, actor, now)
        else:
            record = prepared
            if record.imported_from is not None:
                record = import_clip(path, record, config, catalogue)
            try:
                register_clip(catalogue, record, actor, now)
            except DuplicateClipError:
                if record.imported_from is not None:  # our copy, unregistered: not left behind in the archive
                    with catalogue.engine.connect() as conn:
                        ours = not catalogue.by_uri(conn, record.uri)
                    if ours:
                        Path(record.uri).unlink(missing_ok=True)
                        Path(record.uri + ".json").unlink(missing_ok=True)
                raise
            outcome = IngestOutcome(path, REGISTERED, clip=record)
        clip = outcome.clip
        outside = clip is not None and not inside(path, config.archive)
        outcome.outside = outside
        if outside and mode == MOVE and clip is not None and clip.imported_from == str(path.resolve()):
            remove_original(catalogue, path, clip, actor, now)
            outcome.outside, outcome.moved = False, True
        return outcome
    except _Fail as exc:
        if outcome is not None:  # registered (or known), but --move could not remove the original
            outcome.error, outcome.exit_code = str(exc), exc.exit_code
            return outcome
        return IngestOutcome(path, FAILED, error=str(exc), exit_code=exc.exit_code)
    except DuplicateClipError as exc:  # registered by someone else between our check and our insert
        return IngestOutcome(path, FAILED, error=f"{path}: {exc}", exit_code=exc.exit_code)
    except OSError as exc:
        if outcome is not None:  # registered (or known); checking the archive copy for --move failed
            outcome.error = (f"{path}: registered as clip {outcome.clip.id if outcome.clip else '?'}, but the "
                             f"original was not removed ({exc.strerror}); fix: check the archive copy, then remove "
                             "the original by hand")
            outcome.exit_code = EXIT_ERROR
            return outcome
        return IngestOutcome(path, FAILED, error=f"{path}: cannot read or copy ({exc.strerror}); fix: check the "
                             "file's permissions and the archive's free space", exit_code=EXIT_ERROR)
    except AnonymizerError as exc:
        if not isinstance(exc, ClipError):
            raise
        return IngestOutcome(path, FAILED, error=f"{path}: {exc}", exit_code=exc.exit_code)

