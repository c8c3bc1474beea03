"""``requests find``: narrow the catalogue by time and place in SQL, run the pure matcher, store the segments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from anonymizer.config import Config
from anonymizer.domain.requests import ClipSpan, Place, PlaceIndex, Tolerance, Window, candidate_sites, match
from anonymizer.pipelines.requests.common import (
    RequestError, audit_object, load_request, place_index, request_place, segment_id,
)
from anonymizer.pipelines.requests.records import show_in
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.requests import longest_clip_s, request_and_longest_clip, store_segments
from anonymizer.store.schema import clips

def candidates(conn: Any, window: Window, place: Place, index: PlaceIndex, tolerance: Tolerance,
               longest_s: float | None = None) -> list[ClipSpan]:
    """Clips that may match, narrowed in SQL: recording start within [from - tol - longest clip, to + tol] (the
    start index), state, and the place's site or camera. ``longest_s``: the longest clip's duration, when the
    caller read it already."""
    widest = timedelta(seconds=tolerance.widest)
    longest = longest_clip_s(conn) if longest_s is None else longest_s
    lo = window.start - widest - timedelta(seconds=longest)
    hi = window.end + widest
    # The place and the time range go to an index ((camera_id, start_utc), (site_id, start_utc), or start_utc for
    # a place that is no site): only the recordings of that place in the window are read, however large the
    # catalogue. No condition on state (an index on it would tempt SQLite to scan); the matcher drops deleted clips.
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
    """Match the request against the catalogue and store the segments (handled ones are kept as they are).

    One transaction and few round trips (a shared PostgreSQL server is a network hop away): the request with the
    longest clip's duration, the candidates, one upsert of the segments and one delete of those no longer
    matched, the audit event, then what is shown (segments with their clips, artefacts) read in the same
    transaction."""
    index = place_index(config)
    with cat.transaction() as conn:
        row, longest = request_and_longest_clip(conn, request_id)
        if row is None:
            load_request(conn, request_id)  # the one-line error
        if row.status != "open":
            raise RequestError(f"request {request_id} is {row.status}")
        window = Window(row.window_start, row.window_end)
        tol = Tolerance(row.tolerance_s, row.uncertain_tolerance_s)
        place = request_place(row)
        found = match(window, place, candidates(conn, window, place, index, tol, longest), index, tol)
        store_segments(conn, request_id, [
            dict(id=segment_id(request_id, seg.clip_id), clip_id=seg.clip_id, start_offset_s=seg.start_offset_s,
                 end_offset_s=seg.end_offset_s, start_utc=seg.start, end_utc=seg.end, tolerance_s=seg.tolerance_s,
                 explanation=seg.explanation, found_at=now)
            for seg in found])
        cat.audit_append(conn, now, actor, "request.find", audit_object(request_id), {
            "window": [window.start.isoformat(), window.end.isoformat()], "place": place.text(),
            "tolerance_s": [tol.certain_s, tol.uncertain_s],
            "segments": [{"segment": segment_id(request_id, s.clip_id), "clip": s.clip_id,
                          "offsets": [round(s.start_offset_s, 6), round(s.end_offset_s, 6)]} for s in found],
        })
        info = show_in(conn, row, now, config)
        info["artefacts"] = _artefacts_view(artefact_rows.showing(conn, [s["clip_id"] for s in info["segments"]]))
    return info


def artefacts_showing(cat: Catalogue, clip_ids: list[str]) -> list[dict[str, Any]]:
    """Files other than clips that show these recordings (review pages, exports of any request), so that an
    erasure or access request sees everything the archive holds of the person."""
    with cat.engine.connect() as conn:
        return _artefacts_view(artefact_rows.showing(conn, clip_ids))


def _artefacts_view(found: dict[str, list[Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for clip, arts in found.items():
        for a in arts:
            d = out.setdefault(a.path, {"path": a.path, "kind": a.kind, "request": a.request_id, "clips": [],
                                        "purge_after": a.purge_after.isoformat() if a.purge_after else None})
            d["clips"].append(clip)
    return sorted(out.values(), key=lambda d: d["path"])
