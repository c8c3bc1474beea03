"""Data-subject requests (DPO workflow): new, list, find, review, apply, export, report, close.

The matching is the pure ``anonymizer.domain.requests.match``; this module narrows the catalogue by time and place
in SQL first (index on start, bounded below by the longest clip), then runs the matcher, stores the segments, and
carries out what the DPO selected: remove a clip with every copy derived from it, amend it (redact whole frames
over the segment, or cut the segment out; the file is replaced atomically and its sha256, size, frames and state
updated), restrict it (a flag that other commands honour; retention deletion still happens), or export segments
for an access request. Every step writes an audit event (object ``request:ID``) in the transaction of its change.
"""

from __future__ import annotations

import html
import json
import logging
import os
import secrets
import shutil
import zipfile
from base64 import b64encode
from datetime import datetime, timedelta, timezone
from hashlib import sha256
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from sqlalchemy import select, update

from anonymizer.config import Config
from anonymizer.domain.holds import HoldIndex
from anonymizer.domain.requests import (
    KINDS,
    MATCHED_STATES,
    CameraInfo,
    ClipSpan,
    Place,
    PlaceIndex,
    RequestRuleError,
    SiteInfo,
    Tolerance,
    Window,
    candidate_sites,
    days_left,
    due_date,
    frames_in,
    match,
    parse_place,
)
from anonymizer.errors import AnonymizerError, ConfigError
from anonymizer.imaging.redact import redact_yuv420
from anonymizer.domain.regions import Regions
from anonymizer.media.probe import probe
from anonymizer.media.reader import Frame, read_timestamps
from anonymizer.media.segments import rewrite, thumbnails
from anonymizer.pipelines.ingest import sha256_of
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.holds import all_holds, hold_info
from anonymizer.store.requests import as_plain, get_request, longest_clip_s, request_segments, requests, segments
from anonymizer.store.schema import clips

log = logging.getLogger(__name__)
UTC = timezone.utc

ACTIONS = ("remove", "redact", "cut", "restrict", "lift")
AMEND_METHODS = ("solid", "blur")
DEFAULT_ACTION = {"erasure": "remove", "objection": "redact", "restriction": "restrict"}
THUMB_EVERY_S = 2.0
THUMBS_MAX = 30  # per segment; spread evenly over a longer one
FILE_MODE = 0o600
DIR_MODE = 0o700


class RequestError(AnonymizerError):
    """A request cannot be found, changed or closed as asked."""


# ------------------------------------------------------------------ helpers

def place_index(config: Config) -> PlaceIndex:
    return PlaceIndex(
        {s.id: SiteInfo(s.id, s.name, s.lat, s.lon, s.radius_m) for s in config.sites.values()},
        {c.id: CameraInfo(c.id, c.site) for c in config.cameras.values()},
    )


def _obj(request_id: str) -> str:
    return f"request:{request_id}"


def _segment_id(request_id: str, clip_id: str) -> str:
    return "s" + sha256(f"{request_id}/{clip_id}".encode()).hexdigest()[:10]


def _load(conn: Any, request_id: str) -> Any:
    row = get_request(conn, request_id)
    if row is None:
        raise RequestError(f"no request {request_id!r} (list them with 'anonymizer requests list --all')")
    return row


def _place(row: Any) -> Place:
    return Place(row.place_kind, row.place_id, row.lat, row.lon, row.radius_m)


def _private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (a temporary sibling renamed into place)."""
    missing = [d for d in [path.parent, *path.parent.parents] if not d.exists()]
    for d in reversed(missing):  # every folder created here is private, not only the last one
        d.mkdir(mode=DIR_MODE, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def request_dir(config: Config, request_id: str) -> Path:
    return config.archive / "requests" / request_id


def describe(row: Any, now: datetime) -> dict[str, Any]:
    d = as_plain(row)
    d["days_left"] = days_left(row.due_at, now)
    d["overdue"] = row.status == "open" and d["days_left"] < 0
    d["place"] = _place(row).text()
    return d


# ------------------------------------------------------------------ new, list, show, close

def new_request(cat: Catalogue, config: Config, *, kind: str, received: datetime, start: datetime, end: datetime,
                place: str, now: datetime, actor: str, radius_m: float | None = None, description: str = "",
                tolerance: Tolerance = Tolerance()) -> dict[str, Any]:
    if kind not in KINDS:
        raise ConfigError(f"request kind {kind!r}: expected one of {', '.join(KINDS)}")
    try:
        window = Window(start, end)
        where = parse_place(place, place_index(config), radius_m)
        due = due_date(received)
    except RequestRuleError as exc:
        raise ConfigError(f"request: {exc}") from exc
    if received > now:
        raise ConfigError(f"request: received {received.isoformat()} is in the future")
    rid = "r" + secrets.token_hex(4)
    with cat.transaction() as conn:
        conn.execute(requests.insert().values(
            id=rid, kind=kind, status="open", received_at=received, due_at=due, window_start=window.start,
            window_end=window.end, place_text=place.strip(), place_kind=where.kind, place_id=where.id, lat=where.lat,
            lon=where.lon, radius_m=where.radius_m, tolerance_s=tolerance.certain_s,
            uncertain_tolerance_s=tolerance.uncertain_s, description=description.strip(), created_at=now,
            created_by=actor,
        ))
        row = _load(conn, rid)
        cat.audit_append(conn, now, actor, "request.new", _obj(rid), as_plain(row))
    return describe(row, now)


def list_requests(cat: Catalogue, now: datetime, include_closed: bool = False) -> list[dict[str, Any]]:
    """Open requests (all with ``include_closed``), overdue first, then by due date."""
    q = select(requests)
    if not include_closed:
        q = q.where(requests.c.status == "open")
    with cat.engine.connect() as conn:
        rows = [describe(r, now) for r in conn.execute(q)]
        for d in rows:
            segs = request_segments(conn, d["id"])
            d["segments"] = len(segs)
            d["selected"] = sum(1 for s in segs if s.selected)
            d["unhandled"] = sum(1 for s in segs if s.selected and s.handled_at is None)
    rows.sort(key=lambda d: (not d["overdue"], d["status"] != "open", d["due_at"], d["id"]))
    return rows


def show(cat: Catalogue, request_id: str, now: datetime) -> dict[str, Any]:
    with cat.engine.connect() as conn:
        row = _load(conn, request_id)
        out = describe(row, now)
        out["segments"] = [_segment_view(conn, s) for s in request_segments(conn, request_id)]
    return out


def _segment_view(conn: Any, s: Any) -> dict[str, Any]:
    d = as_plain(s)
    d["explanation"] = s.explanation
    d["outcome"] = json.loads(s.outcome) if s.outcome else None
    c = conn.execute(select(clips).where(clips.c.id == s.clip_id)).first()
    if c is not None:
        d["clip"] = {"id": c.id, "uri": c.uri, "camera": c.camera_id, "site": c.site_id, "state": c.state,
                     "sha256": c.sha256, "restricted": bool(c.restricted), "derived_from": c.derived_from,
                     "start_utc": c.start_utc.isoformat(), "time_source": c.time_source,
                     "time_uncertain": bool(c.time_uncertain)}
    return d


def close(cat: Catalogue, request_id: str, *, now: datetime, actor: str, note: str = "") -> dict[str, Any]:
    """Close a request; refused while a selected segment is still unhandled."""
    with cat.transaction() as conn:
        row = _load(conn, request_id)
        if row.status != "open":
            raise RequestError(f"request {request_id} is already {row.status}")
        pending = [s.id for s in request_segments(conn, request_id) if s.selected and s.handled_at is None]
        if pending:
            raise RequestError(f"request {request_id}: {len(pending)} selected segments are not handled yet "
                               f"({', '.join(pending)}); apply or export them first")
        conn.execute(update(requests).where(requests.c.id == request_id).values(
            status="closed", closed_at=now, closed_by=actor, close_note=note.strip() or None))
        row = _load(conn, request_id)
        cat.audit_append(conn, now, actor, "request.close", _obj(request_id), as_plain(row))
    return describe(row, now)


# ------------------------------------------------------------------ find

def candidates(conn: Any, window: Window, place: Place, index: PlaceIndex, tolerance: Tolerance) -> list[ClipSpan]:
    """Clips that may match, narrowed in SQL: recording start within [from - tol - longest clip, to + tol] (the
    start index), state, and the place's site or camera."""
    widest = timedelta(seconds=tolerance.widest)
    lo = window.start - widest - timedelta(seconds=longest_clip_s(conn))
    hi = window.end + widest
    # Only the time range goes to an index (ix_clips_start_utc); a condition on state would make SQLite pick
    # ix_clips_state instead (most clips share a state) and scan the catalogue. The matcher drops deleted clips.
    cond = [clips.c.start_utc >= lo, clips.c.start_utc <= hi]
    if place.kind == "camera":
        cond.append(clips.c.camera_id == place.id)
    else:
        sites = candidate_sites(place, index)
        if sites is not None:
            if not sites:
                return []
            cond.append(clips.c.site_id.in_(list(sites)))
    q = select(clips.c.id, clips.c.camera_id, clips.c.site_id, clips.c.start_utc, clips.c.end_utc,
               clips.c.time_source, clips.c.time_uncertain, clips.c.state).where(*cond)
    return [ClipSpan(r.id, r.camera_id, r.site_id, r.start_utc, r.end_utc, r.time_source, bool(r.time_uncertain),
                     r.state) for r in conn.execute(q)]


def find(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str) -> dict[str, Any]:
    """Match the request against the catalogue and store the segments (handled ones are kept as they are)."""
    index = place_index(config)
    with cat.transaction() as conn:
        row = _load(conn, request_id)
        window = Window(row.window_start, row.window_end)
        tol = Tolerance(row.tolerance_s, row.uncertain_tolerance_s)
        place = _place(row)
        found = match(window, place, candidates(conn, window, place, index, tol), index, tol)
        if row.status != "open":
            raise RequestError(f"request {request_id} is {row.status}")
        existing = {s.id: s for s in request_segments(conn, request_id)}
        keep = set()
        for seg in found:
            sid = _segment_id(request_id, seg.clip_id)
            keep.add(sid)
            values = dict(start_offset_s=seg.start_offset_s, end_offset_s=seg.end_offset_s, start_utc=seg.start,
                          end_utc=seg.end, tolerance_s=seg.tolerance_s, explanation=seg.explanation, found_at=now)
            old = existing.get(sid)
            if old is None:
                conn.execute(segments.insert().values(id=sid, request_id=request_id, clip_id=seg.clip_id,
                                                      selected=False, **values))
            elif old.handled_at is None:
                conn.execute(update(segments).where(segments.c.id == sid).values(**values))
        gone = [s.id for s in existing.values() if s.id not in keep and s.handled_at is None and not s.selected]
        if gone:
            conn.execute(segments.delete().where(segments.c.id.in_(gone)))
        cat.audit_append(conn, now, actor, "request.find", _obj(request_id), {
            "window": [window.start.isoformat(), window.end.isoformat()], "place": place.text(),
            "tolerance_s": [tol.certain_s, tol.uncertain_s],
            "segments": [{"segment": _segment_id(request_id, s.clip_id), "clip": s.clip_id,
                          "offsets": [round(s.start_offset_s, 6), round(s.end_offset_s, 6)]} for s in found],
        })
    return show(cat, request_id, now)


# ------------------------------------------------------------------ review (HTML)

def _thumb_times(a: float, b: float, every_s: float) -> list[float]:
    n = int((b - a) // every_s) + 1
    if n > THUMBS_MAX:
        step = (b - a) / (THUMBS_MAX - 1)
        return [a + i * step for i in range(THUMBS_MAX)]
    times = [a + i * every_s for i in range(n)]
    if b - times[-1] > every_s / 2:
        times.append(b)
    return times


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>Request {rid}: review</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
.segment {{ border: 1px solid #aaa; padding: .6em; margin: 1em 0; }}
.thumbs {{ display: flex; flex-wrap: wrap; gap: .4em; }}
figure {{ margin: 0; font-size: 80%; text-align: center; }}
.why {{ color: #444; font-size: 85%; }}
.done {{ background: #eef7ee; }}
pre {{ background: #f4f4f4; padding: .5em; }}
</style></head><body>
<h1>Request {rid} ({kind}): review</h1>
<p>Received {received}, due {due}. Window {wstart} .. {wend} (UTC), place: {place}.</p>
<p>{description}</p>
<p>Tick the segments in which the requester appears, then <button id="download" type="button">download the
selection</button> and give it to <code>anonymizer requests apply {rid} --selection FILE</code> (or pass the segment
ids with <code>--segments</code>).</p>
<pre id="selection"></pre>
{segments}
<script>
(function () {{
  var rid = {rid_json};
  function selection() {{
    var ids = [];
    document.querySelectorAll("input.segment-choice").forEach(function (box) {{ if (box.checked) ids.push(box.value); }});
    return {{"request": rid, "segments": ids}};
  }}
  function show() {{ document.getElementById("selection").textContent = JSON.stringify(selection()); }}
  document.querySelectorAll("input.segment-choice").forEach(function (box) {{ box.addEventListener("change", show); }});
  document.getElementById("download").addEventListener("click", function () {{
    var blob = new Blob([JSON.stringify(selection(), null, 2)], {{type: "application/json"}});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "selection-" + rid + ".json";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }});
  show();
}})();
</script>
</body></html>
"""


def review(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str, out: Path | None = None,
           every_s: float = THUMB_EVERY_S, width: int = 240) -> dict[str, Any]:
    """Write a self-contained HTML page: per segment, thumbnails every ``every_s`` seconds with their times, a
    checkbox, and a button that downloads the selection as JSON."""
    if every_s <= 0:
        raise ConfigError("review: --every must be positive")
    info = show(cat, request_id, now)
    if not info["segments"]:
        raise RequestError(f"request {request_id}: no segments (run 'anonymizer requests find {request_id}')")
    parts = []
    thumbs_total = 0
    for s in info["segments"]:
        c = s.get("clip") or {}
        a, b = s["start_offset_s"], s["end_offset_s"]
        figures = []
        if c.get("state") in MATCHED_STATES and Path(c["uri"]).exists():
            clip_start = datetime.fromisoformat(c["start_utc"])
            for t in thumbnails(Path(c["uri"]), _thumb_times(a, b, every_s), width):
                when = (clip_start + timedelta(seconds=t.frame_s)).isoformat(timespec="milliseconds")
                figures.append(f'<figure><img class="thumb" alt="{t.frame_s:.2f} s" src="data:image/jpeg;base64,'
                               f'{b64encode(t.jpeg).decode()}"><figcaption>+{t.frame_s:.2f} s<br>{html.escape(when)}'
                               "</figcaption></figure>")
            thumbs_total += len(figures)
        else:
            figures.append(f"<p>clip {html.escape(str(c.get('state', 'missing')))}: nothing to show</p>")
        handled = f" (done: {html.escape(s['action'])})" if s.get("handled_at") else ""
        checked = " checked" if s["selected"] else ""
        restricted = " &mdash; <b>restricted</b>" if c.get("restricted") else ""
        parts.append(
            f'<section class="segment{" done" if handled else ""}" id="seg-{s["id"]}">'
            f'<label><input type="checkbox" class="segment-choice" value="{s["id"]}"{checked}> '
            f'<b>segment {s["id"]}</b>{handled}</label>: clip {html.escape(c.get("id", "?"))} '
            f'({html.escape(c.get("state", "?"))}{restricted}), camera {html.escape(c.get("camera", "?"))}, '
            f'site {html.escape(c.get("site", "?"))}, {html.escape(s["start_utc"])} .. {html.escape(s["end_utc"])} '
            f'(+{a:.2f} s .. +{b:.2f} s in the clip)'
            f'<p class="why">{html.escape(s["explanation"])}</p><div class="thumbs">{"".join(figures)}</div></section>'
        )
    page = _PAGE.format(
        rid=html.escape(request_id), rid_json=json.dumps(request_id), kind=html.escape(info["kind"]),
        received=html.escape(info["received_at"]), due=html.escape(info["due_at"]),
        wstart=html.escape(info["window_start"]), wend=html.escape(info["window_end"]),
        place=html.escape(info["place"]), description=html.escape(info["description"] or ""),
        segments="\n".join(parts),
    )
    path = out or request_dir(config, request_id) / "review.html"
    _private_file(path, page.encode("utf-8"))
    with cat.transaction() as conn:
        cat.audit_append(conn, now, actor, "request.review", _obj(request_id), {
            "page": str(path), "segments": [s["id"] for s in info["segments"]], "thumbnails": thumbs_total,
            "sha256": sha256(page.encode("utf-8")).hexdigest()})
    return {"request": request_id, "page": str(path), "segments": len(info["segments"]), "thumbnails": thumbs_total}


def read_selection(path: Path, request_id: str) -> list[str]:
    """Segment ids from a selection file written by the review page."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"selection file {path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise ConfigError(f"selection file {path}: expected {{\"request\": ..., \"segments\": [...]}}")
    if data.get("request") != request_id:
        raise ConfigError(f"selection file {path} is for request {data.get('request')!r}, not {request_id}")
    return [str(s) for s in data["segments"]]


# ------------------------------------------------------------------ apply

def _family(conn: Any, clip_id: str) -> list[Any]:
    """The clip's raw original and every copy derived from it that is not deleted (the original first)."""
    row = conn.execute(select(clips).where(clips.c.id == clip_id)).first()
    if row is None:
        return []
    root = row
    if row.derived_from:
        parent = conn.execute(select(clips).where(clips.c.id == row.derived_from)).first()
        root = parent if parent is not None else row
    out = [root] if root.state != "deleted" else []
    out += [r for r in conn.execute(select(clips).where(clips.c.derived_from == root.id).order_by(clips.c.id))
            if r.state != "deleted"]
    return out


def _amend_targets(conn: Any, clip_id: str) -> list[Any]:
    """The clip itself and, for a raw original, its copies (same timeline, so the same offsets)."""
    row = conn.execute(select(clips).where(clips.c.id == clip_id)).first()
    if row is None or row.state == "deleted":
        return []
    out = [row]
    if row.derived_from is None:
        out += [r for r in conn.execute(select(clips).where(clips.c.derived_from == row.id).order_by(clips.c.id))
                if r.state != "deleted"]
    return out


def _restricting(conn: Any, clip_id: str, except_request: str | None = None) -> list[str]:
    """Open requests whose handled restriction covers this clip."""
    q = select(segments.c.request_id).join(requests, requests.c.id == segments.c.request_id).where(
        segments.c.action == "restrict", segments.c.handled_at.is_not(None), requests.c.status == "open")
    fam = [r.id for r in _family(conn, clip_id)] or [clip_id]
    q = q.where(segments.c.clip_id.in_(fam))
    return sorted({r.request_id for r in conn.execute(q)} - {except_request})


def _mark(conn: Any, seg_ids: Iterable[str], action: str, now: datetime, outcome: dict[str, Any]) -> None:
    conn.execute(update(segments).where(segments.c.id.in_(list(seg_ids))).values(
        action=action, handled_at=now, outcome=json.dumps(outcome, sort_keys=True, default=str), selected=True))


def whole_frame(method: str):  # type: ignore[no-untyped-def]
    """A function that destroys a whole frame in place: ``solid`` (black) or ``blur`` (a colour gradient)."""
    def modify(frame: Frame) -> bool:
        h, w = frame.planes[0].shape
        regions = Regions(np.zeros((0, 4), np.float32), np.array([[0, 0, w, h]], np.float32))
        redact_yuv420(frame.planes, regions, method)
        return True
    return modify


def _rewrite_clip(cat: Catalogue, conn: Any, row: Any, a: float, b: float, action: str, method: str
                  ) -> dict[str, Any]:
    path = Path(row.uri)
    times = read_timestamps(path)
    end_s = row.duration_s if row.duration_s else None
    hit = set(frames_in(a, b, times, end_s))
    if not hit:
        return {"clip": row.id, "frames": 0, "note": "no frame of the clip is shown during the segment"}
    if action == "cut" and len(hit) == len(times):
        raise RequestError(f"clip {row.id}: the segment covers every frame; use --action remove instead of cut")
    mode = path.stat().st_mode & 0o777
    if action == "cut":
        res = rewrite(path, path, keep=lambda i: i not in hit, mode=mode)
    else:
        fn = whole_frame(method)
        res = rewrite(path, path, modify=lambda f: fn(f) if f.index in hit else False, mode=mode)
    sha, size = sha256_of(path)
    info = probe(path)
    end = row.start_utc + timedelta(seconds=info.duration) if info.duration is not None else row.end_utc
    state = "amended" if row.state == "raw" else row.state  # a copy stays anonymised footage (no limit)
    conn.execute(update(clips).where(clips.c.id == row.id).values(
        sha256=sha, size=size, frames=res.frames_out, duration_s=info.duration, end_utc=end, state=state,
        has_audio=False))
    first, last = min(hit), max(hit)
    return {"clip": row.id, "uri": row.uri, "frames": len(hit), "first_frame": first, "last_frame": last,
            "first_s": times[first], "last_s": times[last], "frames_before": len(times),
            "frames_after": res.frames_out, "old_sha256": row.sha256, "sha256": sha, "state": state,
            "method": method if action == "redact" else None}


def apply(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str,
          segment_ids: list[str] | None = None, action: str | None = None, method: str = "solid",
          dry_run: bool = False) -> dict[str, Any]:
    """Carry out ``action`` on the selected segments (those given, else those selected before and not handled)."""
    if method not in AMEND_METHODS:
        raise ConfigError(f"amend method {method!r}: expected one of {', '.join(AMEND_METHODS)}")
    with cat.engine.connect() as conn:
        row = _load(conn, request_id)
        segs = {s.id: s for s in request_segments(conn, request_id)}
    if row.status != "open":
        raise RequestError(f"request {request_id} is {row.status}")
    action = action or DEFAULT_ACTION.get(row.kind)
    if action is None:
        raise ConfigError(f"request {request_id} is an {row.kind} request: use 'anonymizer requests export', or "
                          f"give --action ({', '.join(ACTIONS)})")
    if action not in ACTIONS:
        raise ConfigError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    if segment_ids:
        unknown = [s for s in segment_ids if s not in segs]
        if unknown:
            raise ConfigError(f"request {request_id} has no segments {', '.join(unknown)} "
                              f"(see 'anonymizer requests find {request_id}')")
        chosen = list(dict.fromkeys(segment_ids))
    else:
        chosen = [s.id for s in segs.values() if s.selected and s.handled_at is None]
    if action == "lift":
        chosen = [s.id for s in segs.values() if s.action == "restrict" and s.handled_at is not None]
    if not chosen:
        raise ConfigError(f"request {request_id}: no segment selected (give --segments or --selection)")
    plan = [{"segment": sid, "clip": segs[sid].clip_id, "action": action,
             "offsets": [segs[sid].start_offset_s, segs[sid].end_offset_s],
             "already": segs[sid].action if segs[sid].handled_at is not None and action != "lift" else None}
            for sid in chosen]
    result: dict[str, Any] = {"request": request_id, "action": action, "dry_run": dry_run, "segments": plan,
                              "failed": []}
    if dry_run:
        return result
    if action != "lift":
        with cat.transaction() as conn:
            conn.execute(update(segments).where(segments.c.id.in_(chosen)).values(selected=True))
            cat.audit_append(conn, now, actor, "request.select", _obj(request_id), {"segments": chosen,
                                                                                   "action": action})
    with cat.engine.connect() as conn:
        holds = HoldIndex([hold_info(h) for h in all_holds(conn)], now)
    for item in plan:
        if item["already"]:
            item["outcome"] = f"already handled ({item['already']})"
            continue
        sid = item["segment"]
        seg = segs[sid]
        try:
            item["outcome"] = _apply_one(cat, request_id, seg, action, method, holds, now, actor)
        except AnonymizerError as exc:
            item["outcome"] = f"failed: {exc}"
            result["failed"].append({"segment": sid, "error": str(exc)})
            log.warning("request %s segment %s: %s", request_id, sid, exc)
    return result


def _apply_one(cat: Catalogue, request_id: str, seg: Any, action: str, method: str, holds: HoldIndex,
               now: datetime, actor: str) -> dict[str, Any]:
    with cat.transaction() as conn:
        current = conn.execute(select(segments).where(segments.c.id == seg.id)).first()
        if action != "lift" and current.handled_at is not None:
            return {"note": f"handled already ({current.action})"}
        if action == "remove":
            fam = _family(conn, seg.clip_id)
            for c in fam:
                held = holds.matching(c.id, c.camera_id, c.site_id, c.start_utc, c.end_utc)
                if held:
                    raise RequestError(f"clip {c.id} is held ({', '.join(held)}); release the hold or record why "
                                       "the footage must be kept")
            removed = []
            for c in fam:
                Path(c.uri).unlink(missing_ok=True)
                conn.execute(update(clips).where(clips.c.id == c.id).values(state="deleted"))
                cat.audit_append(conn, now, actor, "request.remove", f"clip {c.id}", {
                    "request": request_id, "segment": seg.id, "uri": c.uri, "sha256": c.sha256, "state": c.state})
                removed.append({"clip": c.id, "uri": c.uri, "state": c.state})
            ids = {c.id for c in fam} | {seg.clip_id}
            same = [s.id for s in request_segments(conn, request_id) if s.clip_id in ids and s.handled_at is None]
            outcome = {"removed": removed}
            _mark(conn, same or [seg.id], "remove", now, outcome)
            return outcome
        if action in ("redact", "cut"):
            targets = _amend_targets(conn, seg.clip_id)
            if not targets:
                raise RequestError(f"clip {seg.clip_id} is deleted: nothing to amend")
            for c in targets:
                if c.restricted:
                    raise RequestError(f"clip {c.id} is restricted (requests "
                                       f"{', '.join(_restricting(conn, c.id)) or '?'}); lift the restriction first")
            done = [_rewrite_clip(cat, conn, c, seg.start_offset_s, seg.end_offset_s, action, method)
                    for c in targets]
            for d in done:
                cat.audit_append(conn, now, actor, f"request.{action}", f"clip {d['clip']}",
                                 {"request": request_id, "segment": seg.id, **d})
            ids = {c.id for c in targets}
            same = [s.id for s in request_segments(conn, request_id)
                    if s.clip_id in ids and s.handled_at is None and s.id != seg.id]
            outcome = {"amended": done}
            _mark(conn, [seg.id] + same, action, now, outcome)
            return outcome
        if action == "restrict":
            fam = _family(conn, seg.clip_id)
            for c in fam:
                conn.execute(update(clips).where(clips.c.id == c.id).values(restricted=True))
            outcome = {"restricted": [c.id for c in fam]}
            cat.audit_append(conn, now, actor, "request.restrict", _obj(request_id), {"segment": seg.id, **outcome})
            _mark(conn, [seg.id], "restrict", now, outcome)
            return outcome
        # lift
        fam = _family(conn, seg.clip_id)
        lifted, kept = [], []
        for c in fam:
            others = _restricting(conn, c.id, except_request=request_id)
            if others:
                kept.append({"clip": c.id, "still_restricted_by": others})
                continue
            conn.execute(update(clips).where(clips.c.id == c.id).values(restricted=False))
            lifted.append(c.id)
        outcome = {"lifted": lifted, "kept": kept}
        cat.audit_append(conn, now, actor, "request.lift", _obj(request_id), {"segment": seg.id, **outcome})
        conn.execute(update(segments).where(segments.c.id == seg.id).values(
            action="lift", outcome=json.dumps(outcome, sort_keys=True), handled_at=now))
        return outcome


# ------------------------------------------------------------------ export

def export(cat: Catalogue, config: Config, request_id: str, out: Path, *, now: datetime, actor: str,
           segment_ids: list[str] | None = None) -> dict[str, Any]:
    """Package the selected segments (or ``segment_ids``) as video files with a JSON manifest and a summary, in a
    folder or a ``.zip``; written beside ``out`` and renamed into place when complete."""
    if out.exists():
        raise RequestError(f"{out} exists; give a new folder or .zip name")
    with cat.engine.connect() as conn:
        row = _load(conn, request_id)
        segs = {s.id: s for s in request_segments(conn, request_id)}
        chosen = list(dict.fromkeys(segment_ids)) if segment_ids else [s.id for s in segs.values() if s.selected]
        unknown = [s for s in chosen if s not in segs]
        if unknown:
            raise ConfigError(f"request {request_id} has no segments {', '.join(unknown)}")
        if not chosen:
            raise ConfigError(f"request {request_id}: no segment selected (give --segments or --selection)")
        rows = {sid: conn.execute(select(clips).where(clips.c.id == segs[sid].clip_id)).first() for sid in chosen}
        for sid, c in rows.items():
            if c is None or c.state == "deleted":
                raise RequestError(f"segment {sid}: clip {segs[sid].clip_id} is deleted")
            if c.restricted:
                raise RequestError(f"segment {sid}: clip {c.id} is restricted (requests "
                                   f"{', '.join(_restricting(conn, c.id)) or '?'}); lift the restriction first")
    work = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=DIR_MODE, parents=True)
    items = []
    try:
        for sid in chosen:
            s, c = segs[sid], rows[sid]
            times = read_timestamps(Path(c.uri))
            hit = set(frames_in(s.start_offset_s, s.end_offset_s, times, c.duration_s or None))
            if not hit:
                raise RequestError(f"segment {sid}: no frame of clip {c.id} falls in it")
            name = f"{sid}-{c.camera_id}.mp4"
            res = rewrite(Path(c.uri), work / name, keep=lambda i, hit=hit: i in hit, shift_to_zero=True,
                          mode=FILE_MODE)
            first = min(hit)
            site = config.sites.get(c.site_id)
            items.append({
                "segment": sid, "file": name, "sha256": sha256_of(work / name)[0], "frames": res.frames_out,
                "clip": c.id, "clip_sha256": c.sha256, "clip_state": c.state, "camera": c.camera_id,
                "site": c.site_id, "site_name": site.name if site else None,
                "start_utc": (c.start_utc + timedelta(seconds=times[first])).isoformat(),
                "end_utc": (c.start_utc + timedelta(seconds=times[max(hit)])).isoformat(),
                "clip_offsets_s": [times[first], times[max(hit)]],
                "segment_utc": [s.start_utc.isoformat(), s.end_utc.isoformat()],
            })
        manifest = {"request": request_id, "kind": row.kind, "received": row.received_at.isoformat(),
                    "window": [row.window_start.isoformat(), row.window_end.isoformat()],
                    "place": _place(row).text(), "created_at": now.isoformat(), "created_by": actor,
                    "segments": items}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        lines = [f"Recordings for request {request_id} ({row.kind}), received {row.received_at.date()}.",
                 f"Asked for: {row.window_start.isoformat()} to {row.window_end.isoformat()}, at "
                 f"{_place(row).text()}.", f"{len(items)} recording segment(s):", ""]
        for it in items:
            lines.append(f"- {it['file']}: camera {it['camera']} at {it['site_name'] or it['site']}, "
                         f"{it['start_utc']} to {it['end_utc']} ({it['frames']} frames)")
        lines += ["", "manifest.json lists each file with its sha256 and the recording it was taken from."]
        (work / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for p in work.iterdir():
            os.chmod(p, FILE_MODE)
        if out.suffix.lower() == ".zip":
            tmpzip = out.with_name(f".{out.name}.partial-{os.getpid()}.zip")
            fd = os.open(tmpzip, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            os.close(fd)
            try:
                with zipfile.ZipFile(tmpzip, "w", zipfile.ZIP_STORED) as z:
                    for p in sorted(work.iterdir()):
                        z.write(p, p.name)
                os.replace(tmpzip, out)
            finally:
                tmpzip.unlink(missing_ok=True)
        else:
            os.rename(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    outcome = {"export": str(out), "files": {it["file"]: it["sha256"] for it in items}}
    with cat.transaction() as conn:
        _mark(conn, chosen, "export", now, outcome)
        cat.audit_append(conn, now, actor, "request.export", _obj(request_id), {"out": str(out), "segments": items})
    return {"request": request_id, "out": str(out), "segments": items}


# ------------------------------------------------------------------ report

_REPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Request {rid}: report</title>
<style>body {{ font-family: sans-serif; margin: 1.5em; }} td, th {{ border: 1px solid #bbb; padding: .3em; }}
table {{ border-collapse: collapse; }}</style></head><body>
<h1>Request {rid}: report</h1>
<h2>What was asked</h2>
<p>{kind} request received {received} (due {due}; status {status}). Recordings from {wstart} to {wend} at
{place}.</p><p>{description}</p>
<h2>What was found</h2>
<p>{found}</p>
<table><tr><th>segment</th><th>clip</th><th>camera / site</th><th>time (UTC)</th><th>why it matched</th>
<th>selected</th><th>done</th></tr>
{rows}
</table>
<h2>What was done, when and by whom</h2>
<table><tr><th>#</th><th>time (UTC)</th><th>who</th><th>what</th><th>details</th></tr>
{events}
</table>
<p>Audit chain head at the time of this report: <code>{head}</code>.</p>
</body></html>
"""


def report(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str,
           out_dir: Path | None = None) -> dict[str, Any]:
    """What was asked, found and done (with the audit events of the request and its clips), as JSON and HTML."""
    info = show(cat, request_id, now)
    seg_ids = {s["id"] for s in info["segments"]}
    events = []
    for e in cat.audit_events():
        d = json.loads(e.details)
        if e.object == _obj(request_id) or (isinstance(d, dict) and d.get("request") == request_id
                                            and (d.get("segment") in seg_ids or "segment" not in d)):
            events.append({"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                           "object": e.object, "hash": e.hash})
    rows = []
    for s in info["segments"]:
        c = s.get("clip") or {}
        rows.append(
            f"<tr><td>{s['id']}</td><td>{html.escape(c.get('id', ''))} ({html.escape(c.get('state', ''))})</td>"
            f"<td>{html.escape(c.get('camera', ''))} / {html.escape(c.get('site', ''))}</td>"
            f"<td>{html.escape(s['start_utc'])} .. {html.escape(s['end_utc'])}</td>"
            f"<td>{html.escape(s['explanation'])}</td><td>{'yes' if s['selected'] else 'no'}</td>"
            f"<td>{html.escape(s['action'] or '-')} {html.escape(s['handled_at'] or '')}</td></tr>")
    ev_rows = [f"<tr><td>{e['seq']}</td><td>{e['at']}</td><td>{html.escape(e['actor'])}</td>"
               f"<td>{html.escape(e['action'])}</td><td>{html.escape(e['object'])}</td></tr>" for e in events]
    head = cat.audit_verify().head
    doc = {"request": {k: v for k, v in info.items() if k != "segments"}, "segments": info["segments"],
           "events": events, "audit_head": head, "written_at": now.isoformat(), "written_by": actor}
    page = _REPORT.format(
        rid=html.escape(request_id), kind=html.escape(info["kind"].capitalize()),
        received=html.escape(info["received_at"]), due=html.escape(info["due_at"]),
        status=html.escape(info["status"]), wstart=html.escape(info["window_start"]),
        wend=html.escape(info["window_end"]), place=html.escape(info["place"]),
        description=html.escape(info["description"] or ""),
        found=f"{len(info['segments'])} recording segment(s) matched; "
              f"{sum(1 for s in info['segments'] if s['selected'])} were selected as showing the requester.",
        rows="\n".join(rows), events="\n".join(ev_rows), head=head)
    folder = out_dir or request_dir(config, request_id)
    jpath, hpath = folder / "report.json", folder / "report.html"
    blob = json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    _private_file(jpath, blob)
    _private_file(hpath, page.encode("utf-8"))
    with cat.transaction() as conn:
        cat.audit_append(conn, now, actor, "request.report", _obj(request_id), {
            "json": str(jpath), "html": str(hpath), "sha256": sha256(blob).hexdigest()})
    return {"request": request_id, "json": str(jpath), "html": str(hpath), "events": len(events),
            "segments": len(info["segments"])}
