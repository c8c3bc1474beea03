"""``run BATCH``, the main job: ingest the batch, then anonymise every clip of it not anonymised yet, and record
each anonymised copy (linked to its raw original, with its report and sha256) in the catalogue.

Resumable: outputs are written to a temporary file and renamed (``anonymise_file``), and a copy is recorded in
one transaction once its file is complete, so a run killed at any point leaves either nothing or a finished,
recorded copy; a rerun removes the temporary files of the killed run, redoes the copies that were not recorded
and does nothing for the rest.

Several runs may work on one batch at once, on one machine or several sharing the archive and a PostgreSQL
catalogue: their ingests take turns (the ingest lock; the later one finds the clips registered), and each clip is
claimed with a lease in the catalogue just before it starts, so no clip is anonymised twice; a clip another run
holds is left to it (``RunResult.elsewhere``). A killed run's leases end with its process (same host) or expire.
"""

from __future__ import annotations

import glob
import logging
import os
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from anonymizer.config import Config
from anonymizer.domain.clips import ClipRecord, clip_id
from anonymizer.domain.retention import purge_after
from anonymizer.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, AnonymizerError, LockedError, OutputExistsError
from anonymizer.media.photo import is_photo, probe_photo
from anonymizer.media.probe import probe
from anonymizer.media.writer import temp_path_for
from anonymizer.pipelines.anonymise import ProgressFn, report_path_for
from anonymizer.pipelines.batch import Outcome, Task, anonymise_batch, unique_output_name
from anonymizer.pipelines.ingest import FAILED, IMPORT, IngestOutcome, IngestResult, ingest_batch, sha256_of
from anonymizer.settings import AnonymiseSettings
from anonymizer.safe_files import private_dirs
from anonymizer.store.catalogue import Catalogue, ClipFilter
from anonymizer.store.leases import new_holder

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    raw: ClipRecord
    output: Path
    copy: ClipRecord | None = None
    error: str | None = None
    exit_code: int = EXIT_OK
    outcome: Outcome | None = None


@dataclass
class RunResult:
    ingest: IngestResult
    anonymised: list[RunOutcome] = field(default_factory=list)
    already: int = 0  # clips of the batch anonymised by an earlier run
    restricted: list[str] = field(default_factory=list)  # ids left alone: a data-subject restriction holds them
    elsewhere: list[str] = field(default_factory=list)  # ids another run (this machine or another) is anonymising
    gone: list[str] = field(default_factory=list)  # ids deleted (purge, erasure) between the plan and their turn

    @property
    def failed(self) -> list[Any]:
        return self.ingest.failed + [o for o in self.anonymised if o.error]

    def exit_code(self) -> int:
        total = len(self.ingest.outcomes) + len(self.anonymised)
        if not self.failed:
            return EXIT_OK
        succeeded = self.already + len([o for o in self.anonymised if o.copy is not None and not o.error])
        return EXIT_PARTIAL if succeeded or len(self.failed) < total else EXIT_ERROR


def batch_path(raw: ClipRecord, batch: Path) -> Path:
    """Where the clip lies (or lay, when it was imported into ARCHIVE/raw) in the batch."""
    root = str(batch.resolve())
    for p in (raw.uri, raw.imported_from):
        if p and (p == root or p.startswith(root.rstrip(os.sep) + os.sep)):
            return Path(p)
    return Path(raw.imported_from or raw.uri)


def output_for(raw: ClipRecord | str, batch: Path, config: Config) -> Path:
    """ARCHIVE/anonymised/<batch folder name>/<the clip's path inside the batch> (for a clip imported into
    ARCHIVE/raw, the path its original had in the batch)."""
    src = Path(raw) if isinstance(raw, str) else batch_path(raw, batch)
    root = batch.resolve()
    if root.is_file():
        return config.anonymised_root / unique_output_name(src)
    rel = src.relative_to(root)
    return config.anonymised_root / root.name / rel.parent / unique_output_name(src)


def remove_leftovers(dst: Path) -> list[Path]:
    """Temporary files a killed run left beside ``dst`` (the lock guarantees no run is writing them now)."""
    # names are escaped: a clip called cam[1].mp4 must find its own leftovers and no other clip's
    pattern_video = glob.escape(temp_path_for(dst).name.rsplit("-", 1)[0]) + "-*"
    report = report_path_for(dst)
    gone = []
    if dst.parent.is_dir():
        for p in list(dst.parent.glob(pattern_video)) + list(dst.parent.glob(f".{glob.escape(report.name)}.partial-*")):
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def register_copy(catalogue: Catalogue, config: Config, raw: ClipRecord, dst: Path, outcome: Outcome, actor: str,
                  now: datetime, quarantined: bool = False) -> ClipRecord:
    """The anonymised copy and its audit event, in one transaction. A quarantined copy (it failed the residual
    check: it may still show someone) is catalogued as ``quarantined`` with the raw footage's deadline, so that
    the purge deletes it with the raw clip and ``requests find`` sees it."""
    deadline = raw.purge_after if quarantined else copy_deadline(config, raw)
    sha, size = sha256_of(dst)
    info = probe_photo(dst) if is_photo(dst) else probe(dst)
    report = outcome.report
    assert report is not None
    copy = ClipRecord(
        id=clip_id(sha), uri=str(dst.resolve()), sha256=sha, size=size, camera_id=raw.camera_id,
        site_id=raw.site_id, purpose=raw.purpose, start=raw.start, end=raw.end, time_source=raw.time_source,
        time_uncertain=raw.time_uncertain, codec=info.codec, width=info.width, height=info.height,
        rate=raw.rate, frames=report.frames, duration_s=info.duration, has_audio=report.audio == "kept",
        state="quarantined" if quarantined else "anonymised", derived_from=raw.id,
        report_uri=str(report_path_for(dst).resolve()),
        purge_after=deadline, restricted=raw.restricted, ingested_at=now,
    )
    with catalogue.transaction() as conn:
        catalogue.add_clip(conn, copy)
        catalogue.audit_append(conn, now, actor, "quarantine" if quarantined else "anonymise", f"clip {copy.id}", {
            "raw": raw.id, "output": copy.uri, "sha256": sha, "report": copy.report_uri, "state": copy.state,
            "purge_after": deadline.isoformat() if deadline else None,
            "detections": report.detections, "models": [m.get("sha256") for m in report.models],
            **({"lost_frames": report.lost["frames"]} if getattr(report, "lost", None) else {}),
        })
    return copy


def copy_deadline(config: Config, raw: ClipRecord) -> datetime | None:
    """An anonymised copy's deadline under the policy (None: kept)."""
    site = config.sites.get(raw.site_id)
    return purge_after(raw.start, site.kind, site.timezone, raw.purpose, True, config.policy,
                       site_id=raw.site_id, camera_id=raw.camera_id) if site else None


def accept_quarantined(catalogue: Catalogue, config: Config, raw: ClipRecord, dst: Path, outcome: Outcome,
                       actor: str, now: datetime, quarantined_at: Path) -> ClipRecord:
    """``--accept-residual``: the anonymiser moved the quarantined copy (same bytes) to ``dst``; its record follows
    it, now anonymised with a copy's deadline, and an ``anonymise`` event says so. A quarantine no run catalogued
    (made by ``anonymise``) is registered as a new copy."""
    with catalogue.engine.connect() as conn:
        old = [c for c in catalogue.by_uri(conn, str(quarantined_at.resolve()))
               if c.state == "quarantined" and c.derived_from == raw.id]
    if not old:
        return register_copy(catalogue, config, raw, dst, outcome, actor, now)
    deadline = copy_deadline(config, raw)
    copy = replace(old[0], uri=str(dst.resolve()), report_uri=str(report_path_for(dst).resolve()),
                   state="anonymised", purge_after=deadline)
    with catalogue.transaction() as conn:
        if not catalogue.accept_quarantined(conn, copy.id, copy.uri, copy.report_uri, deadline):
            raise LockedError(f"{raw.uri}: its quarantined copy {copy.id} changed meanwhile; fix: run again")
        catalogue.audit_append(conn, now, actor, "anonymise", f"clip {copy.id}", {
            "raw": raw.id, "output": copy.uri, "sha256": copy.sha256, "report": copy.report_uri,
            "state": copy.state, "purge_after": deadline.isoformat() if deadline else None,
            "accepted_from_quarantine": old[0].uri,
        })
    return copy


def supersede(catalogue: Catalogue, copies: list[ClipRecord], actor: str, now: datetime) -> None:
    """Quarantined copies at the path a new try will overwrite: recorded as deleted (the file is replaced)."""
    with catalogue.transaction() as conn:
        for c in copies:
            catalogue.set_state(conn, c.id, "deleted")
            catalogue.audit_append(conn, now, actor, "quarantine.replaced", f"clip {c.id}",
                                   {"uri": c.uri, "sha256": c.sha256, "raw": c.derived_from})


def run_batch(
    batch: Path,
    config: Config,
    catalogue: Catalogue,
    now: datetime,
    camera: str | None = None,
    settings: AnonymiseSettings | None = None,
    workers: int = 0,
    actor: str = "anonymizer",
    on_ingest: Callable[[IngestOutcome], None] | None = None,
    on_done: Callable[[RunOutcome], None] | None = None,
    clip_progress: Callable[[Task, int], ProgressFn | None] | None = None,
    mode: str = IMPORT,
    scheduler: str | None = None,
    accept_residual: bool = False,
) -> RunResult:
    """Ingest ``batch`` (``mode`` as for ``ingest_batch``: clips outside the archive root are imported into it),
    then anonymise every clip of it, found by where it lies or where it was imported from. With ``scheduler``
    (a Dask scheduler's address, connected to before anything else) the clips are anonymised by that cluster's
    workers; this process alone writes the catalogue. ``accept_residual``: a clip whose quarantined copy is of
    the same input and settings gets that copy published (``anonymise_file``), any other is published whatever
    its residual check finds (recorded as accepted)."""
    settings = settings or config.anonymise
    holder = new_holder()  # each raw clip is leased while it is anonymised: purge and requests leave it alone
    cluster: Any = nullcontext()
    if scheduler:
        from anonymizer.pipelines.cluster import dask_executor  # the optional 'dask' extra, imported when asked

        cluster = dask_executor(scheduler, settings)
    with cluster as executor:
        try:
            return _run_locked(batch, config, catalogue, now, camera, settings, workers, actor, on_ingest, on_done,
                               clip_progress, mode, holder, executor, accept_residual)
        finally:
            catalogue.release_all(holder)


def _run_locked(batch: Path, config: Config, catalogue: Catalogue, now: datetime, camera: str | None,
                settings: AnonymiseSettings, workers: int, actor: str,
                on_ingest: Callable[[IngestOutcome], None] | None, on_done: Callable[[RunOutcome], None] | None,
                clip_progress: Callable[[Task, int], ProgressFn | None] | None, mode: str,
                holder: str, executor: Executor | None = None, accept_residual: bool = False) -> RunResult:
    ingested = ingest_batch(batch, config, catalogue, now, camera, actor, on_ingest, mode=mode, wait=True)
    result = RunResult(ingested)
    root = batch.resolve()
    prefix = str(root) if root.is_file() else str(root) + os.sep
    todo: dict[Task, ClipRecord] = {}
    # a file that failed ingest (changed since registered, say) is not anonymised under its old record
    failed = {os.path.realpath(o.path) for o in ingested.outcomes if o.status == FAILED}  # realpath: links may loop
    found = {c.id: c for c in catalogue.find(ClipFilter(state="raw", uri_prefix=prefix))}
    found.update((c.id, c) for c in catalogue.find(ClipFilter(state="raw", imported_from_prefix=prefix)))
    with catalogue.engine.connect() as conn:
        for raw in sorted(found.values(), key=lambda c: (c.start, c.id)):
            if raw.uri in failed or raw.imported_from in failed:
                continue
            if raw.restricted:  # a restriction request: no processing until it is lifted
                log.warning("%s: clip %s is restricted by a data-subject request; not anonymised", raw.uri, raw.id)
                result.restricted.append(raw.id)
                continue
            if catalogue.derived(conn, raw.id):
                result.already += 1
                continue
            dst = output_for(raw, batch, config)
            owners = [c for c in catalogue.by_uri(conn, str(dst.resolve())) if c.state != "deleted"]
            stale = [c for c in owners if c.state == "quarantined" and c.derived_from == raw.id]
            if stale:  # a quarantined try of this clip at the output path: this run replaces it
                supersede(catalogue, stale, actor, now)
                owners = [c for c in owners if c not in stale]
            if owners:
                err = OutputExistsError(
                    f"{raw.uri}: its output {dst} is already clip {owners[0].id} from another batch; fix: "
                    "rename the batch folder and run again")
                result.anonymised.append(RunOutcome(raw, dst, error=str(err), exit_code=err.exit_code))
                continue
            twin = next((t for t in todo if t.dst == dst), None)
            if twin is not None:  # never two outputs of one run at one path (the second would overwrite)
                err = OutputExistsError(f"{raw.uri}: its output {dst} is also the output of {twin.src}; fix: rename "
                                        "one of them and run again")
                result.anonymised.append(RunOutcome(raw, dst, error=str(err), exit_code=err.exit_code))
                continue
            private_dirs(dst.parent)
            todo[Task(Path(raw.uri), dst, config.anonymised_root, accept_residual=accept_residual)] = raw
    for o in result.anonymised:
        if on_done is not None:
            on_done(o)
    if not todo:
        return result

    def claim(task: Task) -> bool:
        """Lease the clip just before it starts (several runs share a batch, on one machine or several): a clip
        another run holds or has anonymised meanwhile is left to it, one deleted meanwhile (its deadline passed, an
        erasure) is let go; one a request or a purge is working on is an error (run again later)."""
        raw = todo[task]
        for _ in range(3):  # the holder may let go between our try and our look: look again, then try again
            refused = catalogue.lease([raw.id], holder, "run", states=("raw",))
            if not refused:
                break
            with catalogue.engine.connect() as conn:
                if catalogue.derived(conn, raw.id):  # another run finished it (and released it) meanwhile
                    result.already += 1
                    return False
            lease = catalogue.leases().get(raw.id)
            if lease is not None and lease.command == "run":
                result.elsewhere.append(raw.id)
                return False
            if catalogue.get(raw.id).state in ("deleting", "deleted"):  # a purge or an erasure meanwhile
                log.warning("%s: clip %s was deleted meanwhile; nothing to anonymise", raw.uri, raw.id)
                result.gone.append(raw.id)
                return False
            if lease is not None:  # a request or a purge is working on it
                break
        if refused:
            err = LockedError(f"{raw.uri}: {refused[raw.id]}; not anonymised now; fix: run again later")
            emit(RunOutcome(raw, task.dst, error=str(err), exit_code=EXIT_PARTIAL))
            return False
        with catalogue.engine.connect() as conn:
            if catalogue.derived(conn, raw.id):  # another run finished it between our plan and our lease
                catalogue.release([raw.id], holder)
                result.already += 1
                return False
        for p in remove_leftovers(task.dst):
            log.info("removed %s, left by an interrupted run", p)
        return True

    def emit(ro: RunOutcome) -> None:
        result.anonymised.append(ro)
        if on_done is not None:
            on_done(ro)

    def done(outcome: Outcome) -> None:
        raw = todo[outcome.task]
        ro = RunOutcome(raw, outcome.task.dst, outcome=outcome)
        if outcome.error:
            ro.error, ro.exit_code = outcome.error, outcome.exit_code or EXIT_ERROR
        elif outcome.report is not None and (getattr(outcome.report, "quarantined", False)
                                             or outcome.report.possible_leaks):
            # Written, but it may still show someone: catalogued as quarantined (the raw clip's deadline), where
            # the anonymiser put it (ClipReport.output: ARCHIVE/anonymised/quarantine/...).
            report = outcome.report
            written = Path(report.output) if getattr(report, "quarantined", False) else outcome.task.dst
            leaks = report.possible_leaks
            why = getattr(report, "quarantine_reason", "") or (
                f"{len(leaks)} possible leaks (first: frame {leaks[0]['frame']} {leaks[0]['kind']})" if leaks
                else "it failed the residual check")
            try:
                ro.copy = register_copy(catalogue, config, raw, written, outcome, actor, now, quarantined=True)
                ro.output = written
            except AnonymizerError as exc:
                ro.error, ro.exit_code = f"{written}: {exc}", exc.exit_code
            else:
                ro.error = (f"{written}: {why}; quarantined (catalogued, deleted with the raw clip), not recorded "
                            f"as anonymised; fix: look at the frames listed in {report_path_for(written)}, then hold "
                            "the raw clip, or run the batch again with --accept-residual if they are "
                            "false positives")
                ro.exit_code = EXIT_PARTIAL
        elif outcome.report is not None and outcome.report.residual.get("accepted_from_quarantine"):
            moved = outcome.report.residual["accepted_from_quarantine"]
            try:
                ro.copy = accept_quarantined(catalogue, config, raw, outcome.task.dst, outcome, actor, now,
                                             Path(moved["quarantined_at"]))
            except AnonymizerError as exc:
                ro.error, ro.exit_code = f"{outcome.task.dst}: {exc}", exc.exit_code
        else:
            try:
                ro.copy = register_copy(catalogue, config, raw, outcome.task.dst, outcome, actor, now)
            except AnonymizerError as exc:
                ro.error, ro.exit_code = f"{outcome.task.dst}: {exc}", exc.exit_code
        # A worker that died mid-clip (a killed Dask worker, say) left its temporary file; the clip was redone
        # elsewhere and renamed into place, or failed: either way the leftover is nobody's while we hold the lease.
        for p in remove_leftovers(outcome.task.dst):
            log.info("removed %s, left by a worker that died", p)
        catalogue.release([raw.id], holder)
        emit(ro)

    # Outputs not recorded in the catalogue are ours from an interrupted run: replace them.
    anonymise_batch(list(todo), settings, overwrite=True, workers=workers, on_done=done,
                    clip_progress=clip_progress, executor=executor, claim=claim,
                    slots=getattr(executor, "slots", 0))
    return result

