from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizer.domain.recording_time import (
    CameraClock,
    Sidecar,
    camera_to_utc,
    check_not_future,
    compile_filename_pattern,
    local_to_utc,
    parse_container_time,
    parse_filename_time,
    parse_instant,
    parse_sidecar,
    recording_start,
)
from anonymizer.errors import ConfigError, TimeSourceError

UTC = timezone.utc
ZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC",
         "America/Santiago", "Pacific/Chatham"]

instants = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)
offsets = st.floats(min_value=-7200, max_value=7200, allow_nan=False).map(lambda s: round(s, 3))
walls = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)


# --- sidecar ------------------------------------------------------------------------------------------------


@given(instants, st.sampled_from(ZONES))
def test_sidecar_round_trips_any_instant_in_any_zone(t, tz):
    text = '{"start": "%s", "camera": "gate"}' % t.astimezone(ZoneInfo(tz)).isoformat()
    side = parse_sidecar(text)
    assert side.start == t and side.start.tzinfo == UTC
    assert side.camera == "gate"


def test_sidecar_accepts_z():
    assert parse_sidecar('{"start": "2024-06-01T09:30:00Z"}').start == datetime(2024, 6, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("text, cause", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"start": "2024-06-01T09:30:00"}', "no UTC offset"),
    ('{"start": "yesterday"}', "not an ISO 8601 time"),
    ('{"start": 1717234200}', "expected an ISO 8601 string"),
    ('{"begin": "2024-06-01T09:30:00Z"}', "unknown keys begin"),
    ('{"camera": 3}', "camera id string"),
])
def test_bad_sidecars_say_what_is_wrong(text, cause):
    with pytest.raises(TimeSourceError, match=cause):
        parse_sidecar(text)


@given(walls)
def test_naive_instant_is_refused(wall):
    with pytest.raises(TimeSourceError, match="no UTC offset"):
        parse_instant(wall.isoformat())


# --- filename pattern ---------------------------------------------------------------------------------------

PATTERNS = ["%Y%m%d_%H%M%S", "cam-%Y-%m-%d_%H-%M-%S", "%d.%m.%Y %H.%M", "REC_%y%m%d%H%M%S_%f", "100%%_%Y%m%d%H%M"]


@given(walls, st.sampled_from(PATTERNS), st.text("abcXYZ_-", max_size=6), st.integers(0, 999999))
def test_filename_pattern_round_trips(wall, pattern, prefix, micro):
    if "%y" in pattern:
        wall = wall.replace(year=2000 + wall.year % 100)
    if "%f" in pattern:
        wall = wall.replace(microsecond=micro)
    if "%S" not in pattern:
        wall = wall.replace(second=0)
    name = prefix + wall.strftime(pattern) + ".mp4"
    assert parse_filename_time(name, pattern) == wall


def test_filename_pattern_no_match_is_none():
    assert parse_filename_time("clip.mp4", "%Y%m%d_%H%M%S") is None


def test_filename_with_impossible_date_is_an_error():
    with pytest.raises(TimeSourceError, match="not a valid date"):
        parse_filename_time("20240231_120000.mp4", "%Y%m%d_%H%M%S")


@pytest.mark.parametrize("pattern, cause", [
    ("%Y%m%d", "needs %H %M"),
    ("%H%M", "needs %Y %m %d"),
    ("%Y%m%d%H%M%Q", "%Q is not supported"),
    ("%Y%m%d%H%M%", "lone %"),
    ("%Y%Y%m%d%H%M", "appears twice"),
])
def test_bad_patterns_are_config_errors(pattern, cause):
    with pytest.raises(ConfigError, match=cause):
        compile_filename_pattern(pattern)


# --- container time -----------------------------------------------------------------------------------------


def test_container_time_is_a_wall_reading():
    assert parse_container_time("2024-06-01T10:00:00.000000Z") == datetime(2024, 6, 1, 10)
    assert parse_container_time("2024-06-01 10:00:00") == datetime(2024, 6, 1, 10)
    assert parse_container_time("1970-01-01T00:00:00.000000Z") is None  # never set
    assert parse_container_time("garbage") is None
    assert parse_container_time("") is None


# --- clock corrections --------------------------------------------------------------------------------------


@given(instants, offsets)
def test_utc_clock_with_offset_inverts(t, offset):
    wall = (t + timedelta(seconds=offset)).replace(tzinfo=None)
    got, uncertain = camera_to_utc(wall, CameraClock("utc", offset))
    assert abs(got - t) < timedelta(microseconds=2) and not uncertain


@given(instants, st.sampled_from(ZONES), offsets)
@settings(max_examples=300)
def test_local_clock_inverts_except_in_overlaps(t, tz, offset):
    """A local-clock camera shows the site's wall time (plus its offset); the correction gives back the true
    instant, except where the wall time exists twice (the earlier is taken, marked uncertain)."""
    shown = t + timedelta(seconds=offset)
    wall = shown.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    got, uncertain = camera_to_utc(wall, CameraClock("local", offset, tz))
    if uncertain:
        candidates = {
            wall.replace(tzinfo=ZoneInfo(tz), fold=f).astimezone(UTC) - timedelta(seconds=offset) for f in (0, 1)
        }
        assert any(abs(got - c) < timedelta(microseconds=2) for c in candidates)
        assert got <= t + timedelta(microseconds=2)
    else:
        assert abs(got - t) < timedelta(microseconds=2)


@given(walls, st.sampled_from(ZONES))
def test_local_to_utc_is_monotonic_where_unambiguous(wall, tz):
    later = wall + timedelta(hours=3)
    a, ua = local_to_utc(wall, tz)
    b, ub = local_to_utc(later, tz)
    if not (ua or ub):
        assert b > a


def test_dst_spring_forward_gap_in_berlin_is_uncertain():
    # 2024-03-31 02:30 does not exist in Berlin (clocks jump 02:00 -> 03:00).
    got, uncertain = local_to_utc(datetime(2024, 3, 31, 2, 30), "Europe/Berlin")
    assert uncertain
    assert got in {datetime(2024, 3, 31, 0, 30, tzinfo=UTC), datetime(2024, 3, 31, 1, 30, tzinfo=UTC)}


def test_dst_fall_back_overlap_in_berlin_takes_the_earlier():
    # 2024-10-27 02:30 happens twice in Berlin: 00:30 UTC (CEST) and 01:30 UTC (CET).
    got, uncertain = local_to_utc(datetime(2024, 10, 27, 2, 30), "Europe/Berlin")
    assert uncertain and got == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


def test_summer_and_winter_offsets():
    assert local_to_utc(datetime(2024, 7, 1, 12), "Europe/Berlin") == (datetime(2024, 7, 1, 10, tzinfo=UTC), False)
    assert local_to_utc(datetime(2024, 1, 1, 12), "Europe/Berlin") == (datetime(2024, 1, 1, 11, tzinfo=UTC), False)


def test_unknown_timezone_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown timezone"):
        local_to_utc(datetime(2024, 1, 1), "Mars/Olympus")


# --- order of trust -----------------------------------------------------------------------------------------

CLOCK = CameraClock("local", 0.0, "Europe/Berlin")
SIDE = Sidecar(datetime(2024, 6, 1, 7, tzinfo=UTC), None)
FILE = datetime(2024, 6, 1, 10)
CONT = datetime(2024, 6, 1, 11)
MTIME = datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_order_of_trust():
    assert recording_start(CLOCK, SIDE, FILE, CONT, MTIME).source == "sidecar"
    r = recording_start(CLOCK, None, FILE, CONT, MTIME)
    assert (r.source, r.start, r.uncertain) == ("filename", datetime(2024, 6, 1, 8, tzinfo=UTC), False)
    r = recording_start(CLOCK, Sidecar(None, "cam"), None, CONT, MTIME)
    assert (r.source, r.start) == ("container", datetime(2024, 6, 1, 9, tzinfo=UTC))
    r = recording_start(CLOCK, None, None, None, MTIME, duration_s=60)
    assert (r.source, r.start, r.uncertain) == ("mtime", datetime(2024, 6, 1, 11, 59, tzinfo=UTC), True)
    with pytest.raises(TimeSourceError, match="no recording time"):
        recording_start(CLOCK)


@given(instants, instants)
def test_future_check(start, now):
    if start > now + timedelta(minutes=5):
        with pytest.raises(TimeSourceError, match="in the future"):
            check_not_future(start, now)
    else:
        check_not_future(start, now)
