"""Property tests over random catalogues and holds: the purge plan never deletes a held, anonymised, out-of-root
or not-yet-due clip, deletes every due one, and moving ``now`` forward never un-deletes anything."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from anonymizer.domain.holds import HOLD_KINDS, HoldInfo
from anonymizer.domain.retention import (
    DEADLINE_STATES, DELETE, KEEP, NEVER_DUE_STATES, ClipInfo, Policy, add_calendar_months, certainly_kept, clip_deadline, decide, purge_after,
)

UTC = timezone.utc
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
TZS = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata",
       "Pacific/Apia"]
SITES = {"hq": ("premises", "Europe/Berlin"), "lab": ("premises", "America/New_York"),
         "field": ("external", "Australia/Sydney"), "road": ("external", "UTC")}
CAMERAS = {"c1": ("hq", "security"), "c2": ("hq", "rnd"), "c3": ("lab", "marketing"), "c4": ("field", "rnd"),
           "c5": ("road", "marketing"), "c6": ("road", "security")}

instants = st.integers(0, 3 * 365 * 86400).map(lambda s: EPOCH + timedelta(seconds=s))
durations = st.builds(lambda n, u: f"{n} {u}", st.integers(1, 30), st.sampled_from(["days", "weeks", "months", "years"]))


@st.composite
def clips(draw, i):
    cam = draw(st.sampled_from(sorted(CAMERAS)))
    site, purpose = CAMERAS[cam]
    kind, tz = SITES[site]
    start = draw(instants)
    end = start + timedelta(seconds=draw(st.integers(0, 7200)))
    stored = draw(st.booleans())
    state = draw(st.sampled_from(["raw", "raw", "raw", "amended", "anonymised", "deleted", "deleting", "quarantined"]))
    deadline = purge_after(start, kind, tz, purpose, state == "anonymised") if stored else None
    return ClipInfo(f"clip{i}", start, end, site, kind, tz, cam, purpose, state, deadline,
                    draw(st.booleans()), draw(st.integers(0, 9)) > 0)


@st.composite
def catalogues(draw):
    n = draw(st.integers(0, 25))
    return [draw(clips(i)) for i in range(n)]


@st.composite
def holds(draw, n_clips=25):
    scope = draw(st.sampled_from(["clip", "camera", "site"]))
    target = {"clip": st.builds(lambda i: f"clip{i}", st.integers(0, n_clips)),
              "camera": st.sampled_from(sorted(CAMERAS)), "site": st.sampled_from(sorted(SITES))}[scope]
    a, b = sorted([draw(instants), draw(instants)])
    return HoldInfo(
        f"h{draw(st.integers(0, 10**6))}", scope, draw(target), draw(st.sampled_from(HOLD_KINDS)), "why", "who",
        draw(st.none() | st.just(a)), draw(st.none() | st.just(b)), draw(st.none() | instants),
        draw(st.none() | instants), draw(st.none() | instants))


policies = st.builds(
    lambda p, c, s: Policy.from_mapping({"purpose": p, "camera": c, "site": s}),
    st.dictionaries(st.sampled_from(["rnd", "marketing", "security"]), durations, max_size=2),
    st.dictionaries(st.sampled_from(sorted(CAMERAS)), durations, max_size=2),
    st.dictionaries(st.sampled_from(sorted(SITES)), durations, max_size=1),
) | st.none()


def active_covering(clip, hs, now):
    return [h for h in hs if h.active(now) and (
        (h.scope == "clip" and h.target == clip.id)
        or (h.scope == "camera" and h.target == clip.camera_id and h.covers_range(clip.start, clip.end))
        or (h.scope == "site" and h.target == clip.site_id and h.covers_range(clip.start, clip.end)))]


@settings(max_examples=150, deadline=None)
@given(catalogues(), st.lists(holds(), max_size=8), policies, instants)
def test_plan_deletes_exactly_the_due_unprotected_clips(cat, hs, policy, now):
    plan = decide(cat, hs, policy, now)
    assert [d.clip_id for d in plan] == [c.id for c in cat]       # one decision per clip, in order
    for c, d in zip(cat, plan):
        due_at = clip_deadline(c, policy)
        due = due_at is not None and now >= due_at
        protected = (c.state in ("anonymised", "deleted") or not c.in_archive_root
                     or bool(active_covering(c, hs, now)))
        assert d.delete == (due and not protected), (c, d)
        if d.delete:
            assert c.state not in ("anonymised", "deleted") and c.in_archive_root
            assert not active_covering(c, hs, now) and now >= d.purge_after
        assert d.detail


@settings(max_examples=150, deadline=None)
@given(catalogues(), st.lists(holds(), max_size=8), policies, instants, st.text(max_size=10))
def test_the_plans_prefilter_only_leaves_out_clips_decide_keeps(cat, hs, policy, now, odd_state):
    """What the purge plan leaves out in SQL (``certainly_kept``) is kept by ``decide``, whatever the holds, the
    policy, the place or the restriction, and needs no action (not a clip being deleted); unknown states are
    never left out."""
    cat = cat + [c._replace(id=c.id + "x", state=odd_state) for c in cat[:3]]
    for c, d in zip(cat, decide(cat, hs, policy, now)):
        if certainly_kept(c.state, c.purge_after, now):
            assert d.action == KEEP and c.state != "deleting", (c, d)
        if c.state not in DEADLINE_STATES + NEVER_DUE_STATES:
            assert not certainly_kept(c.state, c.purge_after, now)


@settings(max_examples=100, deadline=None)
@given(catalogues(), st.lists(holds(), max_size=8), policies, instants, st.integers(0, 400 * 86400))
def test_moving_now_forward_never_undeletes(cat, hs, policy, now, step):
    # Holds can expire but not start between the two moments (a hold created later is a new input, not time).
    hs = [h for h in hs if not (h.released is not None and h.released > now)]
    before = decide(cat, hs, policy, now)
    after = decide(cat, hs, policy, now + timedelta(seconds=step))
    for b, a in zip(before, after):
        if b.delete:
            assert a.delete, (b, a)


@settings(max_examples=150, deadline=None)
@given(instants, st.sampled_from(TZS), st.sampled_from(sorted(CAMERAS)), policies)
def test_deadline_is_after_the_start_and_on_a_local_wall_time(start, tz, cam, policy):
    site, purpose = CAMERAS[cam]
    kind = SITES[site][0]
    d = purge_after(start, kind, tz, purpose, False, policy, site, cam)
    assert d > start + timedelta(hours=23)
    assert d.utcoffset() == timedelta(0)
    assert purge_after(start, kind, tz, purpose, True, policy, site, cam) is None


@settings(max_examples=150, deadline=None)
@given(st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)), st.integers(-2400, 2400))
def test_calendar_months(dt, n):
    got = add_calendar_months(dt, n)
    assert (got.year * 12 + got.month) - (dt.year * 12 + dt.month) == n
    assert got.day == dt.day or (got.day < dt.day and (got + timedelta(days=1)).day == 1)
    assert got.time() == dt.time()
    if got.day == dt.day:
        assert add_calendar_months(got, -n) == dt.replace(fold=0)
