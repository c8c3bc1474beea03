"""``requests review``: a self-contained HTML page, one row per recording (a raw clip and its copies are ticked
together), with thumbnails (capped, shown a page at a time), select-all, larger thumbnails on demand, and for access
requests the faces seen in each recording (tracks inside that one clip, by position only) to tick the requester;
a button downloads the selection. Also reading the selection file it produces."""

from __future__ import annotations

import html
import json
from base64 import b64encode
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

from anonymizer.config import Config
from anonymizer.domain.local_time import local_label
from anonymizer.domain.requests import MATCHED_STATES, frames_in
from anonymizer.errors import ConfigError
from anonymizer.media.photo import is_photo, read_photo
from anonymizer.media.segments import Thumbnail, jpeg_of, thumbnails
from anonymizer.pipelines.requests.common import RequestError, audit_object, frame_times, request_dir
from anonymizer.pipelines.requests.records import show
from anonymizer.pipelines.requests.tracks import SegmentTracks, face_detector, find_tracks, previews, save_tracks
from anonymizer.safe_files import write_private
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue

THUMB_EVERY_S = 2.0
THUMBS_MAX = 48  # per recording; spread evenly over a longer one
THUMBS_PAGE = 12  # shown at first, and per press of "N more"
THUMB_WIDTH = 400  # rendered; shown at half size until "larger thumbnails"


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
.recording {{ border: 1px solid #aaa; padding: .6em; margin: 1em 0; }}
.recording h2 {{ font-size: 110%; margin: 0 0 .3em 0; }}
.controls {{ position: sticky; top: 0; background: #fff; padding: .4em 0; border-bottom: 1px solid #ddd; }}
.thumbs {{ display: flex; flex-wrap: wrap; gap: .4em; }}
figure {{ margin: 0; font-size: 80%; text-align: center; }}
img.thumb {{ width: 200px; height: auto; }}
body.large img.thumb {{ width: 400px; }}
img.face {{ width: 72px; height: auto; vertical-align: middle; margin-left: .2em; }}
body.large img.face {{ width: 128px; }}
.track {{ margin: .3em 0; }}
.why {{ color: #444; font-size: 85%; }}
.done {{ background: #eef7ee; }}
:focus-visible {{ outline: 3px solid #1a5fb4; outline-offset: 2px; }}
pre {{ background: #f4f4f4; padding: .5em; white-space: pre-wrap; }}
</style></head><body>
<h1>Request {rid} ({kind}): review</h1>
<p>Received {received}, due {due}. Window {wlocal} (UTC {wstart} .. {wend}), place: {place}.</p>
<p>{description}</p>
<p>{count}. Tick the recordings in which the requester appears (a raw recording and its anonymised copies are ticked
together){access_hint}, then download the selection and give it to
<code>anonymizer requests {next_step} {rid} --selection FILE</code>.</p>
<div class="controls" role="group" aria-label="selection">
<label><input type="checkbox" id="select-all"> select all recordings</label>
<button id="larger" type="button" aria-pressed="false">larger thumbnails</button>
<button id="download" type="button">download the selection</button>
</div>
<pre id="selection" aria-live="polite"></pre>
{recordings}
<script>
(function () {{
  var rid = {rid_json};
  var page = {page_size};
  var rows = Array.prototype.slice.call(document.querySelectorAll("input.segment-choice"));
  var faces = Array.prototype.slice.call(document.querySelectorAll("input.track-choice"));
  var all = document.getElementById("select-all");
  function selection() {{
    var ids = [], tracks = {{}};
    rows.forEach(function (b) {{ if (b.checked) b.getAttribute("data-segments").split(" ").forEach(function (s) {{ ids.push(s); }}); }});
    faces.forEach(function (t) {{
      if (!t.checked) return;
      var seg = t.getAttribute("data-segment");
      (tracks[seg] = tracks[seg] || []).push(Number(t.value));
    }});
    var out = {{"request": rid, "segments": ids}};
    if (Object.keys(tracks).length) out.tracks = tracks;
    return out;
  }}
  function show() {{
    var n = rows.filter(function (b) {{ return b.checked; }}).length;
    all.checked = rows.length > 0 && n === rows.length;
    all.indeterminate = n > 0 && n < rows.length;
    document.getElementById("selection").textContent = JSON.stringify(selection());
  }}
  rows.forEach(function (b) {{ b.addEventListener("change", show); }});
  all.addEventListener("change", function () {{
    rows.forEach(function (b) {{ b.checked = all.checked; }});
    show();
  }});
  faces.forEach(function (t) {{
    t.addEventListener("change", function () {{
      if (t.checked) {{
        var row = document.getElementById("row-" + t.getAttribute("data-row"));
        if (row) row.checked = true;
      }}
      show();
    }});
  }});
  document.getElementById("larger").addEventListener("click", function () {{
    var on = document.body.classList.toggle("large");
    this.setAttribute("aria-pressed", on ? "true" : "false");
    this.textContent = on ? "smaller thumbnails" : "larger thumbnails";
  }});
  document.querySelectorAll("button.more").forEach(function (btn) {{
    btn.addEventListener("click", function () {{
      var hidden = document.getElementById(btn.getAttribute("data-thumbs")).querySelectorAll("figure[hidden]");
      for (var i = 0; i < hidden.length && i < page; i++) hidden[i].hidden = false;
      var left = hidden.length - Math.min(page, hidden.length);
      if (left > 0) {{ btn.textContent = left + " more"; }}
      else {{ btn.hidden = true; }}
      var first = hidden[0] && hidden[0].querySelector("img");
      if (left === 0 && first) {{ first.setAttribute("tabindex", "-1"); first.focus(); }}
    }});
  }});
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


def _recordings(segments: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Segments grouped by recording (a raw clip and the copies derived from it), in the order found."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in segments:
        c = s.get("clip") or {}
        groups.setdefault(c.get("derived_from") or c.get("id") or s["clip_id"], []).append(s)
    for g in groups.values():  # the original first
        g.sort(key=lambda s: (bool((s.get("clip") or {}).get("derived_from")), s["id"]))
    return list(groups.values())


def _source(group: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The segment whose file the thumbnails (and face tracks) come from: the original when it is still there."""
    for s in group:
        c = s.get("clip") or {}
        if c.get("state") in MATCHED_STATES and Path(c["uri"]).exists():
            return s
    return None


def _thumbnails(path: Path, times: list[float], width: int) -> list[Thumbnail]:
    """Thumbnails at ``times``; a photo's one, as displayed (its EXIF orientation applied, as it was anonymised)."""
    if is_photo(path):
        return [Thumbnail(0.0, 0.0, jpeg_of(read_photo(path).rgb, width))]
    return thumbnails(path, times, width)


def _figure(jpeg: bytes, alt: str, caption: str, hidden: bool, css: str = "thumb") -> str:
    return (f'<figure{" hidden" if hidden else ""}><img class="{css}" alt="{html.escape(alt)}" '
            f'src="data:image/jpeg;base64,{b64encode(jpeg).decode()}"><figcaption>{caption}</figcaption></figure>')


def _tracks_html(row: str, src: dict[str, Any], st: SegmentTracks, crops: dict[int, list[tuple[int, bytes]]],
                 times: list[float]) -> str:
    if not st.tracks:
        return ('<p class="tracks">No face was detected in this recording: an access copy of it redacts every '
                "plate (and any face the anonymiser finds).</p>")
    items = []
    for t in st.tracks:
        a, b = times[t.first], times[t.last]
        imgs = "".join(f'<img class="face" alt="face {t.id} at +{times[f]:.2f} s" '
                       f'src="data:image/jpeg;base64,{b64encode(j).decode()}">' for f, j in crops.get(t.id, []))
        items.append(f'<div class="track"><label><input type="checkbox" class="track-choice" data-row="{row}" '
                     f'data-segment="{src["id"]}" value="{t.id}"> face {t.id}: +{a:.2f} s .. +{b:.2f} s '
                     f'({len(t.frames)} detections)</label>{imgs}</div>')
    return ('<fieldset class="tracks"><legend>Faces seen in this recording (tracked by position inside this clip '
            "only): tick the requester; the access copy keeps the ticked faces and redacts every other face and "
            f"plate</legend>{''.join(items)}</fieldset>")


def review(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str, out: Path | None = None,
           every_s: float = THUMB_EVERY_S, width: int = THUMB_WIDTH, tracks: bool | None = None) -> dict[str, Any]:
    """Write the review page (see the module) and return what it holds. ``tracks`` (default: for access
    requests) runs the face detector on each recording's segment and offers its face tracks for the access copy;
    they are kept in ``ARCHIVE/requests/ID/tracks.json``."""
    if every_s <= 0:
        raise ConfigError("review: --every must be positive")
    info = show(cat, request_id, now, config)
    if not info["segments"]:
        raise RequestError(f"request {request_id}: no segments (run 'anonymizer requests find {request_id}')")
    want_tracks = info["kind"] == "access" if tracks is None else tracks
    detector = face_detector(config) if want_tracks else None
    parts, found_tracks = [], []
    thumbs_total = tracks_total = 0
    for n, group in enumerate(_recordings(info["segments"]), 1):
        row = f"r{n}"
        src = _source(group)
        figures, face_part, more = [], "", ""
        if src is not None:
            c = src["clip"]
            clip_start = datetime.fromisoformat(c["start_utc"])
            a, b = src["start_offset_s"], src["end_offset_s"]
            for i, t in enumerate(_thumbnails(Path(c["uri"]), _thumb_times(a, b, every_s), width)):
                when = local_label(clip_start + timedelta(seconds=t.frame_s), src.get("timezone"), ms=True)
                figures.append(_figure(t.jpeg, f"{t.frame_s:.2f} s", f"+{t.frame_s:.2f} s<br>{html.escape(when)}",
                                       hidden=i >= THUMBS_PAGE))
            if len(figures) > THUMBS_PAGE:
                more = (f'<button type="button" class="more" data-thumbs="thumbs-{row}">'
                        f"{len(figures) - THUMBS_PAGE} more</button>")
            if detector is not None and c.get("state") in ("raw", "amended"):
                times = frame_times(Path(c["uri"]))
                frames = frames_in(a, b, times, c.get("duration_s") or None)
                found, stride = find_tracks(Path(c["uri"]), frames, detector)
                st = SegmentTracks(src["id"], c["id"], c["sha256"], (frames[0], frames[-1]) if frames else (0, 0),
                                   stride, found)
                found_tracks.append(st)
                tracks_total += len(found)
                face_part = _tracks_html(row, src, st, previews(Path(c["uri"]), found), times)
            elif detector is not None:
                face_part = ('<p class="tracks">Only an anonymised copy of this recording is left: faces are '
                             "already redacted in it.</p>")
        else:
            states = ", ".join(sorted({str((s.get("clip") or {}).get("state", "missing")) for s in group}))
            figures.append(f"<p>clip {html.escape(states)}: nothing to show</p>")
        thumbs_total += sum(1 for f in figures if f.startswith("<figure"))
        first = group[0]
        seg_ids = " ".join(s["id"] for s in group)
        handled = all(s.get("handled_at") for s in group)
        done = " (done: " + html.escape(", ".join(sorted({s["action"] for s in group if s.get("action")}))) + ")" \
            if handled else ""
        checked = " checked" if any(s["selected"] for s in group) else ""
        clips_text = "; ".join(
            f'{"copy" if (s.get("clip") or {}).get("derived_from") else "clip"} '
            f'{html.escape(str((s.get("clip") or {}).get("id", "?")))} '
            f'({html.escape(str((s.get("clip") or {}).get("state", "?")))}'
            f'{", <b>restricted</b>" if (s.get("clip") or {}).get("restricted") else ""}), segment {s["id"]}'
            for s in group)
        c0 = first.get("clip") or {}
        parts.append(
            f'<section class="recording{" done" if handled else ""}" id="rec-{row}" aria-labelledby="h-{row}">'
            f'<h2 id="h-{row}"><label><input type="checkbox" class="segment-choice" id="row-{row}" '
            f'value="{first["id"]}" data-segments="{seg_ids}"{checked}> recording {n}: camera '
            f'{html.escape(str(c0.get("camera", "?")))}, {html.escape(first["start_local"])} .. '
            f'{html.escape(first["end_local"])}</label>{done}</h2>'
            f'<p>{clips_text}. Site {html.escape(str(c0.get("site", "?")))}; UTC {html.escape(first["start_utc"])} '
            f'.. {html.escape(first["end_utc"])} (+{first["start_offset_s"]:.2f} s .. +{first["end_offset_s"]:.2f} s '
            f'in the clip)</p><p class="why">{html.escape(first["explanation"])}</p>'
            f'<div class="thumbs" id="thumbs-{row}">{"".join(figures)}</div>{more}{face_part}</section>'
        )
    n_rec = len(parts)
    page = _PAGE.format(
        rid=html.escape(request_id), rid_json=json.dumps(request_id), kind=html.escape(info["kind"]),
        received=html.escape(info["received_local"]), due=html.escape(info["due_local"]),
        wstart=html.escape(info["window_start"]), wend=html.escape(info["window_end"]),
        wlocal=html.escape(" .. ".join(info["window_local"])),
        place=html.escape(info["place"]), description=html.escape(info["description"] or ""),
        count=f"{n_rec} recording{'s' if n_rec != 1 else ''} ({len(info['segments'])} segments)",
        access_hint=(" and, in each, the face that is the requester (the access copy keeps it and redacts everyone "
                     "else; with no face ticked, everyone is redacted)") if want_tracks else "",
        next_step="export" if info["kind"] == "access" else "apply",
        page_size=THUMBS_PAGE, recordings="\n".join(parts),
    )
    path = out or request_dir(config, request_id) / "review.html"
    tracks_file = save_tracks(config, request_id, found_tracks) if want_tracks else None
    write_private(path, page.encode("utf-8"))
    write_private(path, page.encode("utf-8"))
    shown = [s["clip"]["id"] for s in info["segments"] if s.get("clip")]
    with cat.transaction() as conn:
        artefact_rows.record(conn, str(path.resolve()), "review", request_id, shown, now)
        if tracks_file is not None:  # face positions of these recordings: catalogued and purged like the page
            artefact_rows.record(conn, str(tracks_file.resolve()), "review", request_id,
                                 [st.clip for st in found_tracks], now)
        cat.audit_append(conn, now, actor, "request.review", audit_object(request_id), {
            "page": str(path), "segments": [s["id"] for s in info["segments"]], "recordings": n_rec,
            "thumbnails": thumbs_total, "face_tracks": tracks_total,
            "tracks_file": str(tracks_file) if tracks_file else None,
            "sha256": sha256(page.encode("utf-8")).hexdigest()})
    return {"request": request_id, "page": str(path), "segments": len(info["segments"]), "recordings": n_rec,
            "thumbnails": thumbs_total, "face_tracks": tracks_total,
            "tracks": str(tracks_file) if tracks_file else None}


def read_selection(path: Path, request_id: str) -> list[str]:
    """Segment ids from a selection file written by the review page."""
    return read_selection_file(path, request_id)[0]


def read_selection_file(path: Path, request_id: str) -> tuple[list[str], dict[str, list[int]]]:
    """Segment ids and chosen face tracks (segment id -> track ids) from a selection file of the review page."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"selection file {path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise ConfigError(f"selection file {path}: expected {{\"request\": ..., \"segments\": [...]}}")
    if data.get("request") != request_id:
        raise ConfigError(f"selection file {path} is for request {data.get('request')!r}, not {request_id}")
    tracks = data.get("tracks") or {}
    if not isinstance(tracks, dict) or not all(isinstance(v, list) for v in tracks.values()):
        raise ConfigError(f"selection file {path}: \"tracks\" must map segment ids to lists of face numbers")
    try:
        chosen = {str(k): sorted({int(t) for t in v}) for k, v in tracks.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"selection file {path}: face numbers must be integers") from exc
    return [str(s) for s in data["segments"]], chosen
