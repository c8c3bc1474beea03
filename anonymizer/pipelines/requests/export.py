"""``requests export``: package the selected segments as video files (a photo as a photo of its format) with a
manifest and a summary."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any

from sqlalchemy import select

from anonymizer.config import Config
from anonymizer.domain.local_time import local_label
from anonymizer.domain.face_tracks import Track
from anonymizer.domain.requests import frames_in
from anonymizer.errors import ConfigError
from anonymizer.media.photo import format_for, is_photo, read_photo, write_photo
from anonymizer.media.segments import rewrite
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.pipelines.batch import open_detectors
from anonymizer.pipelines.ingest import sha256_of
from anonymizer.pipelines.requests.access import redacted_copy
from anonymizer.pipelines.requests.tracks import load_tracks
from anonymizer.pipelines.requests.common import (
    RequestError, audit_object, frame_times, load_request, mark_handled, request_place, request_zone,
    restricting_requests,
)
from anonymizer.safe_files import DIR_MODE, FILE_MODE
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.requests import request_segments
from anonymizer.store.schema import clips

def export(cat: Catalogue, config: Config, request_id: str, out: Path, *, now: datetime, actor: str,
           segment_ids: list[str] | None = None, redact_others: bool | None = None,
           keep: dict[str, list[int]] | None = None,
           detectors: dict[str, LoadedDetector] | None = None) -> dict[str, Any]:
    """Package the selected segments (or ``segment_ids``; and the segments ``keep`` names) as video files with a
    JSON manifest and a summary, in a folder or a ``.zip``; written beside ``out`` and renamed into place when
    complete.

    ``redact_others`` (default: for access requests) makes one copy per recording (a raw clip and its copies are
    one recording; the original is the source) with every face and plate redacted except the face tracks in
    ``keep`` (segment id -> track numbers of the review page); without any, everyone is redacted."""
    keep = {k: list(v) for k, v in (keep or {}).items() if v}
    if out.exists():
        raise RequestError(f"{out} exists; give a new folder or .zip name")
    with cat.engine.connect() as conn:
        row = load_request(conn, request_id)
        segs = {s.id: s for s in request_segments(conn, request_id)}
        chosen = list(dict.fromkeys(segment_ids)) if segment_ids else [s.id for s in segs.values() if s.selected]
        chosen += [sid for sid in keep if sid not in chosen]  # a face kept names its segment: that one is exported
        unknown = [s for s in chosen if s not in segs]
        if unknown:
            raise ConfigError(f"request {request_id} has no segments {', '.join(unknown)}")
        if not chosen:
            raise ConfigError(f"request {request_id}: no segment selected (give --segments, --selection or --keep)")
        rows = {sid: conn.execute(select(clips).where(clips.c.id == segs[sid].clip_id)).first() for sid in chosen}
        for sid, c in rows.items():
            if c is None or c.state == "deleted":
                raise RequestError(f"segment {sid}: clip {segs[sid].clip_id} is deleted")
            if c.restricted:
                raise RequestError(f"segment {sid}: clip {c.id} is restricted (requests "
                                   f"{', '.join(restricting_requests(conn, c.id)) or '?'}); lift the restriction first")
    others = row.kind == "access" if redact_others is None else redact_others
    if keep and not others:
        raise ConfigError("a chosen face (--keep or the selection's tracks) only applies with --redact-others")
    plan = _plan(chosen, rows) if others else [(sid, [sid]) for sid in chosen]
    stray = sorted(set(keep) - {x for _, group in plan for x in group})
    if stray:
        raise ConfigError(f"faces chosen for segments that are not exported: {', '.join(stray)}")
    tracks_by_segment = load_tracks(config, request_id) if keep else {}
    work = out.with_name(f".{out.name}.partial-{os.getpid()}")
    scratch = out.with_name(f".{out.name}.scratch-{os.getpid()}")
    for d in (work, scratch):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(mode=DIR_MODE, parents=True)
    items = []
    try:
        for sid, group in plan:
            s, c = segs[sid], rows[sid]
            photo = is_photo(Path(c.uri))
            times = frame_times(Path(c.uri))
            hit = set(frames_in(s.start_offset_s, s.end_offset_s, times, c.duration_s or None))
            if not hit:
                raise RequestError(f"segment {sid}: no frame of clip {c.id} falls in it")
            name = f"{sid}-{c.camera_id}" + ((".png" if format_for(Path(c.uri)) == "PNG" else ".jpg") if photo
                                             else ".mp4")
            if others:
                chosen_tracks = _chosen_tracks(request_id, sid, group, c, keep, tracks_by_segment)
                if detectors is None:
                    detectors = open_detectors(config.anonymise)
                redaction = redacted_copy(Path(c.uri), work / name, sorted(hit), chosen_tracks, config.anonymise,
                                          detectors, scratch)
                frames_out = len(hit)
            elif photo:  # as recorded: the pixels as displayed, without the file's metadata (as a video's export)
                shown = read_photo(Path(c.uri))
                write_photo(work / name, shown.rgb, format_for(work / name), shown.alpha, shown.grey, FILE_MODE)
                frames_out = 1
                redaction = {"others_redacted": False}
            else:
                res = rewrite(Path(c.uri), work / name, keep=lambda i, hit=hit: i in hit, shift_to_zero=True,
                              mode=FILE_MODE)
                frames_out = res.frames_out
                redaction = {"others_redacted": False}
            first = min(hit)
            site = config.sites.get(c.site_id)
            zone = site.timezone if site else None
            t0 = c.start_utc + timedelta(seconds=times[first])
            t1 = c.start_utc + timedelta(seconds=times[max(hit)])
            items.append({
                "segment": sid, "segments": group, "file": name, "sha256": sha256_of(work / name)[0], "photo": photo,
                "frames": frames_out, "redaction": redaction, "redaction_text": "",
                "clip": c.id, "clip_sha256": c.sha256, "clip_state": c.state, "camera": c.camera_id,
                "site": c.site_id, "site_name": site.name if site else None,
                "start_utc": t0.isoformat(), "end_utc": t1.isoformat(), "timezone": zone,
                "start_local": local_label(t0, zone, ms=True), "end_local": local_label(t1, zone, ms=True),
                "clip_offsets_s": [times[first], times[max(hit)]],
                "segment_utc": [s.start_utc.isoformat(), s.end_utc.isoformat()],
            })
        for it in items:
            it["redaction_text"] = _redaction_text(it)
        manifest = {"request": request_id, "kind": row.kind, "received": row.received_at.isoformat(),
                    "window": [row.window_start.isoformat(), row.window_end.isoformat()],
                    "place": request_place(row).text(), "created_at": now.isoformat(), "created_by": actor,
                    "segments": items}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        rzone = request_zone(config, row)
        lines = [f"Recordings for request {request_id} ({row.kind}), received "
                 f"{row.received_at.astimezone(ZoneInfo(rzone) if rzone else timezone.utc).date()}.",
                 f"Asked for: {local_label(row.window_start, rzone)} to {local_label(row.window_end, rzone)} "
                 f"(UTC {row.window_start.isoformat()} to {row.window_end.isoformat()}), at "
                 f"{request_place(row).text()}.", f"{len(items)} recording segment(s), times in the site's local "
                 "time (UTC in manifest.json):", ""]
        for it in items:
            when = (f"a photo taken {it['start_local']}" if it["photo"] else
                    f"{it['start_local']} to {it['end_local']} ({it['frames']} frames)")
            lines.append(f"- {it['file']}: camera {it['camera']} at {it['site_name'] or it['site']}, {when}; "
                         f"{_redaction_text(it)}")
        if others:
            lines += ["", "To protect the other people recorded (GDPR art. 15(4)), every face and licence plate in "
                          "these files is redacted except the face(s) chosen as yours; the faces were tracked by "
                          "their position inside each recording only (no face recognition)."]
        lines += ["", "manifest.json lists each file with its sha256, the recording it was taken from, and what "
                      "was redacted and kept."]
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
        shutil.rmtree(scratch, ignore_errors=True)
    outcome = {"export": str(out), "files": {it["file"]: it["sha256"] for it in items},
               "redaction": {it["file"]: _redaction_text(it) for it in items}}
    with cat.transaction() as conn:
        artefact_rows.record(conn, str(out.resolve()), "export", request_id, [it["clip"] for it in items], now)
        mark_handled(conn, [x for _, group in plan for x in group], "export", now, outcome)
        cat.audit_append(conn, now, actor, "request.export", audit_object(request_id), {"out": str(out), "segments": items})
    return {"request": request_id, "out": str(out), "segments": items}


def _plan(chosen: list[str], rows: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """One export per recording: the chosen segments grouped by their raw clip; the source is the original's
    segment when it was chosen (an anonymised copy has its faces redacted already), else the first."""
    groups: dict[str, list[str]] = {}
    for sid in chosen:
        c = rows[sid]
        groups.setdefault(c.derived_from or c.id, []).append(sid)
    plan = []
    for group in groups.values():
        source = next((x for x in group if rows[x].state in ("raw", "amended")), group[0])
        plan.append((source, group))
    return plan


def _chosen_tracks(request_id: str, sid: str, group: list[str], c: Any, keep: dict[str, list[int]],
                   found: dict[str, dict[str, Any]]) -> list[Track]:
    wanted = sorted({t for x in group for t in keep.get(x, [])})
    if not wanted:
        return []
    entry = next((found[x] for x in [sid, *group] if x in found), None)
    if entry is None:
        raise RequestError(f"segment {sid}: no face tracks were found for it; run 'anonymizer requests review "
                           f"{request_id}' (access requests look for faces) and choose again")
    if entry["clip"] != c.id or entry["clip_sha256"] != c.sha256:
        raise RequestError(f"segment {sid}: clip {c.id} changed since the review; review again and choose again")
    tracks = {t.id: t for t in entry["tracks"]}
    unknown = [str(t) for t in wanted if t not in tracks]
    if unknown:
        raise ConfigError(f"segment {sid}: no face {', '.join(unknown)} (faces on the review page: "
                          f"{', '.join(str(t) for t in sorted(tracks)) or 'none'})")
    return [tracks[t] for t in wanted]


def _kept_text(r: dict[str, Any], track: int, frames: int) -> str:
    """A kept face's frames as written: shown, and partly redacted where someone or something else overlaps it."""
    text = f"face {track} (on {r['kept_frames'].get(str(track), 0)} of {frames} frames"
    overlapped = len((r.get("overlapped_frames") or {}).get(str(track), []))
    if overlapped:
        text += f"; partly redacted on {overlapped} frame(s) where someone or something else overlaps it"
    return text + ")"


def _redaction_text(it: dict[str, Any]) -> str:
    r = it["redaction"]
    if not r.get("others_redacted"):
        return "as recorded" if it["clip_state"] != "anonymised" else "the anonymised copy"
    if r["kept_faces"]:
        faces = ", ".join(_kept_text(r, t, it["frames"]) for t in r["kept_faces"])
        return f"everyone else redacted; kept unredacted: {faces}"
    return "no face was chosen as the requester: every face and plate is redacted"
