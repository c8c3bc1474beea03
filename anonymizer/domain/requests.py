"""Data-subject requests: the pure rules. Which recordings a request's time and place match, with the segment
(offsets inside each clip) and an explanation of every match, and when the request is due.

No clock, no file, no database: the pipeline hands in the clips, sites and cameras, and ``now`` where needed.

Time. A clip covers ``[start, end)`` (``end = start + duration``). The request's window ``[from, to]`` is widened
on both sides by a tolerance: ``Tolerance.certain_s`` for clips whose recording time came from a trusted source
(sidecar, filename, container), ``Tolerance.uncertain_s`` for clips whose time is uncertain (the file's
modification time, or a camera clock reading in a DST gap or overlap). A clip matches when the widened window
meets it: ``from - tol < end`` and ``to + tol >= start`` (a window that ends exactly when a clip starts matches
that clip's first instant). The segment is the intersection, as offsets in seconds from the clip's start.

Place. A request names a site or a camera (by id or by name) or a point ``lat,lon`` with a radius. A point
matches a site with a location when the great-circle distance (haversine) from the point to the site's centre is
at most the request's radius plus the site's radius (the two discs touch or overlap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence

from anonymizer.domain.retention import add_calendar_months

UTC = timezone.utc
KINDS = ("erasure", "access", "restriction", "objection")
PLACE_KINDS = ("site", "camera", "point")
MATCHED_STATES = ("raw", "anonymised", "amended", "quarantined")
EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
DEFAULT_RADIUS_M = 100.0
DEFAULT_SITE_RADIUS_M = 100.0  # a site with a location but no radius (the configuration's default)
#: Seconds the window is widened by, for a trusted recording time and for an uncertain one.
DEFAULT_TOLERANCE_S = 60.0
DEFAULT_UNCERTAIN_TOLERANCE_S = 6 * 3600.0


class RequestRuleError(ValueError):
    """A request's time window or place is invalid (the pipeline turns it into a usage error)."""


@dataclass(frozen=True)
class Tolerance:
    certain_s: float = DEFAULT_TOLERANCE_S
    uncertain_s: float = DEFAULT_UNCERTAIN_TOLERANCE_S

    def __post_init__(self) -> None:
        if not (0 <= self.certain_s <= self.uncertain_s):
            raise RequestRuleError(
                f"tolerances must satisfy 0 <= certain ({self.certain_s}) <= uncertain ({self.uncertain_s})")

    def for_clip(self, uncertain: bool) -> float:
        return self.uncertain_s if uncertain else self.certain_s

    @property
    def widest(self) -> float:
        return self.uncertain_s


@dataclass(frozen=True)
class Place:
    """Where the requester was: a site or a camera (by id), or a point with a radius (metres)."""

    kind: str  # site | camera | point
    id: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None

    def text(self) -> str:
        if self.kind == "point":
            return f"{self.lat:.6f},{self.lon:.6f} (radius {self.radius_m:g} m)"
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class SiteInfo:
    id: str
    name: str
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None


@dataclass(frozen=True)
class CameraInfo:
    id: str
    site_id: str


@dataclass(frozen=True)
class ClipSpan:
    """What matching needs of a clip: where and when it was recorded, and how sure the time is."""

    id: str
    camera_id: str
    site_id: str
    start: datetime  # aware
    end: datetime | None  # aware; None: unknown duration (treated as an instant)
    time_source: str = "sidecar"
    time_uncertain: bool = False
    state: str = "raw"


@dataclass(frozen=True)
class Segment:
    """The part of one clip that a request matches: ``[start_offset_s, end_offset_s]`` from the clip's start."""

    clip_id: str
    start_offset_s: float
    end_offset_s: float
    start: datetime  # aware UTC: clip start + start offset
    end: datetime
    tolerance_s: float
    time_reason: str
    place_reason: str
    distance_m: float | None = None

    @property
    def explanation(self) -> str:
        return f"time: {self.time_reason}; place: {self.place_reason}"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for t in (self.start, self.end):
            if t.tzinfo is None or t.utcoffset() is None:
                raise RequestRuleError(f"time {t.isoformat()} has no offset (times must be aware)")
        if self.end < self.start:
            raise RequestRuleError(f"the window ends ({self.end.isoformat()}) before it starts "
                                   f"({self.start.isoformat()})")


@dataclass
class PlaceIndex:
    """Sites and cameras by id and by name (names are matched case-insensitively)."""

    sites: Mapping[str, SiteInfo]
    cameras: Mapping[str, CameraInfo]
    _site_names: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._site_names = {s.name.strip().casefold(): s.id for s in self.sites.values()}


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on a sphere of the Earth's mean radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def parse_place(text: str, index: PlaceIndex, radius_m: float | None = None) -> Place:
    """``lat,lon`` (optionally ``lat,lon,radius_m``), a camera id, a site id, or a site name."""
    raw = text.strip()
    if not raw:
        raise RequestRuleError("the place is empty: give a site or camera (id or name) or 'lat,lon'")
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) in (2, 3):
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            nums = []
        if nums:
            lat, lon = nums[0], nums[1]
            r = nums[2] if len(nums) == 3 else (radius_m if radius_m is not None else DEFAULT_RADIUS_M)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise RequestRuleError(f"point {raw!r}: latitude must be in [-90, 90] and longitude in [-180, 180]")
            if not (math.isfinite(r) and r >= 0):
                raise RequestRuleError(f"point {raw!r}: the radius must be a non-negative number of metres")
            return Place("point", lat=lat, lon=lon, radius_m=r)
    if raw in index.cameras:
        return Place("camera", id=raw)
    if raw in index.sites:
        return Place("site", id=raw)
    folded = raw.casefold()
    for cid in index.cameras:
        if cid.casefold() == folded:
            return Place("camera", id=cid)
    if folded in index._site_names:
        return Place("site", id=index._site_names[folded])
    known = sorted(index.sites) + sorted(index.cameras)
    raise RequestRuleError(f"place {raw!r} is no site or camera (id or name) and no 'lat,lon' point; "
                           f"known: {', '.join(known) or 'none'}")


def sites_near(point: Place, sites: Iterable[SiteInfo]) -> dict[str, float]:
    """Sites whose disc touches the point's disc, with the distance from the point to each site's centre."""
    out: dict[str, float] = {}
    assert point.lat is not None and point.lon is not None
    r = point.radius_m or 0.0
    for s in sites:
        if s.lat is None or s.lon is None:
            continue
        d = haversine_m(point.lat, point.lon, s.lat, s.lon)
        if d <= r + (s.radius_m if s.radius_m is not None else DEFAULT_SITE_RADIUS_M):
            out[s.id] = d
    return out


def _place_reason(place: Place, clip: ClipSpan, index: PlaceIndex, near: dict[str, float]) -> tuple[str, float | None] | None:
    if place.kind == "camera":
        return (f"camera {clip.camera_id} is the camera asked for", None) if clip.camera_id == place.id else None
    if place.kind == "site":
        if clip.site_id != place.id:
            return None
        site = index.sites.get(clip.site_id)
        name = f" ({site.name})" if site else ""
        return f"recorded at site {clip.site_id}{name}, the site asked for", None
    if clip.site_id not in near:
        return None
    site = index.sites[clip.site_id]
    d = near[clip.site_id]
    sr = site.radius_m if site.radius_m is not None else DEFAULT_SITE_RADIUS_M
    return (f"site {site.id} ({site.name}) is {d:.0f} m from the point, within the request's radius "
            f"{place.radius_m:g} m + the site's radius {sr:g} m", d)


def _fmt(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def match_clip(window: Window, place: Place, clip: ClipSpan, index: PlaceIndex, tolerance: Tolerance,
               near: dict[str, float] | None = None) -> Segment | None:
    """The segment of ``clip`` that the request matches, or None."""
    if clip.state not in MATCHED_STATES:
        return None
    if place.kind == "point" and near is None:
        near = sites_near(place, index.sites.values())
    why_place = _place_reason(place, clip, index, near or {})
    if why_place is None:
        return None
    tol = tolerance.for_clip(clip.time_uncertain)
    lo = window.start - timedelta(seconds=tol)
    hi = window.end + timedelta(seconds=tol)
    end = clip.end if clip.end is not None and clip.end > clip.start else clip.start
    instant = end == clip.start
    # [start, end) for a clip with a duration; the single instant `start` for one without.
    if instant:
        if not (lo <= clip.start <= hi):
            return None
    elif not (lo < end and hi >= clip.start):
        return None
    seg_start = max(lo, clip.start)
    seg_end = min(hi, end)
    a = (seg_start - clip.start).total_seconds()
    b = (seg_end - clip.start).total_seconds()
    clock = "uncertain recording time" if clip.time_uncertain else "recording time"
    why_time = (f"clip {_fmt(clip.start)}..{_fmt(end)} overlaps the window {_fmt(window.start)}..{_fmt(window.end)} "
                f"widened by {tol:g} s ({clock} from {clip.time_source}); segment {a:.3f}..{b:.3f} s into the clip")
    return Segment(clip.id, a, b, seg_start.astimezone(UTC), seg_end.astimezone(UTC), tol, why_time, why_place[0],
                   why_place[1])


def match(window: Window, place: Place, clips: Iterable[ClipSpan], index: PlaceIndex,
          tolerance: Tolerance = Tolerance()) -> list[Segment]:
    """Every clip the request's window and place match, as segments in recording order (then clip id)."""
    near = sites_near(place, index.sites.values()) if place.kind == "point" else None
    out = []
    for c in clips:
        seg = match_clip(window, place, c, index, tolerance, near)
        if seg is not None:
            out.append(seg)
    out.sort(key=lambda s: (s.start, s.clip_id))
    return out


def candidate_sites(place: Place, index: PlaceIndex) -> Sequence[str] | None:
    """Site ids a clip must be at to possibly match (None: any; for a camera the caller filters by camera)."""
    if place.kind == "site":
        return [place.id] if place.id else []
    if place.kind == "point":
        return sorted(sites_near(place, index.sites.values()))
    return None


def due_date(received: datetime) -> datetime:
    """One calendar month after receipt (GDPR art. 12(3)), the day clamped to the month's end (31 Jan -> 28/29
    Feb), in the calendar of the offset the receipt was given in."""
    if received.tzinfo is None or received.utcoffset() is None:
        raise RequestRuleError("the receipt time must be aware")
    return add_calendar_months(received, 1)


def days_left(due: datetime, now: datetime) -> int:
    """Whole days until the due date (negative: overdue), counted by calendar date in UTC."""
    return (due.astimezone(UTC).date() - now.astimezone(UTC).date()).days


def frames_in(segment_start_s: float, segment_end_s: float, times: Sequence[float], clip_end_s: float | None = None
              ) -> list[int]:
    """Indices of the frames on screen at some moment of ``[start, end]``: frame i is shown from ``times[i]`` until
    the next frame's time (the last one until ``clip_end_s``, or for an instant when unknown). ``times`` are the
    frames' presentation times in seconds from the clip's start, increasing."""
    out = []
    n = len(times)
    for i, t in enumerate(times):
        nxt = times[i + 1] if i + 1 < n else (clip_end_s if clip_end_s is not None and clip_end_s > t else None)
        shown_until = nxt if nxt is not None else t
        if t <= segment_end_s and (shown_until > segment_start_s or t >= segment_start_s):
            out.append(i)
    return out
