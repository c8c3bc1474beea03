"""``requests report``: what was asked, found and done, as JSON and HTML."""

from __future__ import annotations

import html
import json
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from anonymizer.config import Config
from anonymizer.domain.local_time import local_label
from anonymizer.media.photo import is_photo
from anonymizer.pipelines.requests.common import audit_object, closed_deadline, originals_report, request_dir
from anonymizer.pipelines.requests.records import show
from anonymizer.safe_files import write_private
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue

_REPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Request {rid}: report</title>
<style>body {{ font-family: sans-serif; margin: 1.5em; }} td, th {{ border: 1px solid #bbb; padding: .3em; }}
table {{ border-collapse: collapse; }}</style></head><body>
<h1>Request {rid}: report</h1>
<h2>What was asked</h2>
<p class="status">{status_text}</p>
<p>{kind} request received {received} (due {due}). Recordings from {wlocal_start} to {wlocal_end}
(UTC {wstart} to {wend}) at {place}.</p><p>{description}</p>
<h2>What was found</h2>
<p>{found}</p>
<table><tr><th>segment</th><th>clip</th><th>camera / site</th><th>local time</th><th>time (UTC)</th><th>why it matched</th>
<th>selected</th><th>done</th></tr>
{rows}
</table>
{originals}<h2>What was done, when and by whom</h2>
<table><tr><th>#</th><th>local time</th><th>time (UTC)</th><th>who</th><th>what</th><th>details</th></tr>
{events}
</table>
<p>Audit chain head at the time of this report: <code>{head}</code>.</p>
</body></html>
"""


def _kept(segment: dict[str, Any]) -> str:
    """For an exported segment: what its access copy redacted and kept (the export's manifest has the detail)."""
    redaction = (segment.get("outcome") or {}).get("redaction") or {}
    return "".join(f"<br>{html.escape(name)}: {html.escape(text)}" for name, text in sorted(redaction.items()))


def _originals_html(originals: list[dict[str, Any]]) -> str:
    """The batch originals a removal left outside the archive: deleted since, or still there."""
    if not originals:
        return ""
    items = "".join(
        f"<li><code>{html.escape(o['path'])}</code> (segment {html.escape(o['segment'])}): "
        + ("<strong>still there</strong>: it shows the recording erased from the archive; delete it</li>"
           if o["exists"] else "deleted</li>") for o in originals)
    return f"<h2>Originals outside the archive</h2>\n<ul class=\"originals\">{items}</ul>\n"


def _status_text(info: dict[str, Any], request_id: str) -> str:
    if info["status"] == "open":
        return (f"Status: open. This report is not final: 'anonymizer requests close {request_id}' closes the "
                "request and writes the final report.")
    closed = local_label(datetime.fromisoformat(info["closed_at"]), info["timezone"]) if info.get("closed_at") else "?"
    note = f": {info['close_note']}" if info.get("close_note") else ""
    return f"Status: {info['status']} on {closed} by {info.get('closed_by') or '?'}{note}."


def report(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str,
           out_dir: Path | None = None) -> dict[str, Any]:
    """What was asked, found and done (with the audit events of the request and its clips), as JSON and HTML."""
    info = show(cat, request_id, now, config)
    seg_ids = {s["id"] for s in info["segments"]}
    events = []
    for e in cat.audit_events():
        d = json.loads(e.details)
        if e.object == audit_object(request_id) or (isinstance(d, dict) and d.get("request") == request_id
                                            and (d.get("segment") in seg_ids or "segment" not in d)):
            events.append({"seq": e.seq, "at": e.at.isoformat(), "at_local": local_label(e.at, info["timezone"]),
                           "actor": e.actor, "action": e.action,
                           "object": e.object, "hash": e.hash})
    rows = []
    for s in info["segments"]:
        c = s.get("clip") or {}
        # A photo is named by its file: the record says which picture it was, not only a clip id.
        state = c.get("state", "") + (f", photo {Path(c['uri']).name}" if c.get("uri") and is_photo(Path(c["uri"]))
                                      else "")
        rows.append(
            f"<tr><td>{s['id']}</td><td>{html.escape(c.get('id', ''))} ({html.escape(state)})</td>"
            f"<td>{html.escape(c.get('camera', ''))} / {html.escape(c.get('site', ''))}</td>"
            f"<td>{html.escape(s['start_local'])} .. {html.escape(s['end_local'])}</td>"
            f"<td>{html.escape(s['start_utc'])} .. {html.escape(s['end_utc'])}</td>"
            f"<td>{html.escape(s['explanation'])}</td><td>{'yes' if s['selected'] else 'no'}</td>"
            f"<td>{html.escape(s['action'] or '-')} {html.escape(s['handled_at'] or '')}{_kept(s)}</td></tr>")
    ev_rows = [f"<tr><td>{e['seq']}</td><td>{html.escape(e['at_local'])}</td><td>{e['at']}</td><td>{html.escape(e['actor'])}</td>"
               f"<td>{html.escape(e['action'])}</td><td>{html.escape(e['object'])}</td></tr>" for e in events]
    head = cat.audit_verify().head
    originals = originals_report(info["segments"])
    doc = {"request": {k: v for k, v in info.items() if k != "segments"}, "final": info["status"] != "open",
           "status_text": _status_text(info, request_id), "segments": info["segments"],
           "originals_outside": originals,
           "events": events, "audit_head": head, "written_at": now.isoformat(), "written_by": actor}
    page = _REPORT.format(
        rid=html.escape(request_id), kind=html.escape(info["kind"].capitalize()),
        received=html.escape(info["received_local"]), due=html.escape(info["due_local"]),
        status_text=html.escape(_status_text(info, request_id)), wstart=html.escape(info["window_start"]),
        wend=html.escape(info["window_end"]), place=html.escape(info["place"]),
        wlocal_start=html.escape(info["window_local"][0]), wlocal_end=html.escape(info["window_local"][1]),
        description=html.escape(info["description"] or ""),
        found=f"{len(info['segments'])} recording segment(s) matched; "
              f"{sum(1 for s in info['segments'] if s['selected'])} were selected as showing the requester.",
        rows="\n".join(rows), events="\n".join(ev_rows), head=head, originals=_originals_html(originals))
    folder = out_dir or request_dir(config, request_id)
    jpath, hpath = folder / "report.json", folder / "report.html"
    blob = json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    write_private(jpath, blob)
    write_private(hpath, page.encode("utf-8"))
    with cat.transaction() as conn:
        for path in (jpath, hpath):
            artefact_rows.record(conn, str(path.resolve()), "report", request_id, [], now,
                                 purge_after=closed_deadline(info, config))
        cat.audit_append(conn, now, actor, "request.report", audit_object(request_id), {
            "json": str(jpath), "html": str(hpath), "sha256": sha256(blob).hexdigest()})
    return {"request": request_id, "json": str(jpath), "html": str(hpath), "events": len(events),
            "segments": len(info["segments"]), "originals_outside": originals}
