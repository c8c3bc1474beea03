"""Request records: new, list, show, close."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from anonymizer.config import Config
from anonymizer.domain.requests import (
    DEFAULT_SITE_RADIUS_M, KINDS, Place, RequestRuleError, Tolerance, Window, due_date, haversine_m, parse_place,
)
from anonymizer.errors import ConfigError
from anonymizer.domain.local_time import local_label, resolve, tz_option, zone_for_sites
from anonymizer.pipelines.local_times import site_zones
from anonymizer.pipelines.requests.common import (
    RequestError, audit_object, describe, load_request, place_index, place_sites, site_zone,
)
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.requests import as_plain, request_segments, requests, segments_with_clips

def new_request(cat: Catalogue, config: Config, *, kind: str, received: datetime, start: datetime, end: datetime,
                place: str, now: datetime, actor: str, radius_m: float | None = None, description: str = "",
                tolerance: Tolerance = Tolerance(), tz: str | None = None) -> dict[str, Any]:
    """Record a request. Times without an offset are read in ``tz`` (``site``, ``UTC``, a zone or an offset) or,
    without it, in the zone of the place's site; refused when the place spans several zones. The receipt's
    calendar (for the due date) is that zone's too."""
    if kind not in KINDS:
        raise ConfigError(f"request kind {kind!r}: expected one of {', '.join(KINDS)}")
    try:
        where = parse_place(place, place_index(config), radius_m)
    except RequestRuleError as exc:
        raise ConfigError(f"request: {exc}") from exc
    sites = place_sites(config, where)
    warnings: list[str] = []
    if where.kind == "point" and not sites:  # the point is near no site: blame --place, not the times
        far = (f"--place {place.strip()}: no site within {where.radius_m:g} m of this point "
               f"({sites_by_distance(config, where)})")
        naive = any(t.tzinfo is None for t in (received, start, end))
        if (naive and tz is None) or (tz or "").strip().casefold() == "site":
            raise ConfigError(f"{far}, so no zone is known for times with no UTC offset; fix: give a site or camera, "
                              "a point nearer a site (or a larger radius: 'lat,lon,radius_m'), or times with an offset "
                              "or --tz")
        warnings.append(f"{far}: no recording can match it")
    zones = zone_for_sites(site_zones(config), sites)
    zone = tz_option(tz, zones)
    received_at = resolve(received, zone, "start", what="--received")
    if received.tzinfo is None and zone is not None:
        received = received_at.astimezone(zone)  # the due date follows that zone's calendar
    start = resolve(start, zone, "start", what="--from")
    end = resolve(end, zone, "end", what="--to")
    try:
        window = Window(start, end)
        due = due_date(received)
    except RequestRuleError as exc:
        raise ConfigError(f"request: {exc}") from exc
    if received > now:
        raise ConfigError(f"request: received {received.isoformat()} is in the future")
    if window.start > now:  # accepted (the DPO may know better), but most likely a wrong date
        zname = str(zone) if isinstance(zone, ZoneInfo) else None
        warnings.append(f"the window starts in the future ({local_label(window.start, zname)}): nothing can have been "
                        "recorded in it yet; check --from and --to")
    rid = "r" + secrets.token_hex(4)
    with cat.transaction() as conn:
        conn.execute(requests.insert().values(
            id=rid, kind=kind, status="open", received_at=received, due_at=due, window_start=window.start,
            window_end=window.end, place_text=place.strip(), place_kind=where.kind, place_id=where.id, lat=where.lat,
            lon=where.lon, radius_m=where.radius_m, tolerance_s=tolerance.certain_s,
            uncertain_tolerance_s=tolerance.uncertain_s, description=description.strip(), created_at=now,
            created_by=actor,
        ))
        row = load_request(conn, rid)
        cat.audit_append(conn, now, actor, "request.new", audit_object(rid), as_plain(row))
    return {**describe(row, now, config), "warnings": warnings}


def sites_by_distance(config: Config, point: Place, most: int = 5) -> str:
    """The configured sites nearest ``point`` first, with their distance and radius (for an error's text)."""
    assert point.lat is not None and point.lon is not None
    placed = sorted(((haversine_m(point.lat, point.lon, s.lat, s.lon), s) for s in config.sites.values()
                     if s.lat is not None and s.lon is not None), key=lambda x: (x[0], x[1].id))
    items = [f"{s.id} {d / 1000:.1f} km away, radius {DEFAULT_SITE_RADIUS_M if s.radius_m is None else s.radius_m:g} m"
             for d, s in placed[:most]]
    items += [f"{len(placed) - most} more"] if len(placed) > most else []
    unplaced = sorted(s.id for s in config.sites.values() if s.lat is None or s.lon is None)
    items += [f"{', '.join(unplaced)}: no location"] if unplaced else []
    return "sites: " + ("; ".join(items) or "none configured")


def list_requests(cat: Catalogue, now: datetime, include_closed: bool = False,
                  config: Config | None = None) -> list[dict[str, Any]]:
    """Open requests (all with ``include_closed``), overdue first, then by due date."""
    q = select(requests)
    if not include_closed:
        q = q.where(requests.c.status == "open")
    with cat.engine.connect() as conn:
        rows = [describe(r, now, config) for r in conn.execute(q)]
        for d in rows:
            segs = request_segments(conn, d["id"])
            d["segments"] = len(segs)
            d["selected"] = sum(1 for s in segs if s.selected)
            d["unhandled"] = sum(1 for s in segs if s.selected and s.handled_at is None)
    rows.sort(key=lambda d: (not d["overdue"], d["status"] != "open", d["due_at"], d["id"]))
    return rows


def show(cat: Catalogue, request_id: str, now: datetime, config: Config | None = None) -> dict[str, Any]:
    """The request and its stored segments; with ``config``, times also in the site's local time."""
    with cat.engine.connect() as conn:
        return show_in(conn, load_request(conn, request_id), now, config)


def show_in(conn: Any, row: Any, now: datetime, config: Config | None = None) -> dict[str, Any]:
    """``show`` of the request ``row`` inside the caller's transaction: the segments and their clips in one query
    (not one per segment: a request may match hundreds)."""
    out = describe(row, now, config)
    out["segments"] = [_segment_view(s, c, config) for s, c in segments_with_clips(conn, row.id)]
    return out


def _segment_view(s: Any, c: Any, config: Config | None = None) -> dict[str, Any]:
    d = as_plain(s)
    d["explanation"] = s.explanation
    d["outcome"] = json.loads(s.outcome) if s.outcome else None
    if c is not None:
        d["clip"] = {"id": c.id, "uri": c.uri, "camera": c.camera_id, "site": c.site_id, "state": c.state,
                     "sha256": c.sha256, "restricted": bool(c.restricted), "derived_from": c.derived_from,
                     "start_utc": c.start_utc.isoformat(), "time_source": c.time_source,
                     "time_uncertain": bool(c.time_uncertain), "duration_s": c.duration_s}
    zone = site_zone(config, c.site_id if c is not None else None)
    d["timezone"] = zone
    d["start_local"] = local_label(s.start_utc, zone, ms=True)
    d["end_local"] = local_label(s.end_utc, zone, ms=True)
    return d


def close(cat: Catalogue, request_id: str, *, now: datetime, actor: str, note: str = "",
          artefact_days: int = 30, config: Config | None = None) -> dict[str, Any]:
    """Close a request; refused while a selected segment is still unhandled. Its artefacts (review pages, exports,
    reports) are due ``artefact_days`` later: the purge deletes them then."""
    with cat.transaction() as conn:
        row = load_request(conn, request_id)
        if row.status != "open":
            raise RequestError(f"request {request_id} is already {row.status}")
        pending = [s.id for s in request_segments(conn, request_id) if s.selected and s.handled_at is None]
        if pending:
            raise RequestError(f"request {request_id}: {len(pending)} selected segments are not handled yet "
                               f"({', '.join(pending)}); apply or export them first")
        conn.execute(update(requests).where(requests.c.id == request_id).values(
            status="closed", closed_at=now, closed_by=actor, close_note=note.strip() or None))
        row = load_request(conn, request_id)
        deadline = now + timedelta(days=artefact_days)
        n = artefact_rows.set_deadline(conn, request_id, deadline)
        cat.audit_append(conn, now, actor, "request.close", audit_object(request_id),
                         {**as_plain(row), "artefacts": n, "artefacts_purge_after": deadline.isoformat()})
    return describe(row, now, config)  # with the configuration: dates in the site's calendar, not UTC's
