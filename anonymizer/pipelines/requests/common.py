"""What every request action shares: the error type, loading a request, its audit object, its folder, and the
clip family queries (a raw clip with its copies; open restrictions)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import select, update

from anonymizer.config import Config
from anonymizer.safe_files import DIR_MODE, FILE_MODE  # noqa: F401  (re-exported: the request modules' modes)
from anonymizer.safe_files import write_private as private_file  # noqa: F401  (re-exported)
from anonymizer.domain.local_time import local_label
from anonymizer.domain.requests import CameraInfo, Place, PlaceIndex, SiteInfo, candidate_sites, days_left
from anonymizer.errors import AnonymizerError
from anonymizer.media.photo import is_photo
from anonymizer.media.reader import read_timestamps
from anonymizer.store.requests import as_plain, get_request, requests, segments
from anonymizer.store.schema import clips



class RequestError(AnonymizerError):
    """A request cannot be found, changed or closed as asked."""


def frame_times(path: Path) -> list[float]:
    """Presentation times (seconds) of a clip's frames. A photo is a clip of one frame at 0, read with Pillow
    (media.photo) when read at all: PyAV would ignore or misread its EXIF orientation."""
    return [0.0] if is_photo(path) else read_timestamps(path)


_last_index: list[tuple[Config, PlaceIndex]] = []


def place_index(config: Config) -> PlaceIndex:
    """The configuration's sites and cameras for matching places (kept for the last configuration seen: a
    ``find`` needs it twice, and a configuration of hundreds of cameras takes milliseconds to index)."""
    if _last_index and _last_index[0][0] is config:
        return _last_index[0][1]
    index = PlaceIndex(
        {s.id: SiteInfo(s.id, s.name, s.lat, s.lon, s.radius_m) for s in config.sites.values()},
        {c.id: CameraInfo(c.id, c.site) for c in config.cameras.values()},
    )
    _last_index[:] = [(config, index)]
    return index


def place_sites(config: Config, place: Place) -> list[str] | None:
    """The sites a request's place is about (None: any site)."""
    if place.kind == "camera":
        cam = config.cameras.get(place.id or "")
        return [cam.site] if cam else []
    found = candidate_sites(place, place_index(config))
    return None if found is None else list(found)


def request_zone(config: Config | None, row: Any) -> str | None:
    """The zone a request's times are shown in: its place's site's zone (None when the place spans several)."""
    if config is None:
        return None
    sites = place_sites(config, request_place(row)) or []
    zones = {config.sites[s].timezone for s in sites if s in config.sites}
    return zones.pop() if len(zones) == 1 else None


def site_zone(config: Config | None, site_id: str | None) -> str | None:
    site = config.sites.get(site_id or "") if config is not None else None
    return site.timezone if site else None


def audit_object(request_id: str) -> str:
    return f"request:{request_id}"


def segment_id(request_id: str, clip_id: str) -> str:
    return "s" + sha256(f"{request_id}/{clip_id}".encode()).hexdigest()[:10]


def load_request(conn: Any, request_id: str) -> Any:
    row = get_request(conn, request_id)
    if row is None:
        raise RequestError(f"no request {request_id!r} (list them with 'anonymizer requests list --all')")
    return row


def request_place(row: Any) -> Place:
    return Place(row.place_kind, row.place_id, row.lat, row.lon, row.radius_m)


def request_dir(config: Config, request_id: str) -> Path:
    return config.archive / "requests" / request_id


def describe(row: Any, now: datetime, config: Config | None = None) -> dict[str, Any]:
    """The request as a dict, with days left and, when the place has one zone, its times in local time."""
    d = as_plain(row)
    zone = request_zone(config, row)
    d["timezone"] = zone
    d["window_local"] = [local_label(row.window_start, zone), local_label(row.window_end, zone)]
    d["received_local"] = local_label(row.received_at, zone)
    d["due_local"] = local_label(row.due_at, zone)
    d["days_left"] = days_left(row.due_at, now)
    d["overdue"] = row.status == "open" and d["days_left"] < 0
    d["place"] = request_place(row).text()
    return d


def family(conn: Any, clip_id: str) -> list[Any]:
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


def amend_targets(conn: Any, clip_id: str) -> list[Any]:
    """The clip itself and, for a raw original, its copies (same timeline, so the same offsets)."""
    row = conn.execute(select(clips).where(clips.c.id == clip_id)).first()
    if row is None or row.state == "deleted":
        return []
    out = [row]
    if row.derived_from is None:
        out += [r for r in conn.execute(select(clips).where(clips.c.derived_from == row.id).order_by(clips.c.id))
                if r.state != "deleted"]
    return out


def restricting_requests(conn: Any, clip_id: str, except_request: str | None = None) -> list[str]:
    """Open requests whose handled restriction covers this clip."""
    q = select(segments.c.request_id).join(requests, requests.c.id == segments.c.request_id).where(
        segments.c.action == "restrict", segments.c.handled_at.is_not(None), requests.c.status == "open")
    fam = [r.id for r in family(conn, clip_id)] or [clip_id]
    q = q.where(segments.c.clip_id.in_(fam))
    return sorted({r.request_id for r in conn.execute(q)} - {except_request})


def mark_handled(conn: Any, seg_ids: Iterable[str], action: str, now: datetime, outcome: dict[str, Any]) -> None:
    conn.execute(update(segments).where(segments.c.id.in_(list(seg_ids))).values(
        action=action, handled_at=now, outcome=json.dumps(outcome, sort_keys=True, default=str), selected=True))


def originals_of(outcome: dict[str, Any] | None) -> list[str]:
    """The batch originals outside the archive that a removal left (``apply`` without --include-originals) and
    that are still there."""
    listed = (outcome or {}).get("originals_outside") or []
    return [p for p in listed if os.path.isfile(p)]


def originals_report(segments_info: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every batch original a removal of the request left outside the archive or deleted there, with whether it
    is still there (``show``'s segments)."""
    out = []
    for s in segments_info:
        outcome = s.get("outcome") if isinstance(s.get("outcome"), dict) else {}
        for p in [*outcome.get("originals_outside", []), *outcome.get("originals_deleted", [])]:
            out.append({"path": p, "segment": s["id"], "exists": os.path.isfile(p)})
    return out


def closed_deadline(info: dict[str, Any], config: Config) -> datetime | None:
    """When a closed request's artefacts are due (None while it is open: set at close)."""
    if info.get("status") == "open" or not info.get("closed_at"):
        return None
    closed = info["closed_at"]
    closed = datetime.fromisoformat(closed) if isinstance(closed, str) else closed
    return closed + timedelta(days=config.artefact_days)
