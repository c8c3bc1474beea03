"""``requests review``: a self-contained HTML page with thumbnails per segment and a selection download; and
reading the selection file it produces."""

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
from anonymizer.domain.requests import MATCHED_STATES
from anonymizer.errors import ConfigError
from anonymizer.media.segments import thumbnails
from anonymizer.pipelines.requests.common import RequestError, audit_object, private_file, request_dir
from anonymizer.pipelines.requests.records import show
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue

THUMB_EVERY_S = 2.0
THUMBS_MAX = 30  # per segment; spread evenly over a longer one


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
<p>Received {received}, due {due}. Window {wlocal} (UTC {wstart} .. {wend}), place: {place}.</p>
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
    info = show(cat, request_id, now, config)
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
                when = local_label(clip_start + timedelta(seconds=t.frame_s), s.get("timezone"), ms=True)
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
            f'site {html.escape(c.get("site", "?"))}, {html.escape(s["start_local"])} .. {html.escape(s["end_local"])} '
            f'(UTC {html.escape(s["start_utc"])} .. {html.escape(s["end_utc"])}) '
            f'(+{a:.2f} s .. +{b:.2f} s in the clip)'
            f'<p class="why">{html.escape(s["explanation"])}</p><div class="thumbs">{"".join(figures)}</div></section>'
        )
    page = _PAGE.format(
        rid=html.escape(request_id), rid_json=json.dumps(request_id), kind=html.escape(info["kind"]),
        received=html.escape(info["received_local"]), due=html.escape(info["due_local"]),
        wstart=html.escape(info["window_start"]), wend=html.escape(info["window_end"]),
        wlocal=html.escape(" .. ".join(info["window_local"])),
        place=html.escape(info["place"]), description=html.escape(info["description"] or ""),
        segments="\n".join(parts),
    )
    path = out or request_dir(config, request_id) / "review.html"
    private_file(path, page.encode("utf-8"))
    shown = [s["clip"]["id"] for s in info["segments"] if s.get("clip")]
    with cat.transaction() as conn:
        artefact_rows.record(conn, str(path.resolve()), "review", request_id, shown, now)
        cat.audit_append(conn, now, actor, "request.review", audit_object(request_id), {
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
