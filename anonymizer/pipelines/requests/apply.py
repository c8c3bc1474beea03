"""``requests apply``: remove, amend (redact or cut), restrict or lift the selected segments."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, update

from anonymizer import safe_files
from anonymizer.config import Config
from anonymizer.domain.holds import HoldIndex
from anonymizer.domain.regions import Regions
from anonymizer.domain.requests import frames_in
from anonymizer.errors import AnonymizerError, ConfigError
from anonymizer.imaging.redact import redact_image, redact_yuv420
from anonymizer.media.photo import format_for, is_photo, probe_photo, read_photo, write_photo
from anonymizer.media.probe import probe
from anonymizer.media.reader import Frame
from anonymizer.media.segments import rewrite
from anonymizer.pipelines.file_changes import carry_out, finish_pending, roll_back
from anonymizer.pipelines.ingest import sha256_of
from anonymizer.pipelines.requests.common import (
    RequestError, amend_targets, audit_object, family, frame_times, load_request, mark_handled, originals_of,
    restricting_requests,
)
from anonymizer.safe_files import crashpoint
from anonymizer.store import intents
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.holds import all_holds, hold_info
from anonymizer.store.leases import new_holder
from anonymizer.store.requests import request_segments, segments
from anonymizer.store.schema import clips

log = logging.getLogger(__name__)

ACTIONS = ("remove", "redact", "cut", "restrict", "lift")
AMEND_METHODS = ("solid", "blur")
DEFAULT_ACTION = {"erasure": "remove", "objection": "redact", "restriction": "restrict"}
ACTION_PAST = {"remove": "removed", "redact": "redacted", "cut": "cut"}
#: States of a clip that a request may still change.
LIVE_STATES = ("raw", "amended", "anonymised", "quarantined")


def whole_frame(method: str):  # type: ignore[no-untyped-def]
    """A function that destroys a whole frame in place: ``solid`` (black) or ``blur`` (a colour gradient)."""
    def modify(frame: Frame) -> bool:
        h, w = frame.planes[0].shape
        regions = Regions(np.zeros((0, 4), np.float32), np.array([[0, 0, w, h]], np.float32))
        redact_yuv420(frame.planes, regions, method)
        return True
    return modify


def _rewrite_to(row: Any, temp: Path, a: float, b: float, action: str, method: str) -> dict[str, Any]:
    """Write the amended clip to ``temp`` (the clip itself is untouched); what changed, for the catalogue."""
    path = Path(row.uri)
    times = frame_times(path)
    end_s = row.duration_s if row.duration_s else None
    hit = set(frames_in(a, b, times, end_s))
    if not hit:
        return {"clip": row.id, "frames": 0, "note": "no frame of the clip is shown during the segment"}
    if action == "cut" and len(hit) == len(times):
        raise RequestError(f"clip {row.id}: the segment covers every frame; use --action remove instead of cut")
    mode = path.stat().st_mode & 0o777
    photo = is_photo(path)
    if photo:  # one frame, all hit: the whole picture redacted, a photo of its format (Pillow, no metadata)
        shown = read_photo(path)
        h, w = shown.rgb.shape[:2]
        rgb = shown.rgb.copy()
        redact_image(rgb, Regions(np.zeros((0, 4), np.float32), np.array([[0, 0, w, h]], np.float32)), method)
        write_photo(temp, rgb, format_for(path), shown.alpha, shown.grey, mode)
        frames_out = 1
    elif action == "cut":
        frames_out = rewrite(path, temp, keep=lambda i: i not in hit, mode=mode).frames_out
    else:
        fn = whole_frame(method)
        frames_out = rewrite(path, temp, modify=lambda f: fn(f) if f.index in hit else False, mode=mode).frames_out
    sha, size = sha256_of(temp)
    info = probe_photo(temp) if photo else probe(temp)
    end = row.start_utc + timedelta(seconds=info.duration) if info.duration is not None else row.end_utc
    state = "amended" if row.state == "raw" else row.state  # a copy stays anonymised footage (no limit)
    first, last = min(hit), max(hit)
    return {"clip": row.id, "uri": row.uri, "frames": len(hit), "first_frame": first, "last_frame": last,
            "first_s": times[first], "last_s": times[last], "frames_before": len(times),
            "frames_after": frames_out, "old_sha256": row.sha256, "sha256": sha, "state": state,
            "method": method if action == "redact" else None,
            "_values": dict(sha256=sha, size=size, frames=frames_out, duration_s=info.duration, end_utc=end,
                            state=state, has_audio=False, **({"width": info.width, "height": info.height} if photo
                                                           else {}))}


def apply(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str,
          segment_ids: list[str] | None = None, action: str | None = None, method: str = "solid",
          dry_run: bool = False, include_originals: bool = False) -> dict[str, Any]:
    """Carry out ``action`` on the selected segments (those given, else those selected before and not handled)."""
    if method not in AMEND_METHODS:
        raise ConfigError(f"amend method {method!r}: expected one of {', '.join(AMEND_METHODS)}")
    with cat.engine.connect() as conn:
        row = load_request(conn, request_id)
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
        if include_originals and action == "remove":  # and the removals that left an original outside
            chosen += [s.id for s in segs.values() if s.action == "remove" and s.handled_at is not None
                       and originals_of(_outcome(s))]
    if action == "lift":
        chosen = [s.id for s in segs.values() if s.action == "restrict" and s.handled_at is not None]
    if not chosen:
        raise ConfigError(f"request {request_id}: no segment selected (give --segments or --selection)")
    plan = [{"segment": sid, "clip": segs[sid].clip_id, "action": action,
             "offsets": [segs[sid].start_offset_s, segs[sid].end_offset_s],
             "already": segs[sid].action if segs[sid].handled_at is not None and action != "lift" else None}
            for sid in chosen]
    for item in plan:
        if include_originals and item["already"] == "remove":
            item["originals"] = originals_of(_outcome(segs[item["segment"]]))
    result: dict[str, Any] = {"request": request_id, "action": action, "dry_run": dry_run, "segments": plan,
                              "failed": []}
    if dry_run:
        return result
    if action != "lift":
        with cat.transaction() as conn:
            conn.execute(update(segments).where(segments.c.id.in_(chosen)).values(selected=True))
            cat.audit_append(conn, now, actor, "request.select", audit_object(request_id), {"segments": chosen,
                                                                                   "action": action})
    holder = new_holder()
    finish_pending(cat, holder, now)
    with cat.engine.connect() as conn:
        holds = HoldIndex([hold_info(h) for h in all_holds(conn)], now)
    for item in plan:
        sid = item["segment"]
        seg = segs[sid]
        if item.get("originals"):
            try:
                item["outcome"] = _remove_originals(cat, request_id, seg, now, actor)
            except AnonymizerError as exc:
                item["outcome"] = f"failed: {exc}"
                result["failed"].append({"segment": sid, "error": str(exc)})
            continue
        if item["already"]:
            item["outcome"] = f"already handled ({item['already']})"
            continue
        try:
            item["outcome"] = _apply_one(cat, request_id, seg, action, method, holds, now, actor, holder,
                                          include_originals)
        except AnonymizerError as exc:
            item["outcome"] = f"failed: {exc}"
            result["failed"].append({"segment": sid, "error": str(exc)})
            log.warning("request %s segment %s: %s", request_id, sid, exc)
    return result


def _refuse_held(holds: HoldIndex, rows: list[Any], action: str) -> None:
    for c in rows:
        held = holds.matching(c.id, c.camera_id, c.site_id, c.start_utc, c.end_utc)
        if held:
            raise RequestError(f"clip {c.id} is held ({', '.join(held)}): not {ACTION_PAST[action]}; release the "
                               "hold ('anonymizer holds release') or record why the footage must be kept")


def _refuse_restricted(conn: Any, rows: list[Any]) -> None:
    for c in rows:
        if c.restricted:
            raise RequestError(f"clip {c.id} is restricted (requests "
                               f"{', '.join(restricting_requests(conn, c.id)) or '?'}); lift the restriction first")


def _take(cat: Catalogue, rows: list[Any], holder: str, now: datetime) -> None:
    refused = cat.lease([c.id for c in rows], holder, "requests apply", states=LIVE_STATES)
    if refused:
        cat.release([c.id for c in rows], holder)  # all or none
        raise RequestError("; ".join(refused.values()) + ": try again when it is done")


def _apply_one(cat: Catalogue, request_id: str, seg: Any, action: str, method: str, holds: HoldIndex,
               now: datetime, actor: str, holder: str, include_originals: bool = False) -> dict[str, Any]:
    with cat.engine.connect() as conn:
        current = conn.execute(select(segments).where(segments.c.id == seg.id)).first()
    if action != "lift" and current.handled_at is not None:
        return {"note": f"handled already ({current.action})"}
    if action == "remove":
        return _remove(cat, request_id, seg, holds, now, actor, holder, include_originals)
    if action in ("redact", "cut"):
        return _amend(cat, request_id, seg, action, method, holds, now, actor, holder)
    with cat.transaction() as conn:
        if action == "restrict":
            fam = family(conn, seg.clip_id)
            for c in fam:
                conn.execute(update(clips).where(clips.c.id == c.id).values(restricted=True))
            outcome = {"restricted": [c.id for c in fam]}
            cat.audit_append(conn, now, actor, "request.restrict", audit_object(request_id),
                             {"segment": seg.id, **outcome})
            mark_handled(conn, [seg.id], "restrict", now, outcome)
            return outcome
        # lift
        fam = family(conn, seg.clip_id)
        lifted, kept = [], []
        for c in fam:
            others = restricting_requests(conn, c.id, except_request=request_id)
            if others:
                kept.append({"clip": c.id, "still_restricted_by": others})
                continue
            conn.execute(update(clips).where(clips.c.id == c.id).values(restricted=False))
            lifted.append(c.id)
        outcome = {"lifted": lifted, "kept": kept}
        cat.audit_append(conn, now, actor, "request.lift", audit_object(request_id), {"segment": seg.id, **outcome})
        conn.execute(update(segments).where(segments.c.id == seg.id).values(
            action="lift", outcome=json.dumps(outcome, sort_keys=True), handled_at=now))
        return outcome


def _companions(c: Any) -> list[str]:
    """Files that go with a clip's file: its sidecar (copied beside an imported clip) and a copy's report."""
    out = [c.uri + ".json"]
    if c.report_uri:
        out.append(c.report_uri)
    return [p for p in out if Path(p).is_file()]


def _carry_out_committed(cat: Catalogue, clip_ids: list[str], only: set[int] | None, crash_at: str) -> None:
    """The tail of a removal or an amendment, once its transaction committed the intents: carry out the clips'
    pending intents (only those with ids in ``only`` when given), then drop them. A crash in between leaves them
    recorded: the next command that takes these clips finishes them (``carry_out`` is idempotent)."""
    with cat.engine.connect() as conn:
        todo = [i for i in intents.pending(conn, clip_ids) if only is None or i.id in only]
    for i in todo:
        carry_out(i)
    crashpoint(crash_at)
    with cat.transaction() as conn:
        intents.done(conn, [i.id for i in todo])


def _remove(cat: Catalogue, request_id: str, seg: Any, holds: HoldIndex, now: datetime, actor: str,
            holder: str, include_originals: bool = False) -> dict[str, Any]:
    """Remove the clip and every copy: checks, lease, then one transaction (states, audit events, the segment
    handled, unlink intents committed), then the files are unlinked and the intents dropped."""
    with cat.engine.connect() as conn:
        fam = family(conn, seg.clip_id)
    _refuse_held(holds, fam, "remove")
    _take(cat, fam, holder, now)
    try:
        removed = []
        with cat.transaction() as conn:
            fam = family(conn, seg.clip_id)  # again, under the lease
            ids = []
            outside = [c.imported_from for c in fam if c.imported_from and os.path.isfile(c.imported_from)]
            for c in fam:
                paths = [c.uri, *_companions(c)]
                if include_originals and c.imported_from in outside:
                    paths += [c.imported_from, *[p for p in [c.imported_from + ".json"] if os.path.isfile(p)]]
                for path in paths:
                    ids.append(intents.record(conn, c.id, intents.UNLINK, path, None, intents.COMMITTED,
                                              audit_object(request_id), now))
                conn.execute(update(clips).where(clips.c.id == c.id).values(state="deleted"))
                cat.audit_append(conn, now, actor, "request.remove", f"clip {c.id}", {
                    "request": request_id, "segment": seg.id, "uri": c.uri, "sha256": c.sha256, "state": c.state,
                    "original": c.imported_from, "original_deleted": include_originals and c.imported_from in outside})
                removed.append({"clip": c.id, "uri": c.uri, "state": c.state})
            ids_fam = {c.id for c in fam} | {seg.clip_id}
            same = [s.id for s in request_segments(conn, request_id)
                    if s.clip_id in ids_fam and s.handled_at is None]
            outcome = {"removed": removed,
                       "originals_deleted" if include_originals else "originals_outside": outside}
            mark_handled(conn, same or [seg.id], "remove", now, outcome)
        crashpoint("apply.remove.commit")
        _carry_out_committed(cat, [c.id for c in fam], None, "apply.remove.unlinked")
        return outcome
    finally:
        cat.release([c.id for c in fam], holder)


def _outcome(seg: Any) -> dict[str, Any]:
    return json.loads(seg.outcome) if seg.outcome else {}


def _remove_originals(cat: Catalogue, request_id: str, seg: Any, now: datetime, actor: str) -> dict[str, Any]:
    """Delete the batch originals (and their sidecars) that an earlier removal of ``seg`` left outside the archive:
    one transaction (audit events, the segment's outcome, unlink intents committed), then the unlinks."""
    ids: list[int] = []
    with cat.transaction() as conn:
        current = conn.execute(select(segments).where(segments.c.id == seg.id)).first()
        outcome = json.loads(current.outcome) if current.outcome else {}
        left = originals_of(outcome)
        for path in left:
            for p in [path, *[q for q in [path + ".json"] if os.path.isfile(q)]]:
                ids.append(intents.record(conn, seg.clip_id, intents.UNLINK, p, None, intents.COMMITTED,
                                          audit_object(request_id), now))
            cat.audit_append(conn, now, actor, "request.remove_original", audit_object(request_id),
                             {"segment": seg.id, "clip": seg.clip_id, "path": path})
        outcome["originals_outside"] = [p for p in outcome.get("originals_outside", []) if p not in left]
        outcome["originals_deleted"] = [*outcome.get("originals_deleted", []), *left]
        conn.execute(update(segments).where(segments.c.id == seg.id).values(
            outcome=json.dumps(outcome, sort_keys=True, default=str)))
    crashpoint("apply.originals.commit")
    _carry_out_committed(cat, [seg.clip_id], set(ids), "apply.originals.unlinked")
    return {"originals_deleted": left}


def _amend(cat: Catalogue, request_id: str, seg: Any, action: str, method: str, holds: HoldIndex, now: datetime,
           actor: str, holder: str) -> dict[str, Any]:
    """Redact or cut the segment in the clip and its copies: checks, lease, intents recorded, the new files
    written beside the old ones, one transaction (new sha256 and state, audit events, segment handled, intents
    committed), then the renames, then the intents dropped."""
    with cat.engine.connect() as conn:
        targets = amend_targets(conn, seg.clip_id)
        if not targets:
            raise RequestError(f"clip {seg.clip_id} is deleted: nothing to amend")
        _refuse_restricted(conn, targets)
    _refuse_held(holds, targets, action)
    _take(cat, targets, holder, now)
    ids: list[int] = []
    try:
        temps = {c.id: safe_files.temp_sibling(Path(c.uri), "amend") for c in targets}
        with cat.transaction() as conn:
            for c in targets:
                ids.append(intents.record(conn, c.id, intents.REPLACE, c.uri, str(temps[c.id]), intents.PREPARED,
                                          audit_object(request_id), now))
        crashpoint("apply.amend.intent")
        done = [_rewrite_to(c, temps[c.id], seg.start_offset_s, seg.end_offset_s, action, method) for c in targets]
        crashpoint("apply.amend.written")
        with cat.transaction() as conn:
            for d in done:
                values = d.pop("_values", None)
                if values is not None:
                    conn.execute(update(clips).where(clips.c.id == d["clip"]).values(**values))
                cat.audit_append(conn, now, actor, f"request.{action}", f"clip {d['clip']}",
                                 {"request": request_id, "segment": seg.id, **d})
            changed = {d["clip"] for d in done if "sha256" in d}
            mine = [i for i in intents.pending(conn, [c.id for c in targets]) if i.id in ids]
            intents.commit(conn, [i.id for i in mine if i.clip_id in changed])
            intents.done(conn, [i.id for i in mine if i.clip_id not in changed])
            same = [s.id for s in request_segments(conn, request_id)
                    if s.clip_id in {c.id for c in targets} and s.handled_at is None and s.id != seg.id]
            outcome = {"amended": done}
            mark_handled(conn, [seg.id] + same, action, now, outcome)
        crashpoint("apply.amend.commit")
        _carry_out_committed(cat, [c.id for c in targets], set(ids), "apply.amend.renamed")
        return outcome
    except BaseException:
        with cat.engine.connect() as conn:
            left = [i for i in intents.pending(conn, [c.id for c in targets])
                    if i.id in ids and i.status == intents.PREPARED]
        for i in left:
            roll_back(i)
        if left:
            with cat.transaction() as conn:
                intents.done(conn, [i.id for i in left])
        raise
    finally:
        cat.release([c.id for c in targets], holder)
