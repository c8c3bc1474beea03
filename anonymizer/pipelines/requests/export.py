"""``requests export``: package the selected segments as video files with a manifest and a summary."""

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
from anonymizer.domain.requests import frames_in
from anonymizer.errors import ConfigError
from anonymizer.media.reader import read_timestamps
from anonymizer.media.segments import rewrite
from anonymizer.pipelines.ingest import sha256_of
from anonymizer.pipelines.requests.common import (
    DIR_MODE, FILE_MODE, RequestError, audit_object, load_request, mark_handled, request_place, request_zone, restricting_requests,
)
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.requests import request_segments
from anonymizer.store.schema import clips

def export(cat: Catalogue, config: Config, request_id: str, out: Path, *, now: datetime, actor: str,
           segment_ids: list[str] | None = None) -> dict[str, Any]:
    """Package the selected segments (or ``segment_ids``) as video files with a JSON manifest and a summary, in a
    folder or a ``.zip``; written beside ``out`` and renamed into place when complete."""
    if out.exists():
        raise RequestError(f"{out} exists; give a new folder or .zip name")
    with cat.engine.connect() as conn:
        row = load_request(conn, request_id)
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
                                   f"{', '.join(restricting_requests(conn, c.id)) or '?'}); lift the restriction first")
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
            zone = site.timezone if site else None
            t0 = c.start_utc + timedelta(seconds=times[first])
            t1 = c.start_utc + timedelta(seconds=times[max(hit)])
            items.append({
                "segment": sid, "file": name, "sha256": sha256_of(work / name)[0], "frames": res.frames_out,
                "clip": c.id, "clip_sha256": c.sha256, "clip_state": c.state, "camera": c.camera_id,
                "site": c.site_id, "site_name": site.name if site else None,
                "start_utc": t0.isoformat(), "end_utc": t1.isoformat(), "timezone": zone,
                "start_local": local_label(t0, zone, ms=True), "end_local": local_label(t1, zone, ms=True),
                "clip_offsets_s": [times[first], times[max(hit)]],
                "segment_utc": [s.start_utc.isoformat(), s.end_utc.isoformat()],
            })
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
            lines.append(f"- {it['file']}: camera {it['camera']} at {it['site_name'] or it['site']}, "
                         f"{it['start_local']} to {it['end_local']} ({it['frames']} frames)")
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
        artefact_rows.record(conn, str(out.resolve()), "export", request_id, [it["clip"] for it in items], now)
        mark_handled(conn, chosen, "export", now, outcome)
        cat.audit_append(conn, now, actor, "request.export", audit_object(request_id), {"out": str(out), "segments": items})
    return {"request": request_id, "out": str(out), "segments": items}
