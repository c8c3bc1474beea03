"""``anonymizer requests new|list|find|review|apply|export|report|close``: data-subject requests for the DPO."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from anonymizer.cli.config import actor, config_option
from anonymizer.cli.lines import echo_line
from anonymizer.cli.timeopt import WALL_TIME, tz_option
from anonymizer.config import load_config
from anonymizer.domain.requests import DEFAULT_TOLERANCE_S, DEFAULT_UNCERTAIN_TOLERANCE_S, KINDS, Tolerance
from anonymizer.errors import EXIT_ERROR, EXIT_PARTIAL
from anonymizer.pipelines import requests as pipeline
from anonymizer.store.catalogue import Catalogue

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _dump(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def _request_line(r: dict[str, Any]) -> str:
    left = r["days_left"]
    when = f"{-left} days overdue" if left < 0 else f"{left} days left"
    if r["status"] != "open":
        when = r["status"]
    counts = f"  segments {r['segments']} (selected {r['selected']}, unhandled {r['unhandled']})" \
        if "segments" in r and isinstance(r["segments"], int) else ""
    window = f"{r['window_start']} .. {r['window_end']}"
    if r.get("timezone"):
        window = f"{r['window_local'][0]} .. {r['window_local'][1]} (UTC {window})"
    return (f"{r['id']}  {r['kind']:<11} received {r['received_local'][:10]}  due {r['due_local'][:10]}  {when}  "
            f"{window} at {r['place']}{counts}")


def _segments_text(info: dict[str, Any]) -> None:
    click.echo(_request_line(info))
    if not info["segments"]:
        click.echo("  no matching recordings")
    for s in info["segments"]:
        c = s.get("clip") or {}
        flags = [f for f in ("restricted" if c.get("restricted") else "",
                             f"{s['action']} done" if s.get("handled_at") else "",
                             "selected" if s["selected"] and not s.get("handled_at") else "") if f]
        click.echo(f"  {s['id']}  clip {c.get('id')} ({c.get('state')}) camera {c.get('camera')}  "
                   f"+{s['start_offset_s']:.2f}s .. +{s['end_offset_s']:.2f}s  {s['start_local']} .. {s['end_local']}"
                   f" (UTC {s['start_utc']} .. {s['end_utc']})"
                   f"{'  [' + ', '.join(flags) + ']' if flags else ''}\n      {s['explanation']}")
    for a in info.get("artefacts", []):
        click.echo(f"  {a['kind']} of request {a['request']} shows clip(s) {', '.join(a['clips'])}: {a['path']}"
                   f" (deleted {'after ' + a['purge_after'] if a['purge_after'] else 'after the request is closed'})")


def _ids(segments: str | None, selection: Path | None, request_id: str) -> list[str] | None:
    ids: list[str] = []
    if segments:
        ids += [s.strip() for s in segments.split(",") if s.strip()]
    if selection:
        ids += pipeline.read_selection(selection, request_id)
    return ids or None


segments_option = click.option("--segments", help="Segment ids, comma-separated (see 'requests find').")
selection_option = click.option("--selection", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                                help="A selection file downloaded from the review page.")


@click.group("requests")
def requests_group() -> None:
    """Data-subject requests: find recordings by time and place, review, erase, amend, restrict, export, report."""


@requests_group.command("new")
@config_option
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the data subject asks for.")
@click.option("--received", type=WALL_TIME, required=True,
              help="When the request arrived (due one calendar month later, in the site's calendar).")
@click.option("--from", "start", type=WALL_TIME, required=True,
              help="Start of the time the requester gave (ISO 8601; without an offset: in --tz or the site's zone).")
@click.option("--to", "end", type=WALL_TIME, required=True, help="End of the time the requester gave (same rules).")
@tz_option
@click.option("--place", required=True, help="Site or camera (id or name), or a point 'lat,lon' (or 'lat,lon,radius_m').")
@click.option("--radius", type=click.FloatRange(0), help="Radius in metres around a 'lat,lon' point [default: 100].")
@click.option("--description", default="", help="What the requester wrote (how to recognise them, ...).")
@click.option("--tolerance", type=click.FloatRange(0), default=DEFAULT_TOLERANCE_S, show_default=True,
              help="Seconds the window is widened by for clips with a trusted recording time.")
@click.option("--uncertain-tolerance", type=click.FloatRange(0), default=DEFAULT_UNCERTAIN_TOLERANCE_S,
              show_default=True, help="Seconds the window is widened by for clips whose recording time is uncertain.")
@json_option
def new(config_path: Path, kind: str, received: datetime, start: datetime, end: datetime, tz: str | None,
        place: str, radius: float | None, description: str, tolerance: float, uncertain_tolerance: float,
        as_json: bool) -> None:
    """Record a new request (audited); the due date is one calendar month after receipt.

    Times may be given in the site's local time: without an offset they are read in --tz, or in the zone of the
    place's site; when the place spans sites in several zones, such times are refused (give an offset or --tz).
    Near a DST change, --from takes the earliest instant a wall time can mean and --to the latest."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        r = pipeline.new_request(cat, cfg, kind=kind, received=received, start=start, end=end, place=place,
                                 radius_m=radius, description=description, now=_now(), actor=actor(),
                                 tolerance=Tolerance(tolerance, max(tolerance, uncertain_tolerance)), tz=tz)
    for warning in r["warnings"]:
        echo_line(f"warning: {warning}", err=True)
    _dump(r) if as_json else click.echo(_request_line(r))


@requests_group.command("list")
@config_option
@click.option("--all", "include_all", is_flag=True, help="Closed requests too.")
@json_option
def list_(config_path: Path, include_all: bool, as_json: bool) -> None:
    """Open requests with the days left, overdue ones first."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        rows = pipeline.list_requests(cat, _now(), include_all, cfg)
    if as_json:
        _dump(rows)
        return
    if not rows:
        click.echo("no open requests")
    for r in rows:
        click.echo(_request_line(r))


@requests_group.command("find")
@config_option
@click.argument("request_id")
@json_option
def find(config_path: Path, request_id: str, as_json: bool) -> None:
    """Match the request's time and place against the catalogue: segments with offsets and why each matched."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        info = pipeline.find(cat, cfg, request_id, now=_now(), actor=actor())
    _dump(info) if as_json else _segments_text(info)


@requests_group.command("show")
@config_option
@click.argument("request_id")
@json_option
def show(config_path: Path, request_id: str, as_json: bool) -> None:
    """The request and its segments as stored (no new search)."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        info = pipeline.show(cat, request_id, _now(), cfg)
    _dump(info) if as_json else _segments_text(info)


@requests_group.command("review")
@config_option
@click.argument("request_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the page [default: ARCHIVE/requests/ID/review.html].")
@click.option("--every", type=click.FloatRange(min=0.01), default=pipeline.THUMB_EVERY_S, show_default=True,
              help="Seconds between thumbnails.")
@click.option("--tracks/--no-tracks", "tracks", default=None,
              help="Detect the faces in each recording and offer them to tick the requester, for an access copy "
                   "that keeps only them [default: on for access requests].")
@json_option
def review(config_path: Path, request_id: str, out: Path | None, every: float, tracks: bool | None,
           as_json: bool) -> None:
    """Write a self-contained HTML page to tick the recordings (and, for access, the face) that show the requester.

    One row per recording (a raw clip and its copies are ticked together), select-all, thumbnails every --every
    seconds (at most 48 per recording, 12 shown at first: "N more" shows the next), larger thumbnails on demand;
    every control works from the keyboard. The page downloads a selection file for 'requests apply' or 'requests
    export'. Face tracks are found by position inside one clip only: nothing is recognised or linked across clips."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        r = pipeline.review(cat, cfg, request_id, now=_now(), actor=actor(), out=out, every_s=every, tracks=tracks)
    if as_json:
        _dump(r)
    else:
        faces = f", {r['face_tracks']} face tracks" if r["tracks"] else ""
        echo_line(f"{r['page']}: {r['recordings']} recordings, {r['segments']} segments, "
                  f"{r['thumbnails']} thumbnails{faces}")


@requests_group.command("apply")
@config_option
@click.argument("request_id")
@segments_option
@selection_option
@click.option("--action", type=click.Choice(pipeline.ACTIONS),
              help="remove (the clip and its copies), redact (whole frames), cut (the segment out), restrict, "
                   "lift (a restriction) [default by kind: erasure remove, objection redact, restriction restrict].")
@click.option("--method", type=click.Choice(pipeline.AMEND_METHODS), default="solid", show_default=True,
              help="How redact destroys the frames.")
@click.option("--include-originals", is_flag=True,
              help="remove: also delete the originals outside the archive that the clips were imported from (also "
                   "after the removal: it deletes the originals a removal left).")
@click.option("-n", "--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--list", "as_list", is_flag=True, help="A line per segment (the default text output).")
@json_option
def apply(config_path: Path, request_id: str, segments: str | None, selection: Path | None, action: str | None,
          method: str, include_originals: bool, dry_run: bool, as_list: bool, as_json: bool) -> None:
    """Remove, amend (redact or cut), restrict or lift the selected segments. Audited; files replaced atomically.

    Refused (one line each, exit 3 or 1) for a clip under an active hold, a restricted clip (amend), or a clip
    another command is working on. A removal names the originals left outside the archive (the batch files a
    clip was imported from); --include-originals deletes them too, with the removal or after it. Killed at any point, the next apply finishes
    or undoes what was under way."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        r = pipeline.apply(cat, cfg, request_id, now=_now(), actor=actor(),
                           segment_ids=_ids(segments, selection, request_id), action=action, method=method,
                           dry_run=dry_run, include_originals=include_originals)
    if as_json:
        _dump(r)
    else:
        verb = "would " + r["action"] if dry_run else r["action"]
        for it in r["segments"]:
            outcome = it.get("outcome", "")
            for orig in (outcome.get("originals_outside", []) if isinstance(outcome, dict) else []):
                click.echo(f"warning: the original {orig} outside the archive still shows the recording; delete it "
                           f"with 'anonymizer requests apply {r['request']} --segments {it['segment']} "
                           "--include-originals'", err=True)
            click.echo(f"{it['segment']}  clip {it['clip']}  {verb}  "
                       f"+{it['offsets'][0]:.2f}s .. +{it['offsets'][1]:.2f}s  "
                       f"{json.dumps(outcome, default=str) if outcome else ''}")
    for f in r["failed"]:
        echo_line(f"{f['segment']}: {f['error']}", err=True)
    if r["failed"]:
        raise SystemExit(EXIT_PARTIAL if len(r["failed"]) < len(r["segments"]) else EXIT_ERROR)


@requests_group.command("export")
@config_option
@click.argument("request_id")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="A new folder, or a file ending in .zip.")
@segments_option
@selection_option
@click.option("--redact-others/--no-redact-others", "redact_others", default=None,
              help="Redact every face and plate except the requester's chosen face(s) [default: on for access "
                   "requests]. Without a chosen face, everyone is redacted.")
@click.option("--keep", "keep_text", multiple=True, metavar="SEGMENT:FACE[,FACE]",
              help="The face track(s) of the review page that show the requester, kept unredacted (repeatable; the "
                   "selection file's ticked faces count too); the segment is exported, --segments or not.")
@json_option
def export(config_path: Path, request_id: str, out: Path, segments: str | None, selection: Path | None,
           redact_others: bool | None, keep_text: tuple[str, ...], as_json: bool) -> None:
    """Package the selected segments for an access request: video files (a photo as a photo), manifest.json,
    summary.txt.

    For an access request each recording becomes one file with every other person's face and every plate redacted
    (GDPR art. 15(4)); the face(s) ticked on the review page (or given with --keep) stay as recorded. The copy is
    verified (frames, timestamps, residual detection) and what was kept is recorded in the manifest, the audit
    log and the request's report."""
    cfg = load_config(config_path)
    keep: dict[str, list[int]] = {}
    ids = _ids(segments, None, request_id) or []
    if selection:
        chosen, tracks = pipeline.read_selection_file(selection, request_id)
        ids += chosen
        keep.update(tracks)
    for item in keep_text:
        seg, _, faces = item.partition(":")
        try:
            keep.setdefault(seg.strip(), []).extend(int(f) for f in faces.split(",") if f.strip())
        except ValueError:
            raise click.BadParameter(f"{item!r}: expected SEGMENT:FACE[,FACE] (e.g. s0123456789:2)",
                                     param_hint="--keep") from None
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        r = pipeline.export(cat, cfg, request_id, out, now=_now(), actor=actor(), segment_ids=ids or None,
                            redact_others=redact_others, keep=keep)
    if as_json:
        _dump(r)
    else:
        echo_line(f"{r['out']}: {len(r['segments'])} segments")
        for it in r["segments"]:
            echo_line(f"  {it['file']}  {it['frames']} frames  {it['start_local']} .. {it['end_local']}  "
                      f"{it['redaction_text']}")


@requests_group.command("report")
@config_option
@click.argument("request_id")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.json and report.html [default: ARCHIVE/requests/ID].")
@json_option
def report(config_path: Path, request_id: str, out_dir: Path | None, as_json: bool) -> None:
    """What was asked, found and done, when and by whom: report.json and report.html (audited)."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        r = pipeline.report(cat, cfg, request_id, now=_now(), actor=actor(), out_dir=out_dir)
    _dump(r) if as_json else click.echo(f"{r['html']}\n{r['json']}")


@requests_group.command("close")
@config_option
@click.argument("request_id")
@click.option("--note", default="", help="A closing note (written to the audit log).")
@json_option
def close(config_path: Path, request_id: str, note: str, as_json: bool) -> None:
    """Close a request (refused while selected segments remain unhandled) and write its final report (report.json
    and report.html in ARCHIVE/requests/ID, replacing one written while it was open)."""
    cfg = load_config(config_path)
    with Catalogue.open(cfg.catalogue_url, archive=cfg.archive) as cat:
        r = pipeline.close(cat, cfg, request_id, now=_now(), actor=actor(), note=note,
                           artefact_days=cfg.artefact_days)
    if not as_json:
        for orig in r["originals_outside"]:
            click.echo(f"warning: the original {orig} outside the archive still shows the recording erased for this "
                       "request (the report names it); delete it by hand", err=True)
    _dump(r) if as_json else click.echo(f"{_request_line(r)}\n{r['report']['html']}\n{r['report']['json']}")
