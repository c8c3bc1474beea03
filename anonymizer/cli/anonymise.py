"""``anonymizer anonymise INPUT... --out DIR``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from anonymizer.cli.lines import echo_line, quiet

from anonymizer.cli import progress as progress_bars
from anonymizer.cli.options import settings_from, settings_options
from anonymizer.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL
from anonymizer.pipelines.anonymise import ClipReport
from anonymizer.pipelines.batch import BatchResult, Outcome, Task, anonymise_batch, plan_tasks
from anonymizer.settings import AnonymiseSettings


def outcome_dict(o: Outcome) -> dict[str, Any]:
    d: dict[str, Any] = {"input": str(o.task.src), "output": str(o.task.dst), "ok": o.ok}
    if o.error:
        d["error"] = o.error
    if o.report:
        r = o.report
        d.update(status=r.status, frames=r.frames, fps=r.fps, detections=r.detections,
                 frames_carried_only=r.frames_carried_only, passes=r.passes, possible_leaks=r.possible_leaks,
                 redacted_share=r.redacted_share,
                 accepted_findings=r.residual.get("possible_leaks", []) if r.residual.get("accepted") else [],
                 report=r.output + ".report.json")
        if r.quarantined:
            d.update(quarantined=r.output, quarantine_reason=r.quarantine_reason)
    return d


def _wiped(r: ClipReport) -> str:
    """", wiped X % (worst Y %)": the share of the picture redacted (``ClipReport.redacted_share``)."""
    share = r.redacted_share
    if not share:
        return ""
    mean, worst = 100 * share["mean"], 100 * share["worst"]
    return f", wiped {mean:.1f} %" + (f" (worst {worst:.0f} %)" if r.frames > 1 else "")


def _count(detections: dict[str, int], kind: str) -> int:
    """Detections of one kind over its passes (coarse and full resolution)."""
    return sum(n for name, n in detections.items() if name.split("_")[0] == kind)


def exit_code(result: BatchResult) -> int:
    if not result.failed:
        return EXIT_OK
    return EXIT_PARTIAL if len(result.failed) < len(result.outcomes) else EXIT_ERROR


def run_and_render(tasks: list[Task], settings: AnonymiseSettings, overwrite: bool, workers: int, as_json: bool,
                   problems: list[Outcome] | None = None) -> int:
    """Run the batch, print one line per clip (errors and quarantines on stderr) or a JSON summary; ``problems``
    (what the plan could not take: unreadable folders, symlink loops) count as failed clips."""
    problems = problems or []
    for o in problems:
        echo_line(f"error: {o.error}", err=True)
    batch_bar = progress_bars.bar(len(tasks), "clips", position=0)
    clips = progress_bars.ClipProgress(len(tasks))

    def on_done(o: Outcome) -> None:
        if o.error:
            echo_line(f"error: {o.error}", err=True)
        elif o.report is not None:
            r = o.report
            if r.quarantined:
                echo_line(f"quarantined: {o.task.src} -> {r.output}: {r.quarantine_reason}; not published. Fix: look "
                           f"at the frames listed in {r.output}.report.json; if they show no face or plate (a false "
                           "positive), run this clip again with --accept-residual", err=True)
            if not as_json and not quiet():  # errors and quarantines above are said even when quiet
                done = f"photo, {r.elapsed_s} s" if r.photo else f"{r.frames} frames, {r.fps} fps"
                echo_line(f"{o.task.src} -> {r.output}: {done}, "
                           f"faces {_count(r.detections, 'face')}, plates {_count(r.detections, 'plate')}"
                           + _wiped(r)
                           + (f", residual findings closed in pass {r.passes}" if r.residual.get("closed") else "")
                           + (", residual findings ACCEPTED by the user" if r.residual.get("accepted") else "")
                           + (" (the quarantined copy published)" if r.residual.get("accepted_from_quarantine")
                              else "")
                           + (", QUARANTINED" if r.quarantined else ""))
        batch_bar.update(1)  # after the lines: printed with the bars cleared (progress_bars.above)

    result = (anonymise_batch(tasks, settings, overwrite=overwrite, workers=workers,
                              on_done=progress_bars.above(on_done),
                              clip_progress=lambda task, _i: clips.frames(task.src),
                              on_start=lambda task: clips.start(task.src)) if tasks else BatchResult())
    result.outcomes[:0] = problems
    clips.close()
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
@click.option("--accept-residual", is_flag=True,
              help="Publish even when the residual check still finds a face or plate after the second pass (you "
                   "looked at the frames listed in the quarantined report and they are false positives, e.g. a car "
                   "roof); the findings are recorded in the report as accepted. Meant for one clip at a time.")
@settings_options
def anonymise(inputs: tuple[Path, ...], out_dir: Path, overwrite: bool, workers: int, as_json: bool,
              accept_residual: bool, **kwargs: Any) -> None:
    """Anonymise videos and photos: blur every face and licence plate, keep resolution, frames and timestamps.

    INPUT may be files or folders (walked recursively for video files and .jpg/.jpeg/.png photos; a photo comes out
    a photo of the same name and format, upright, without EXIF or other metadata). Each output gets a JSON report
    beside it (OUTPUT.report.json: models and sha256, thresholds, detections, frames covered by carried boxes only,
    and a residual check that runs the detectors again on sample redacted frames). Anything the residual check finds is
    redacted and the clip processed again with every detector on every frame; an output that still fails goes to
    OUT/quarantine/ (same relative path, with its report), never to its final path. Audio and container metadata
    are dropped unless --keep-audio is given. A file that cannot be read gets a one-line error and the rest of the
    batch goes on; exit 3 when some clips failed or were quarantined, 1 when all did.
    """
    settings = AnonymiseSettings().with_(**settings_from(kwargs))
    problems: list[Outcome] = []
    tasks = plan_tasks(list(inputs), out_dir, problems)
    if accept_residual:
        tasks = [replace(t, accept_residual=True) for t in tasks]
    if not tasks and not problems:
        click.echo("error: no video files or photos found in " + ", ".join(map(str, inputs)), err=True)
        raise SystemExit(EXIT_ERROR)
    raise SystemExit(run_and_render(tasks, settings, overwrite, workers, as_json, problems))
