"""Times a person types and reads: local wall-clock times resolved in a zone (DST gaps and overlaps widen a window
rather than narrow it), times without an offset refused unless a zone is known, and labels with the offset."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from anonymizer.domain.local_time import (
    LocalTimeError, local_label, parse_time, resolve, tz_option, zone_for_sites,
)
from anonymizer.errors import ConfigError

UTC = timezone.utc


def test_parse_keeps_naive_and_aware_apart():
    assert parse_time("2024-06-01T10:00Z") == datetime(2024, 6, 1, 10, tzinfo=UTC)
    assert parse_time("2024-06-01T12:00+02:00").utcoffset() == timedelta(hours=2)
    assert parse_time("2024-06-01 10:00").tzinfo is None
    assert parse_time("2024-06-01") == datetime(2024, 6, 1)
    with pytest.raises(LocalTimeError, match="not an ISO 8601"):
        parse_time("soon")


def test_naive_time_without_zone_is_refused_with_the_fix():
    with pytest.raises(LocalTimeError) as err:
        resolve(datetime(2024, 6, 1, 10), None, "start", what="--from")
    msg = str(err.value)
    assert "--from" in msg and "no UTC offset" in msg and "--tz" in msg and "+02:00" in msg
    assert isinstance(err.value, ConfigError)


def test_aware_time_ignores_the_zone():
    t = datetime(2024, 6, 1, 10, tzinfo=timezone(timedelta(hours=3)))
    assert resolve(t, tz_option("Europe/Berlin", set()), "start") == datetime(2024, 6, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize("zone, wall, utc", [
    ("Europe/Berlin", datetime(2024, 3, 31, 3, 40), datetime(2024, 3, 31, 1, 40)),       # just after spring forward
    ("Europe/Berlin", datetime(2024, 3, 31, 1, 40), datetime(2024, 3, 31, 0, 40)),       # just before
    ("America/New_York", datetime(2024, 3, 10, 3, 40), datetime(2024, 3, 10, 7, 40)),   # EDT
    ("America/New_York", datetime(2024, 3, 10, 1, 40), datetime(2024, 3, 10, 6, 40)),   # EST
])
def test_local_wall_time_near_dst(zone, wall, utc):
    tz = tz_option(zone, set())
    assert resolve(wall, tz, "start") == resolve(wall, tz, "end") == utc.replace(tzinfo=UTC)


def test_gap_and_overlap_widen_the_window():
    berlin = tz_option("Europe/Berlin", set())
    # 02:30 does not exist on 31 March 2024 in Berlin: a window bound takes the reading that widens it
    assert resolve(datetime(2024, 3, 31, 2, 30), berlin, "start") == datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    assert resolve(datetime(2024, 3, 31, 2, 30), berlin, "end") == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    # 02:30 happens twice on 27 October 2024: from the first, until the second
    assert resolve(datetime(2024, 10, 27, 2, 30), berlin, "start") == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert resolve(datetime(2024, 10, 27, 2, 30), berlin, "end") == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)


def test_tz_option_values():
    assert tz_option("UTC", set()) is UTC
    assert tz_option("Z", set()) is UTC
    assert tz_option("+05:30", set()).utcoffset(None) == timedelta(hours=5, minutes=30)
    assert str(tz_option("site", {"Europe/Berlin"})) == "Europe/Berlin"
    with pytest.raises(LocalTimeError, match="America/New_York, Europe/Berlin"):
        tz_option("site", {"Europe/Berlin", "America/New_York"})
    with pytest.raises(LocalTimeError, match="no site"):
        tz_option("site", set())
    with pytest.raises(LocalTimeError, match="Mars/Olympus"):
        tz_option("Mars/Olympus", set())
    assert tz_option(None, {"Europe/Berlin"}) is not None  # default: the one zone of the sites concerned
    assert tz_option(None, {"Europe/Berlin", "America/New_York"}) is None  # ambiguous: naive times refused
    assert zone_for_sites({"a": "Europe/Berlin", "b": "Europe/Berlin"}, ["a", "b"]) == {"Europe/Berlin"}


def test_local_label():
    t = datetime(2024, 5, 29, 23, 40, tzinfo=UTC)
    assert local_label(t, "Europe/Berlin") == "2024-05-30 01:40:00 CEST (+02:00)"
    assert local_label(t, "America/New_York") == "2024-05-29 19:40:00 EDT (-04:00)"
    assert local_label(t, None) == "2024-05-29 23:40:00 UTC"
    assert local_label(t.replace(microsecond=500000), "UTC", ms=True) == "2024-05-29 23:40:00.500 UTC (+00:00)"


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1)),
       st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_resolved_bounds_read_back_as_the_wall_time_or_bracket_it(wall, zone):
    tz = tz_option(zone, set())
    a, b = resolve(wall, tz, "start"), resolve(wall, tz, "end")
    assert a <= b and b - a <= timedelta(hours=1)
    for t in (a, b):
        back = t.astimezone(tz).replace(tzinfo=None)
        assert abs(back - wall) <= timedelta(hours=1)
    if a == b:  # an ordinary wall time: exact
        assert a.astimezone(tz).replace(tzinfo=None) == wall
