"""Retention rules at their exact boundaries: the second before and the second after each deadline, month ends,
leap years, and DST changes in the site's own time zone."""

from datetime import datetime, timedelta, timezone

import pytest

from anonymizer.domain.holds import HoldInfo, check_hold
from anonymizer.domain.retention import (
    DELETE, KEEP, ClipInfo, Duration, Policy, add_calendar_months, add_months, decide, effective_rule,
    first_instant, purge_after, zone,
)
from anonymizer.errors import ConfigError

UTC = timezone.utc
S = timedelta(seconds=1)


def utc(*a):
    return datetime(*a, tzinfo=UTC)


def local(tz, *a, fold=0):
    return datetime(*a, tzinfo=zone(tz), fold=fold).astimezone(UTC)


# --------------------------------------------------------------------------------------- calendar arithmetic

@pytest.mark.parametrize("start, n, expected", [
    ((2023, 8, 31), 6, (2024, 2, 29)),    # leap year: clamped to 29 Feb
    ((2022, 8, 31), 6, (2023, 2, 28)),    # common year: 28 Feb
    ((2024, 2, 29), 12, (2025, 2, 28)),   # 29 Feb + 1 year
    ((2024, 2, 29), 48, (2028, 2, 29)),   # 29 Feb + 4 years
    ((2023, 12, 31), 2, (2024, 2, 29)),
    ((2024, 1, 31), 1, (2024, 2, 29)),
    ((2024, 3, 31), 1, (2024, 4, 30)),
    ((2024, 11, 30), 3, (2025, 2, 28)),
    ((2024, 10, 31), 2, (2024, 12, 31)),  # year not crossed
    ((2024, 11, 15), 2, (2025, 1, 15)),   # year crossed
    ((2024, 5, 31), -3, (2024, 2, 29)),   # negative
    ((2024, 1, 1), 0, (2024, 1, 1)),
])
def test_add_calendar_months_clamps_to_month_end(start, n, expected):
    got = add_calendar_months(datetime(*start, 13, 14, 15, 16), n)
    assert got == datetime(*expected, 13, 14, 15, 16)
    assert add_months is add_calendar_months


@pytest.mark.parametrize("text, amount, unit", [
    ("3 days", 3, "days"), ("1 day", 1, "days"), ("2 weeks", 2, "weeks"), ("1 week", 1, "weeks"),
    ("6 months", 6, "months"), ("1 Month", 1, "months"), ("10 years", 10, "years"), (" 1 year ", 1, "years"),
])
def test_duration_parse(text, amount, unit):
    d = Duration.parse(text)
    assert (d.amount, d.unit) == (amount, unit)
    assert Duration.parse(d.text()) == d


@pytest.mark.parametrize("bad", ["3", "days", "3 hours", "-1 day", "0 days", "1.5 months", "101 years", "", 3])
def test_duration_parse_rejects(bad):
    with pytest.raises(ConfigError):
        Duration.parse(bad)


# ----------------------------------------------------------------------- the notice's rules at their boundary

CASES = [
    # (what, start (UTC), site kind, tz, purpose, expected deadline (UTC))
    ("security 3 days, UTC site", utc(2024, 5, 10, 8, 0, 0), "premises", "UTC", "security", utc(2024, 5, 13, 8, 0, 0)),
    ("security at an external site", utc(2024, 5, 10, 8, 0, 0), "external", "UTC", "security",
     utc(2024, 5, 13, 8, 0, 0)),
    ("rnd premises 6 months", utc(2024, 1, 15, 12, 0, 0), "premises", "UTC", "rnd", utc(2024, 7, 15, 12, 0, 0)),
    ("marketing premises 6 months", utc(2024, 1, 15, 12, 0, 0), "premises", "UTC", "marketing",
     utc(2024, 7, 15, 12, 0, 0)),
    ("rnd external 2 months", utc(2024, 1, 15, 12, 0, 0), "external", "UTC", "rnd", utc(2024, 3, 15, 12, 0, 0)),
    ("marketing external 2 months", utc(2024, 1, 15, 12, 0, 0), "external", "UTC", "marketing",
     utc(2024, 3, 15, 12, 0, 0)),
    ("31 Aug + 6 months, leap", utc(2023, 8, 31, 10, 0, 0), "premises", "UTC", "rnd", utc(2024, 2, 29, 10, 0, 0)),
    ("31 Aug + 6 months, common", utc(2022, 8, 31, 10, 0, 0), "premises", "UTC", "rnd", utc(2023, 2, 28, 10, 0, 0)),
    ("31 Dec + 2 months, leap", utc(2023, 12, 31, 23, 59, 59), "external", "UTC", "rnd",
     utc(2024, 2, 29, 23, 59, 59)),
    ("29 Feb + 3 days", utc(2024, 2, 28, 6, 0, 0), "premises", "UTC", "security", utc(2024, 3, 2, 6, 0, 0)),
    # local calendar: 31 Jan 23:30 UTC is already 1 Feb in Berlin, so + 2 months = 1 April local
    ("local month, not UTC month", utc(2024, 1, 31, 23, 30, 0), "external", "Europe/Berlin", "rnd",
     local("Europe/Berlin", 2024, 4, 1, 0, 30)),
    # Berlin 31 Aug local (30 Aug 22:30 UTC) + 6 months = 29 Feb local, CET
    ("31 Aug local + 6 months, Berlin", utc(2023, 8, 30, 22, 30, 0), "premises", "Europe/Berlin", "rnd",
     utc(2024, 2, 28, 23, 30, 0)),
    # DST starts in Berlin on 31 Mar 2024 (02:00 CET -> 03:00 CEST): 3 days over it are 71 hours
    ("3 days over spring forward", local("Europe/Berlin", 2024, 3, 29, 12, 0), "premises", "Europe/Berlin",
     "security", local("Europe/Berlin", 2024, 4, 1, 12, 0)),
    # 02:30 on 31 Mar does not exist in Berlin: the deadline is the jump, 03:00 CEST = 01:00 UTC
    ("wall time in the spring gap", local("Europe/Berlin", 2024, 3, 28, 2, 30), "premises", "Europe/Berlin",
     "security", utc(2024, 3, 31, 1, 0, 0)),
    # DST ends on 27 Oct 2024 (03:00 CEST -> 02:00 CET): 3 days over it are 73 hours
    ("3 days over fall back", local("Europe/Berlin", 2024, 10, 25, 12, 0), "premises", "Europe/Berlin",
     "security", local("Europe/Berlin", 2024, 10, 28, 12, 0)),
    # 02:30 on 27 Oct occurs twice: the first occurrence (CEST, 00:30 UTC)
    ("wall time repeated at fall back", local("Europe/Berlin", 2024, 10, 24, 2, 30), "premises", "Europe/Berlin",
     "security", utc(2024, 10, 27, 0, 30, 0)),
    # 6 months from winter into summer time keeps the wall clock (11:00 CET -> 11:00 CEST)
    ("6 months across DST", local("Europe/Berlin", 2024, 1, 10, 11, 0), "premises", "Europe/Berlin", "rnd",
     utc(2024, 7, 10, 9, 0, 0)),
    # New York: DST starts 10 Mar 2024 at 02:00; 02:15 does not exist, the deadline is 03:00 EDT = 07:00 UTC
    ("New York spring gap", local("America/New_York", 2024, 3, 7, 2, 15), "premises", "America/New_York",
     "security", utc(2024, 3, 10, 7, 0, 0)),
    # Sydney (southern hemisphere): DST ends 7 Apr 2024 at 03:00 AEDT -> 02:00 AEST; 02:30 occurs twice
    ("Sydney repeated hour", local("Australia/Sydney", 2024, 4, 4, 2, 30), "external", "Australia/Sydney",
     "security", local("Australia/Sydney", 2024, 4, 7, 2, 30, fold=0)),
    # Lord Howe shifts by 30 minutes: 02:15 on 6 Oct 2024 does not exist (02:00 -> 02:30)
    ("half-hour DST gap", local("Australia/Lord_Howe", 2024, 10, 3, 2, 15), "premises", "Australia/Lord_Howe",
     "security", local("Australia/Lord_Howe", 2024, 10, 6, 2, 30)),
    # Samoa skipped 30 Dec 2011 entirely: a deadline on that day is midnight of the 31st
    ("a skipped day", local("Pacific/Apia", 2011, 12, 27, 10, 0), "premises", "Pacific/Apia", "security",
     local("Pacific/Apia", 2011, 12, 31, 0, 0)),
]


@pytest.mark.parametrize("what, start, kind, tz, purpose, expected", CASES, ids=[c[0] for c in CASES])
def test_deadline_and_its_boundary(what, start, kind, tz, purpose, expected):
    got = purge_after(start, kind, tz, purpose, anonymised=False)
    assert got == expected
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    clip = ClipInfo("c", start, start + timedelta(minutes=5), "s", kind, tz, "cam", purpose)
    before, at, after = (decide([clip], [], None, t)[0] for t in (expected - S, expected, expected + S))
    assert (before.action, before.reason) == (KEEP, "not_due")
    assert at.action == DELETE and after.action == DELETE and after.reason == "due"
    assert before.purge_after == expected


def test_dst_day_lengths():
    """The local calendar, not elapsed hours: 71 h over spring forward, 73 h over fall back."""
    s1 = local("Europe/Berlin", 2024, 3, 29, 12, 0)
    assert purge_after(s1, "premises", "Europe/Berlin", "security", False) - s1 == timedelta(hours=71)
    s2 = local("Europe/Berlin", 2024, 10, 25, 12, 0)
    assert purge_after(s2, "premises", "Europe/Berlin", "security", False) - s2 == timedelta(hours=73)


def test_first_instant_gap_and_fold():
    tz = zone("Europe/Berlin")
    assert first_instant(datetime(2024, 3, 31, 2, 0, 0), tz) == utc(2024, 3, 31, 1, 0, 0)
    assert first_instant(datetime(2024, 3, 31, 2, 59, 59, 999999), tz) == utc(2024, 3, 31, 1, 0, 0)
    assert first_instant(datetime(2024, 3, 31, 3, 0, 0), tz) == utc(2024, 3, 31, 1, 0, 0)
    assert first_instant(datetime(2024, 3, 31, 1, 59, 59), tz) == utc(2024, 3, 31, 0, 59, 59)
    assert first_instant(datetime(2024, 10, 27, 2, 0, 0), tz) == utc(2024, 10, 27, 0, 0, 0)
    assert first_instant(datetime(2024, 10, 27, 3, 0, 0), tz) == utc(2024, 10, 27, 2, 0, 0)


def test_anonymised_has_no_limit_whatever_the_overrides():
    p = Policy.from_mapping({"purpose": {"rnd": "1 day"}, "camera": {"cam": "1 day"}})
    assert purge_after(utc(2020, 1, 1), "premises", "UTC", "rnd", True, p, "s", "cam") is None
    assert effective_rule("premises", "rnd", True, p, "s", "cam").level == "anonymised"


def test_naive_times_rejected():
    with pytest.raises(ValueError):
        purge_after(datetime(2024, 1, 1), "premises", "UTC", "rnd", False)
    with pytest.raises(ValueError):
        decide([], [], None, datetime(2024, 1, 1))


@pytest.mark.parametrize("kind, purpose", [("garage", "rnd"), ("premises", "fun")])
def test_unknown_kind_or_purpose(kind, purpose):
    with pytest.raises(ValueError):
        purge_after(utc(2024, 1, 1), kind, "UTC", purpose, False)


def test_unknown_timezone_is_a_config_error():
    with pytest.raises(ConfigError):
        purge_after(utc(2024, 1, 1), "premises", "Mars/Olympus", "rnd", False)


# -------------------------------------------------------------------------------------------------- overrides

POLICY = Policy.from_mapping({
    "purpose": {"security": "1 week", "rnd": "1 year"},
    "site_kind": {"external": {"rnd": "1 month"}},
    "site": {"lab": "10 years"},
    "camera": {"gate": "2 days"},
})


@pytest.mark.parametrize("kind, purpose, site, camera, level, expected", [
    ("premises", "security", "hq", "gate", "camera", utc(2024, 1, 3)),          # camera beats everything
    ("premises", "security", "lab", "gate", "camera", utc(2024, 1, 3)),         # camera beats site
    ("premises", "security", "lab", "door", "site", utc(2034, 1, 1)),           # site beats purpose
    ("external", "rnd", "lab", "door", "site", utc(2034, 1, 1)),                # site beats site kind
    ("external", "rnd", "field", "door", "site_kind", utc(2024, 2, 1)),         # site kind beats purpose
    ("premises", "rnd", "hq", "door", "purpose", utc(2025, 1, 1)),              # purpose beats default
    ("premises", "security", "hq", "door", "purpose", utc(2024, 1, 8)),
    ("external", "marketing", "field", "door", "default", utc(2024, 3, 1)),     # nothing set: the notice
    ("premises", "marketing", "hq", "door", "default", utc(2024, 7, 1)),
])
def test_override_precedence(kind, purpose, site, camera, level, expected):
    start = utc(2024, 1, 1)
    rule = effective_rule(kind, purpose, False, POLICY, site, camera)
    assert rule.level == level
    assert rule.explain()
    assert purge_after(start, kind, "UTC", purpose, False, POLICY, site, camera) == expected


def test_explanations_say_why():
    r = effective_rule("external", "rnd", False)
    assert r.level == "default" and "2 calendar months" in r.explain() and "external" in r.explain()
    r = effective_rule("premises", "security", False, POLICY, "hq", "gate")
    assert "camera gate" in r.explain() and "2 days" in r.explain() and "3 days" in r.explain()
    assert effective_rule("premises", "rnd", True).explain().startswith("anonymised")


def test_policy_round_trip_and_fingerprint():
    again = Policy.from_mapping(POLICY.to_mapping())
    assert again == POLICY and again.fingerprint() == POLICY.fingerprint()
    assert Policy().fingerprint() != POLICY.fingerprint()
    assert Policy.from_mapping(None) == Policy()


@pytest.mark.parametrize("table", [
    {"purposes": {}},
    {"purpose": {"cctv": "1 day"}},
    {"purpose": {"rnd": "forever"}},
    {"site_kind": {"garage": {"rnd": "1 day"}}},
    {"site_kind": {"external": {"fun": "1 day"}}},
    {"site_kind": {"external": "1 day"}},
    {"camera": {"gate": "0 days"}},
    {"site": ["x"]},
])
def test_policy_rejects_bad_tables(table):
    with pytest.raises(ConfigError):
        Policy.from_mapping(table)


# ------------------------------------------------------------------------------------------------------ decide

NOW = utc(2024, 6, 1, 12, 0, 0)


def clip(id_, state="raw", days_ago=10, purpose="security", **kw):
    start = NOW - timedelta(days=days_ago)
    fields = dict(end=start + timedelta(minutes=10), site_id="hq", site_kind="premises", site_tz="UTC",
                  camera_id="gate", purpose=purpose, state=state)
    fields.update(kw)
    return ClipInfo(id_, start, **fields)


def hold(id_="h1", scope="camera", target="gate", **kw):
    base = dict(kind="incident", reason="investigation", owner="sec")
    base.update(kw)
    return HoldInfo(id_, scope, target, **base)


def one(c, holds=(), policy=None, now=NOW):
    return decide([c], list(holds), policy, now)[0]


def test_decide_reasons():
    assert one(clip("a")).reason == "due"
    assert one(clip("a", days_ago=1)).reason == "not_due"
    assert one(clip("a", state="anonymised")).reason == "anonymised"
    assert one(clip("a", state="deleted")).reason == "deleted"
    d = one(clip("a", in_archive_root=False))
    assert (d.action, d.reason, d.anomaly) == (KEEP, "outside_root", True)
    assert one(clip("a", days_ago=1, in_archive_root=False)).anomaly is False
    d = one(clip("a", restricted=True))
    assert d.action == DELETE and "restricted" in d.detail
    d = one(clip("a", state="deleting"))
    assert (d.action, d.reason) == (DELETE, "resume")
    assert one(clip("a", state="amended")).action == DELETE


def test_stored_deadline_wins_over_the_policy():
    c = clip("a", days_ago=10, purge_after=NOW + timedelta(days=1))
    assert one(c).reason == "not_due"
    c = clip("a", days_ago=1, purge_after=NOW - S)
    assert one(c).reason == "due"


def test_decide_uses_the_policy_when_no_deadline_is_stored():
    p = Policy.from_mapping({"camera": {"gate": "1 day"}})
    assert one(clip("a", days_ago=2), policy=p).action == DELETE
    assert one(clip("a", days_ago=2)).action == KEEP


@pytest.mark.parametrize("h, held", [
    (hold(scope="clip", target="a"), True),
    (hold(scope="clip", target="b"), False),
    (hold(scope="camera", target="gate"), True),
    (hold(scope="camera", target="door"), False),
    (hold(scope="site", target="hq"), True),
    (hold(scope="site", target="lab"), False),
    # time ranges: the clip runs from NOW-10d to NOW-10d+10min
    (hold(start=NOW - timedelta(days=11), end=NOW - timedelta(days=9)), True),
    (hold(start=NOW - timedelta(days=10, minutes=-10)), True),                # touching the end counts
    (hold(start=NOW - timedelta(days=10, minutes=-10) + S), False),           # starts after the clip
    (hold(end=NOW - timedelta(days=10)), True),                               # touching the start counts
    (hold(end=NOW - timedelta(days=10) - S), False),                          # ends before the clip
    (hold(scope="clip", target="a", end=NOW - timedelta(days=100)), True),    # clip scope ignores the range
    # state of the hold
    (hold(released=NOW - S), False),
    (hold(released=NOW), False),
    (hold(released=NOW + S), True),                                           # released later than now
    (hold(expires=NOW), False),
    (hold(expires=NOW + S), True),
    (hold(kind="rnd", review=NOW - timedelta(days=30)), True),                # overdue review still holds
])
def test_holds(h, held):
    d = one(clip("a"), [h])
    assert (d.action == KEEP and d.reason == "held") is held
    assert d.action == (KEEP if held else DELETE)
    if held:
        assert d.holds == ("h1",)


def test_hold_does_not_protect_anonymised_or_change_not_due():
    assert one(clip("a", state="anonymised"), [hold()]).reason == "anonymised"
    assert one(clip("a", days_ago=1), [hold()]).reason == "held"


def test_check_hold():
    assert check_hold(hold()) == []
    assert "a rnd hold requires a review date" in check_hold(hold(kind="rnd"))
    assert check_hold(hold(kind="rnd", review=NOW)) == []
    problems = check_hold(HoldInfo("h", "room", " ", "fun"))
    assert len(problems) == 5
    assert check_hold(hold(start=NOW, end=NOW - S)) == ["the time range ends before it starts"]
    assert check_hold(hold(review=datetime(2024, 1, 1))) == ["review must be timezone-aware"]
    assert hold(kind="rnd", review=NOW - S).overdue(NOW) and not hold(kind="rnd", review=NOW + S).overdue(NOW)
