"""``anonymizer anonymise INPUT... --out DIR``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from anonymizer.cli import progress as progress_bars
from anonymizer.cli.options import settings_from, settings_options
from anonymizer.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL
from anonymizer.pipelines.batch import BatchResult, Outcome, Task, anonymise_batch, expected_frames, plan_tasks
from anonymizer.settings import AnonymiseSettings


def outcome_dict(o: Outcome) -> dict[str, Any]:
    d: dict[str, Any] = {"input": str(o.task.src), "output": str(o.task.dst), "ok": o.ok}
    if o.error:
        d["error"] = o.error
    if o.report:
        r = o.report
        d.update(frames=r.frames, fps=r.fps, detections=r.detections, frames_carried_only=r.frames_carried_only,
                 possible_leaks=r.possible_leaks, report=str(o.task.dst) + ".report.json")
    return d


def exit_code(result: BatchResult) -> int:
    if not result.failed:
        return EXIT_OK
    return EXIT_PARTIAL if len(result.failed) < len(result.outcomes) else EXIT_ERROR


def run_and_render(tasks: list[Task], settings: AnonymiseSettings, overwrite: bool, workers: int, as_json: bool) -> int:
    batch_bar = progress_bars.bar(len(tasks), "clips", position=0)

    def on_done(o: Outcome) -> None:
        batch_bar.update(1)
        if o.error:
            click.echo(f"error: {o.error}", err=True)
        elif o.report is not None:
            for leak in o.report.possible_leaks:
                click.echo(f"possible leak: {o.task.dst}: frame {leak['frame']} {leak['kind']} at "
                           f"{leak['box']} (score {leak['score']})", err=True)
            if not as_json:
                r = o.report
                click.echo(f"{o.task.src} -> {o.task.dst}: {r.frames} frames, {r.fps} fps, "
                           f"faces {r.detections.get('face', 0)}, plates {r.detections.get('plate', 0)}"
                           + ("" if r.residual.get("passed", True) else ", POSSIBLE LEAK"))

    open_bars: list[Any] = []

    def clip_progress(task: Task, _i: int) -> Any:
        for b in open_bars:
            b.close()
        open_bars.clear()
        if not progress_bars.enabled():
            return None
        b = progress_bars.bar(expected_frames(task.src), task.src.name, position=1, leave=False)
        open_bars.append(b)
        return b.update

    result = anonymise_batch(tasks, settings, overwrite=overwrite, workers=workers, on_done=on_done,
                             clip_progress=clip_progress)
    for b in open_bars:
        b.close()
    batch_bar.close()
    if as_json:
        click.echo(json.dumps({"clips": [outcome_dict(o) for o in result.outcomes],
                               "failed": len(result.failed), "total": len(result.outcomes)}, indent=2))
    elif result.failed:
        click.echo(f"{len(result.failed)} of {len(result.outcomes)} clips failed", err=True)
    return exit_code(result)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; the tree under each input folder is mirrored here.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist (default: refuse).")
@click.option("-j", "--workers", type=click.IntRange(0, 256), default=0,
              help="Worker processes (0: one per CPU core, at most one per clip); each worker's decoder, encoder and "
                   "detectors get cores / workers threads (at least 1).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@settings_options
def anonymise(inputs: tuple[Path, ...], out_dir: Path, overwrite: bool, workers: int, as_json: bool, **kwargs: Any) -> None:
    """Anonymise videos: blur every face and licence plate, keep resolution, frames and timestamps.

    INPUT may be files or folders (walked recursively for video files). Each output gets a JSON report beside it
    (OUTPUT.report.json: models and sha256, thresholds, detections, frames covered by carried boxes only, and a
    residual check that runs the detectors again on sample output frames). Audio and container metadata are
    dropped unless --keep-audio is given. A file that cannot be read gets a one-line error and the rest of the
    batch goes on; exit 3 when some clips failed (or may leak), 1 when all did.
    """
    settings = AnonymiseSettings().with_(**settings_from(kwargs))
    tasks = plan_tasks(list(inputs), out_dir)
    if not tasks:
        click.echo("error: no video files found in " + ", ".join(map(str, inputs)), err=True)
        raise SystemExit(EXIT_ERROR)
    raise SystemExit(run_and_render(tasks, settings, overwrite, workers, as_json))
