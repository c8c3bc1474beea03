"""Anonymise a batch: find the clips, map them to outputs, spread them over worker processes.

Tasks carry paths and settings only; each worker opens the models once (in its initializer) and opens its files
itself, so the same tasks can go to any ``concurrent.futures`` executor: the local process pool, or a Dask cluster
(``anonymizer.pipelines.cluster``).
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import threading
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from anonymizer.errors import EXIT_ERROR, AnonymizerError
from anonymizer.heap import return_large_buffers
from anonymizer.inference.detectors import LoadedDetector, load_detectors
from anonymizer.inference.manifest import installed, load_manifest
from anonymizer.media.photo import PHOTO_SUFFIXES, is_photo
from anonymizer.media.threads import set_codec_threads
from anonymizer.pipelines.anonymise import ClipReport, ProgressFn, anonymise_file
from anonymizer.pipelines.parent_death import exit_with_parent
from anonymizer.pipelines.photo import anonymise_photo
from anonymizer.settings import AnonymiseSettings

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp"}
)
KEEP_SUFFIXES = frozenset({".mp4", ".mov", ".mkv"})


@dataclass(frozen=True)
class Task:
    src: Path
    dst: Path
    out_root: Path | None = None  # the quarantine folder is OUT_ROOT/quarantine
    accept_residual: bool = False  # publish even if the residual check still finds something (recorded)


@dataclass
class Outcome:
    task: Task
    report: ClipReport | None = None
    error: str | None = None
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return (self.error is None and self.report is not None and not self.report.quarantined
                and not self.report.possible_leaks)


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def output_name(src: Path) -> str:
    """Same name; the container becomes .mp4 unless it already holds H.264 well (.mp4, .mov, .mkv). A photo keeps
    its name and format (``media.photo``)."""
    return src.name if src.suffix.lower() in KEEP_SUFFIXES | PHOTO_SUFFIXES else src.stem + ".mp4"


def unique_output_name(src: Path) -> str:
    """``output_name``, unless another video beside ``src`` would get the same name (x.avi and x.mp4 both give
    x.mp4): then the converted one keeps its whole name (x.avi.mp4). Depends only on the folder, not on order."""
    name = output_name(src)
    if name == src.name or not src.parent.is_dir():
        return name
    try:
        neighbours = list(src.parent.iterdir())
    except OSError:
        return name
    for other in neighbours:
        if other.name != src.name and other.suffix.lower() in VIDEO_SUFFIXES and output_name(other) == name:
            return src.name + Path(name).suffix
    return name


def unreadable_folder(exc: OSError, left_out: str) -> str:
    """The one line for a folder of a batch that cannot be listed (``os.walk``'s error): what was left out, and
    the fix."""
    return (f"{exc.filename}: cannot read this folder ({exc.strerror}); {left_out}; fix: give the user running "
            "anonymizer read and search permission on it (chmod u+rx), then run again")


def symlink_loop(path: Path) -> str | None:
    """The one line for a file that is a symlink loop, or None when its links resolve."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{path}: a symlink loop (it leads back to itself); fix: remove the link, or point it at the clip"
    return None


def _walk(folder: Path, on_error: Callable[[OSError], None]) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES | PHOTO_SUFFIXES:
                yield path


def plan_tasks(inputs: list[Path], out_dir: Path, problems: list[Outcome] | None = None) -> list[Task]:
    """Files given by name are taken whatever their suffix (a non-video gets its own error later); folders are
    walked recursively for video files and photos (.jpg, .jpeg, .png), and the output tree mirrors each folder. A
    folder that cannot be read or a symlink loop is not a task: it is appended to ``problems`` as a failed Outcome
    with its one-line error."""
    tasks: list[Task] = []
    problems = problems if problems is not None else []
    out_resolved = os.path.realpath(out_dir)
    for item in inputs:
        if item.is_dir():
            def unreadable(exc: OSError, item: Path = item) -> None:
                folder = Path(exc.filename or item)
                rel = folder.relative_to(item) if folder.is_relative_to(item) else Path(folder.name)
                problems.append(Outcome(Task(folder, out_dir / rel, out_dir), exit_code=EXIT_ERROR,
                                        error=unreadable_folder(exc, "its clips were not anonymised")))

            for path in _walk(item, unreadable):
                rel = path.relative_to(item)
                task = Task(path, out_dir / rel.parent / unique_output_name(path), out_dir)
                loop = symlink_loop(path)
                if loop:
                    problems.append(Outcome(task, error=loop, exit_code=EXIT_ERROR))
                    continue
                if Path(out_resolved) in Path(os.path.realpath(path)).parents:
                    continue  # never re-anonymise our own outputs
                tasks.append(task)
        else:
            tasks.append(Task(item, out_dir / unique_output_name(item), out_dir))
    return tasks


# One set of detectors per worker process, opened by the initializer (process pool) or the worker plugin (Dask,
# pipelines/cluster.py) and kept for the tasks that follow.
_WORKER: dict[str, object] = {}
_WORKER_LOCK = threading.Lock()


def _init_worker(settings: AnonymiseSettings, threads: int, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    use_thread_budget(threads)
    _WORKER["settings"] = settings
    worker_detectors(settings, threads)


def worker_detectors(settings: AnonymiseSettings, threads: int | None = None) -> dict[str, LoadedDetector]:
    """This worker process's detectors for ``settings``: opened on first use, then reused (a Dask worker runs
    tasks of several batches, maybe with other thresholds: a change of settings opens them again)."""
    with _WORKER_LOCK:
        if threads is not None:
            _WORKER["threads"] = threads
        key = (settings, _WORKER.get("threads", 0))
        if _WORKER.get("key") != key:
            _WORKER["detectors"] = open_detectors(settings, int(_WORKER.get("threads", 0)))  # type: ignore[call-overload]
            _WORKER["key"] = key
        return _WORKER["detectors"]  # type: ignore[return-value]


def use_thread_budget(threads: int) -> None:
    """This process's share of the batch's cores: from now on every decoder, encoder and frame scaler uses
    ``threads``, and so does OpenCV (redaction); the detectors get the same number of ONNX Runtime intra-op
    threads when they are opened."""
    import cv2

    set_codec_threads(threads)
    cv2.setNumThreads(threads)


def open_detectors(settings: AnonymiseSettings, threads: int = 0) -> dict[str, LoadedDetector]:
    return_large_buffers()  # the worker's heap setting, before the detectors' first allocations
    return load_detectors(
        settings.face_threshold, settings.plate_threshold, settings.face_max_side, settings.plate_max_side,
        threads=threads, device=settings.device, face_first_stage=settings.face_first_stage,
        plate_second=settings.plate_second, plate_fine=settings.plate_fine, face_fine=settings.face_fine,
    )


def run_task(
    task: Task,
    overwrite: bool,
    settings: AnonymiseSettings | None = None,
    detectors: dict[str, LoadedDetector] | None = None,
    progress: ProgressFn | None = None,
) -> Outcome:
    """Anonymise one clip (or photo: by its suffix); every user-level failure becomes an Outcome with a one-line
    error."""
    settings = settings or _WORKER["settings"]  # type: ignore[assignment]
    try:
        detectors = detectors or worker_detectors(settings)  # type: ignore[arg-type]
        if is_photo(task.src):
            report = anonymise_photo(
                task.src, task.dst, settings, detectors, overwrite=overwrite,  # type: ignore[arg-type]
                out_root=task.out_root, accept_residual=task.accept_residual, progress=progress).report
        else:
            report = anonymise_file(task.src, task.dst, settings, detectors, overwrite=overwrite, progress=progress,  # type: ignore[arg-type]
                                    out_root=task.out_root, accept_residual=task.accept_residual)
    except AnonymizerError as exc:
        return Outcome(task, error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - a bug in one clip must not end the batch (in-process or in a pool)
        log.debug("%s: unexpected error", task.src, exc_info=True)  # the traceback, at -vv
        return Outcome(task, error=unexpected_error(task.src, exc), exit_code=EXIT_ERROR)
    return Outcome(task, report=report)


def unexpected_error(src: Path, exc: BaseException) -> str:
    """The one line for a clip that failed on an error no check foresaw (a bug, not the user's mistake)."""
    return (f"{src}: unexpected error while anonymising it ({type(exc).__name__}: {exc}); it is not anonymised; "
            "fix: run it again, with -vv to see the traceback, and report it if it happens again")


def check_models() -> None:
    """Fail once, before any clip, when a model is missing or corrupt."""
    for spec in load_manifest().values():
        installed(spec)


def expected_frames(path: Path) -> int | None:
    """Frames the container declares (for progress bars); None when unknown or unreadable."""
    from anonymizer.media.probe import probe

    try:
        return probe(path).frames or None
    except AnonymizerError:
        return None


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow), else all cores."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers(n_tasks: int, cores: int | None = None) -> int:
    return max(1, min(n_tasks, cores or available_cores()))


def thread_budget(workers: int, cores: int) -> int:
    """Threads for each worker's decoder, encoder and ONNX Runtime session: the cores shared out so that
    workers x threads <= cores whenever workers <= cores (one thread each beyond that)."""
    return max(1, cores // max(1, workers))


def anonymise_batch(
    tasks: list[Task],
    settings: AnonymiseSettings,
    overwrite: bool = False,
    workers: int = 0,
    executor: Executor | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    clip_progress: Callable[[Task, int], ProgressFn | None] | None = None,
    claim: Callable[[Task], bool] | None = None,
    slots: int = 0,
    on_start: Callable[[Task], None] | None = None,
) -> BatchResult:
    """Run the tasks; with one worker in this process (per-clip progress), otherwise over a process pool (or
    ``executor``). With ``claim``, each task is claimed just before it starts and skipped when the claim fails
    (another process took it): at most ``slots`` (default: the workers) tasks are in flight, so several
    processes working on one batch share it. ``on_start(task)`` hears each clip as it starts (with a pool: as it
    goes to a free worker); ``clip_progress(task, i)`` gives a clip's frame progress (in this process only)."""
    result = BatchResult()
    check_models()
    cores = available_cores()
    workers = workers or default_workers(len(tasks), cores)
    threads = thread_budget(workers, cores)
    if workers > cores:
        log.warning("%d workers on %d cores: the machine is oversubscribed (one thread each)", workers, cores)
    log.info("batch: %d clip(s), %d worker(s) x %d thread(s) on %d core(s)", len(tasks), workers, threads, cores)
    if executor is None and workers == 1:
        use_thread_budget(threads)
        detectors = open_detectors(settings, threads=threads)
        for task in tasks:
            if claim is not None and not claim(task):
                continue
            if on_start:
                on_start(task)
            progress = clip_progress(task, len(result.outcomes)) if clip_progress else None
            outcome = run_task(task, overwrite, settings, detectors, progress)
            result.outcomes.append(outcome)
            if on_done:
                on_done(outcome)
        return result
    own = executor is None
    if executor is None:
        executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(settings, threads, os.getpid()),
        )
    try:
        pending = iter(tasks)
        futures: dict[Future[Outcome], Task] = {}

        def submit_next() -> bool:
            for task in pending:
                if claim is None or claim(task):
                    # settings travel with each task: a Dask worker has no initializer (its plugin loaded them)
                    try:
                        future = executor.submit(run_task, task, overwrite, settings if not own else None)
                    except BrokenExecutor as exc:  # a worker died and the pool takes no more: the clip fails
                        future = Future()
                        future.set_exception(exc)
                    else:
                        if on_start:
                            on_start(task)
                    futures[future] = task
                    return True
            return False

        # Our own pool gets a clip as a worker frees up, so a clip is handed over when it starts (``on_start``).
        window = len(tasks) if claim is None and not own else max(1, slots or workers)
        while len(futures) < window and submit_next():
            pass
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                task = futures.pop(future)
                result.outcomes.append(_outcome(future, task))
                if on_done:
                    on_done(result.outcomes[-1])
                submit_next()
    finally:
        if own:
            executor.shutdown()
    order = {t: i for i, t in enumerate(tasks)}
    result.outcomes.sort(key=lambda o: order[o.task])
    return result


def _outcome(future: Future[Outcome], task: Task) -> Outcome:
    try:
        return future.result()
    except AnonymizerError as exc:  # raised in a worker's initializer (e.g. models missing)
        return Outcome(task, error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the worker died (BrokenProcessPool, Dask's KilledWorker)
        return Outcome(task, error=f"{task.src}: the worker processing it died ({type(exc).__name__}: {exc}); "
                       "fix: run again", exit_code=EXIT_ERROR)
