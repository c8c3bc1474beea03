"""Request matching (pure): windows at clip edges, time zones, uncertain clocks, radius at the boundary, due dates."""

import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from anonymizer.domain.requests import (
    CameraInfo,
    ClipSpan,
    Place,
    PlaceIndex,
    RequestRuleError,
    SiteInfo,
    Tolerance,
    Window,
    due_date,
    days_left,
    frames_in,
    haversine_m,
    match,
    match_clip,
    parse_place,
)

UTC = timezone.utc
T0 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
INDEX = PlaceIndex(
    {"hq": SiteInfo("hq", "Headquarters", 52.52, 13.405, 150.0), "street": SiteInfo("street", "Main street")},
    {"gate": CameraInfo("gate", "street"), "lab1": CameraInfo("lab1", "hq")},
)
NO_TOL = Tolerance(0, 0)


def clip(start=T0, seconds=600.0, cam="lab1", uncertain=False, state="raw", cid="c1"):
    site = INDEX.cameras[cam].site_id
    return ClipSpan(cid, cam, site, start, start + timedelta(seconds=seconds), "mtime" if uncertain else "sidecar",
                    uncertain, state)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


# ------------------------------------------------------------------ examples

def test_segment_offsets_and_explanation():
    seg = match_clip(Window(at(120), at(180)), Place("camera", "lab1"), clip(), INDEX, NO_TOL)
    assert seg is not None
    assert (seg.start_offset_s, seg.end_offset_s) == (120, 180)
    assert seg.start == at(120) and seg.end == at(180)
    assert "camera lab1" in seg.explanation and "overlaps the window" in seg.explanation


def test_window_at_clip_edges():
    c = clip()  # [0, 600)
    place = Place("site", "hq")
    # ends exactly when the clip starts: the first instant matches
    seg = match_clip(Window(at(-60), at(0)), place, c, INDEX, NO_TOL)
    assert seg and seg.start_offset_s == seg.end_offset_s == 0
    # starts exactly when the clip ends: nothing (the clip covers [start, end))
    assert match_clip(Window(at(600), at(700)), place, c, INDEX, NO_TOL) is None
    # one microsecond before the end still matches
    seg = match_clip(Window(at(600) - timedelta(microseconds=1), at(700)), place, c, INDEX, NO_TOL)
    assert seg and seg.end_offset_s == 600
    assert match_clip(Window(at(-60), at(0) - timedelta(microseconds=1)), place, c, INDEX, NO_TOL) is None


def test_tolerance_and_uncertain_clock():
    tol = Tolerance(60, 3600)
    place = Place("camera", "lab1")
    w = Window(at(-1800), at(-1200))  # 20-30 minutes before the clip
    assert match_clip(w, place, clip(), INDEX, tol) is None
    seg = match_clip(w, place, clip(uncertain=True), INDEX, tol)
    assert seg and seg.tolerance_s == 3600 and "uncertain" in seg.time_reason
    assert match_clip(Window(at(-90), at(-61)), place, clip(), INDEX, tol) is None
    assert match_clip(Window(at(-90), at(-60)), place, clip(), INDEX, tol) is not None


def test_place_rules():
    c = clip(cam="gate")
    w = Window(at(0), at(10))
    assert match_clip(w, Place("camera", "gate"), c, INDEX, NO_TOL)
    assert match_clip(w, Place("camera", "lab1"), c, INDEX, NO_TOL) is None
    assert match_clip(w, Place("site", "street"), c, INDEX, NO_TOL)
    assert match_clip(w, Place("site", "hq"), c, INDEX, NO_TOL) is None
    # a site without a location never matches a point
    assert match_clip(w, Place("point", lat=0, lon=0, radius_m=1e7), c, INDEX, NO_TOL) is None


def test_deleted_clips_never_match():
    assert match_clip(Window(at(0), at(10)), Place("site", "hq"), clip(state="deleted"), INDEX, NO_TOL) is None


def test_parse_place():
    assert parse_place("lab1", INDEX) == Place("camera", "lab1")
    assert parse_place("hq", INDEX) == Place("site", "hq")
    assert parse_place("headquarters", INDEX) == Place("site", "hq")
    assert parse_place("52.5,13.4", INDEX, 50) == Place("point", lat=52.5, lon=13.4, radius_m=50)
    assert parse_place("52.5, 13.4, 20", INDEX) == Place("point", lat=52.5, lon=13.4, radius_m=20)
    for bad in ("", "nowhere", "95,0", "1,2,-3"):
        with pytest.raises(RequestRuleError):
            parse_place(bad, INDEX)


def test_due_date_month_end():
    assert due_date(datetime(2025, 1, 31, 9, tzinfo=UTC)) == datetime(2025, 2, 28, 9, tzinfo=UTC)
    assert due_date(datetime(2024, 1, 31, tzinfo=UTC)) == datetime(2024, 2, 29, tzinfo=UTC)
    assert due_date(datetime(2024, 12, 15, tzinfo=UTC)) == datetime(2025, 1, 15, tzinfo=UTC)
    assert days_left(datetime(2025, 2, 28, tzinfo=UTC), datetime(2025, 3, 2, 23, tzinfo=UTC)) == -2


def test_frames_in():
    times = [0.0, 0.04, 0.08, 0.12]
    assert frames_in(0.05, 0.09, times, 0.16) == [1, 2]
    assert frames_in(0.0, 0.0, times, 0.16) == [0]
    assert frames_in(0.04, 0.04, times, 0.16) == [1]  # the instant a frame starts: that frame only
    assert frames_in(0.2, 0.3, times, 0.16) == []
    assert frames_in(0.15, 0.3, times, 0.16) == [3]


# ------------------------------------------------------------------ properties

offsets = st.floats(min_value=-7200, max_value=7200, allow_nan=False)
durations = st.floats(min_value=0.04, max_value=3600, allow_nan=False)
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
                         "Pacific/Chatham"])


@settings(max_examples=300, deadline=None)
@given(ws=offsets, wlen=st.floats(min_value=0, max_value=7200), dur=durations, certain=st.floats(0, 600),
       extra=st.floats(0, 7200), uncertain=st.booleans())
def test_segment_is_inside_clip_and_widened_window(ws, wlen, dur, certain, extra, uncertain):
    tol = Tolerance(certain, certain + extra)
    w = Window(at(ws), at(ws + wlen))
    c = clip(seconds=dur, uncertain=uncertain)
    seg = match_clip(w, Place("camera", "lab1"), c, INDEX, tol)
    t = tol.for_clip(uncertain)
    lo, hi = w.start - timedelta(seconds=t), w.end + timedelta(seconds=t)
    overlaps = lo < c.end and hi >= c.start
    assert (seg is not None) == overlaps
    if seg:
        assert 0 <= seg.start_offset_s <= seg.end_offset_s <= dur + 1e-6
        assert lo <= seg.start <= seg.end <= hi
        assert c.start <= seg.start and seg.end <= c.end


@settings(max_examples=200, deadline=None)
@given(ws=offsets, wlen=st.floats(0, 7200), dur=durations, z1=zones, z2=zones, shift=st.integers(-10**6, 10**6))
def test_time_zones_do_not_matter(ws, wlen, dur, z1, z2, shift):
    """The same instants written in other zones, and everything shifted by the same amount, match the same way."""
    c = clip(seconds=dur)
    w = Window(at(ws), at(ws + wlen))
    base = match_clip(w, Place("camera", "lab1"), c, INDEX, Tolerance())
    w2 = Window(w.start.astimezone(ZoneInfo(z1)), w.end.astimezone(ZoneInfo(z2)))
    c2 = ClipSpan(c.id, c.camera_id, c.site_id, c.start.astimezone(ZoneInfo(z2)), c.end.astimezone(ZoneInfo(z1)))
    other = match_clip(w2, Place("camera", "lab1"), c2, INDEX, Tolerance())
    assert (base is None) == (other is None)
    if base and other:
        assert (base.start, base.end) == (other.start, other.end)
        assert math.isclose(base.start_offset_s, other.start_offset_s, abs_tol=1e-6)
    d = timedelta(seconds=shift)
    c3 = ClipSpan(c.id, c.camera_id, c.site_id, c.start + d, c.end + d)
    shifted = match_clip(Window(w.start + d, w.end + d), Place("camera", "lab1"), c3, INDEX, Tolerance())
    assert (base is None) == (shifted is None)
    if base and shifted:
        assert math.isclose(base.start_offset_s, shifted.start_offset_s, abs_tol=1e-6)
        assert math.isclose(base.end_offset_s, shifted.end_offset_s, abs_tol=1e-6)


@settings(max_examples=200, deadline=None)
@given(ws=offsets, wlen=st.floats(0, 7200), dur=durations, grow=st.floats(0, 3600))
def test_uncertain_and_wider_windows_never_lose_matches(ws, wlen, dur, grow):
    w = Window(at(ws), at(ws + wlen))
    wider = Window(w.start - timedelta(seconds=grow), w.end + timedelta(seconds=grow))
    for unc in (False, True):
        seg = match_clip(w, Place("site", "hq"), clip(seconds=dur, uncertain=unc), INDEX, Tolerance())
        if seg:
            big = match_clip(wider, Place("site", "hq"), clip(seconds=dur, uncertain=unc), INDEX, Tolerance())
            assert big and big.start <= seg.start and big.end >= seg.end
    certain = match_clip(w, Place("site", "hq"), clip(seconds=dur), INDEX, Tolerance())
    if certain:
        assert match_clip(w, Place("site", "hq"), clip(seconds=dur, uncertain=True), INDEX, Tolerance())


def destination(lat, lon, bearing_deg, dist_m):
    """The point ``dist_m`` from (lat, lon) along ``bearing_deg`` on the haversine sphere."""
    r = 6_371_008.8
    p1, l1, b, d = math.radians(lat), math.radians(lon), math.radians(bearing_deg), dist_m / r
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-80, 80), lon=st.floats(-180, 180), bearing=st.floats(0, 360),
       site_r=st.floats(0, 5000), req_r=st.floats(0, 5000), rel=st.sampled_from([-1e-6, 1e-6]))
def test_radius_at_the_boundary(lat, lon, bearing, site_r, req_r, rel):
    """A point just inside the sum of the radii matches; just outside does not."""
    total = site_r + req_r
    assume(total > 1.0)
    plat, plon = destination(lat, lon, bearing, total * (1 + rel))
    d = haversine_m(lat, lon, plat, plon)
    assert math.isclose(d, total * (1 + rel), rel_tol=1e-8, abs_tol=1e-6)
    index = PlaceIndex({"s": SiteInfo("s", "S", lat, lon, site_r)}, {"cam": CameraInfo("cam", "s")})
    c = ClipSpan("c", "cam", "s", T0, T0 + timedelta(seconds=10))
    seg = match_clip(Window(T0, T0), Place("point", lat=plat, lon=plon, radius_m=req_r), c, index, NO_TOL)
    assert (seg is not None) == (rel < 0)
    if seg:
        assert seg.distance_m is not None and "within the request's radius" in seg.place_reason


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(offsets, durations, st.booleans(), st.sampled_from(["lab1", "gate"])), max_size=20),
       offsets, st.floats(0, 3600))
def test_match_is_filter_of_match_clip(specs, ws, wlen):
    clips = [clip(at(s), d, cam, unc, cid=f"c{i}") for i, (s, d, unc, cam) in enumerate(specs)]
    w = Window(at(ws), at(ws + wlen))
    segs = match(w, Place("site", "hq"), clips, INDEX)
    one = [match_clip(w, Place("site", "hq"), c, INDEX, Tolerance()) for c in clips]
    assert sorted(s.clip_id for s in segs) == sorted(s.clip_id for s in one if s)
    assert all(INDEX.cameras[next(c for c in clips if c.id == s.clip_id).camera_id].site_id == "hq" for s in segs)
    assert [s.start for s in segs] == sorted(s.start for s in segs)


@settings(max_examples=200, deadline=None)
@given(y=st.integers(1990, 2100), m=st.integers(1, 12), d=st.integers(1, 31), z=zones)
def test_due_date_is_one_calendar_month(y, m, d, z):
    import calendar

    assume(d <= calendar.monthrange(y, m)[1])
    received = datetime(y, m, d, 12, tzinfo=ZoneInfo(z))
    due = due_date(received)
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    assert (due.year, due.month) == (ny, nm)
    assert due.day == min(d, calendar.monthrange(ny, nm)[1])
    assert due > received
