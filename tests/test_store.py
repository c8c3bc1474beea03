import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from anonymizer.domain.clips import ClipRecord
from anonymizer.domain.sites import Camera, Site
from anonymizer.errors import CatalogueError
from anonymizer.store.catalogue import Catalogue, ClipFilter
from anonymizer.store.schema import clips, metadata

UTC = timezone.utc


@pytest.fixture
def cat(tmp_path: Path, backend):
    c = Catalogue.open(backend.url(tmp_path / "arch"), create=True)
    with c.transaction() as conn:
        c.sync(conn, [Site("hq", "HQ", "premises", "Europe/Berlin")], [Camera("lab1", "hq", "rnd")])
    yield c
    c.close()


def clip(n: int, start: datetime, **kw) -> ClipRecord:
    sha = f"{n:064x}"
    base = dict(id=sha[-16:], uri=f"/batch/{n}.mp4", sha256=sha, size=10, camera_id="lab1", site_id="hq",
                purpose="rnd", start=start, end=start + timedelta(seconds=10), time_source="container",
                time_uncertain=False, codec="h264", width=160, height=120, rate="25", frames=250, duration_s=10.0,
                has_audio=False, purge_after=start + timedelta(days=180), ingested_at=start)
    base.update(kw)
    return ClipRecord(**base)


def test_catalogue_file_denies_other_users(tmp_path: Path, cat):
    if cat.engine.dialect.name != "sqlite":
        pytest.skip("a PostgreSQL catalogue is no file in the archive: the server's own roles guard it")
    path = tmp_path / "arch" / "catalogue.sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "arch").stat().st_mode) == 0o700
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0


def test_missing_catalogue_is_not_created_unless_asked(tmp_path: Path):
    """SQLite: a catalogue file (below, the PostgreSQL case: a database the server does not have)."""
    with pytest.raises(CatalogueError, match="anonymizer init"):
        Catalogue.open(f"sqlite:///{tmp_path / 'none.sqlite'}")


def test_missing_postgresql_database_is_one_error_not_created(pg_cluster):
    url = pg_cluster.url("nobody_made_this")
    for create in (False, True):  # a database is the server administrator's to create
        with pytest.raises(CatalogueError, match="cannot be opened") as exc:
            Catalogue.open(url, create=create)
        assert "\n" not in str(exc.value) and "nobody_made_this" in str(exc.value)


def test_migrations_match_the_tables(cat):
    with cat.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)

    def table_of(d):
        item = d[0] if isinstance(d, list) else d
        obj = item[1] if len(item) > 1 else None
        return getattr(obj, "name", None) if getattr(obj, "columns", None) is not None and item[0].endswith("_table") \
            else getattr(getattr(obj, "table", None), "name", None)

    # tables of later migrations whose Table objects live in modules not imported here are not this test's concern
    assert [d for d in diff if table_of(d) in metadata.tables or table_of(d) is None] == []
    cat.migrate()  # a second run is a no-op


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
       st.sampled_from(["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Pacific/Kiritimati"]))
def test_timestamps_come_back_aware_utc_and_equal(tmp_path_factory, request, kind, dt, tz):
    """SQLite keeps no offset, PostgreSQL's timestamptz keeps the instant: what goes in with any offset comes back
    as the same instant, in UTC, aware."""
    url = (f"sqlite:///{tmp_path_factory.mktemp('c') / 'c.sqlite'}" if kind == "sqlite"
           else request.getfixturevalue("pg_cluster").new_database("ts"))
    c = Catalogue.open(url, create=True)
    with c.transaction() as conn:
        c.sync(conn, [Site("hq", "HQ", "premises", "UTC")], [Camera("lab1", "hq", "rnd")])
        aware = dt.replace(tzinfo=ZoneInfo(tz))
        c.add_clip(conn, clip(1, aware))
    got = c.get(clip(1, aware).id)
    c.close()
    assert got.start == aware.astimezone(UTC) and got.start.tzinfo == UTC and got.start.utcoffset() == timedelta(0)
    # compare instants: an aware datetime in a DST gap (wall-clock arithmetic can land there) never equals one in
    # another zone (PEP 495), so both sides go to UTC first
    assert got.purge_after == (aware + timedelta(days=180)).astimezone(UTC)


def test_naive_times_are_refused(cat):
    with pytest.raises(Exception, match="naive datetime"):
        with cat.transaction() as conn:
            cat.add_clip(conn, clip(1, datetime(2024, 1, 1)))


def test_filters(cat):
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    with cat.transaction() as conn:
        for i in range(5):
            cat.add_clip(conn, clip(i + 1, t0 + timedelta(days=i), uri=f"/b/{i}%_.mp4",
                                    state="anonymised" if i == 4 else "raw"))
    assert len(cat.find()) == 5
    assert [c.start.day for c in cat.find(ClipFilter(since=t0 + timedelta(days=1), until=t0 + timedelta(days=3)))] == [2, 3]
    assert len(cat.find(ClipFilter(state="anonymised"))) == 1
    assert len(cat.find(ClipFilter(expiring_before=t0 + timedelta(days=182)))) == 2
    assert [c.uri for c in cat.find(ClipFilter(uri_prefix="/b/3%"))] == ["/b/3%_.mp4"]
    assert cat.find(ClipFilter(camera="other")) == []
    first = cat.find()[0]
    assert cat.get(first.id) == first
    with pytest.raises(CatalogueError, match="ambiguous"):
        cat.get("0000")
    with pytest.raises(CatalogueError, match="no clip"):
        cat.get("ffffff")
    with pytest.raises(CatalogueError, match="hex digits"):
        cat.get("zz")


def test_one_transaction_is_all_or_nothing(cat):
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        with cat.transaction() as conn:
            cat.add_clip(conn, clip(1, t0))
            cat.audit_append(conn, t0, "me", "ingest", "clip", {})
            raise RuntimeError("killed")
    assert cat.find() == [] and cat.audit_events() == []


# --------------------------------------------------------------------------------------------------- audit

def chain(cat, n=5):
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    for i in range(n):
        with cat.transaction() as conn:
            cat.audit_append(conn, t0 + timedelta(minutes=i), "alice", "ingest", f"clip {i}", {"i": i, "ü": "x"})


def test_intact_chain_verifies(cat):
    chain(cat)
    report = cat.audit_verify()
    assert report.ok and report.events == 5 and report.head == cat.audit_events()[-1].hash
    assert cat.audit_verify(expect=report.head[:12]).ok


def test_changed_event_is_found(cat):
    chain(cat)
    with cat.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET details = :d WHERE seq = 3"), {"d": '{"i":99}'})
    report = cat.audit_verify()
    assert not report.ok
    assert report.problems == [report.problems[0]] and "event 3" in report.problems[0] and "changed" in report.problems[0]


def test_changed_time_or_actor_is_found(cat):
    chain(cat)
    with cat.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    assert any("event 2" in p and "changed" in p for p in cat.audit_verify().problems)


def test_removed_event_is_found(cat):
    chain(cat)
    with cat.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    problems = cat.audit_verify().problems
    assert problems == ["events 2 missing after event 1: removed"]


def test_inserted_event_is_found(cat):
    chain(cat, 3)
    with cat.engine.begin() as conn:  # make room after event 1 and slip a forged event in
        for seq in (3, 2):
            conn.execute(text(f"UPDATE audit_events SET seq = {seq + 1} WHERE seq = {seq}"))
        ev = cat.audit_events()[0]
        conn.execute(text("INSERT INTO audit_events (seq, at, actor, action, object, details, prev_hash, hash) "
                          "VALUES (2, :at, 'mallory', 'ingest', 'forged', '{}', :prev, :h)"),
                     {"at": "2024-06-01 00:00:30.000000", "prev": ev.hash, "h": "f" * 64})
    problems = cat.audit_verify().problems
    assert any("event 2" in p and "changed" in p for p in problems)
    assert any("event 3" in p for p in problems)


def test_rewritten_tail_is_found_with_the_expected_head(cat):
    chain(cat, 3)
    head = cat.audit_verify().head
    with cat.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    assert cat.audit_verify().ok  # a cut tail is consistent...
    assert "not in the chain" in cat.audit_verify(expect=head).problems[0]  # ...unless the head was kept


def test_audit_chain_stays_linear_under_concurrent_writers(tmp_path: Path, backend):
    """Several processes' worth of writers (threads, each with its own connection) append at once: every event
    lands, numbered without gaps, and the chain verifies (PostgreSQL serialises appends with an advisory lock;
    SQLite with its write lock)."""
    from concurrent.futures import ThreadPoolExecutor

    url = backend.url(tmp_path / "arch")
    Catalogue.open(url, create=True).close()
    t0 = datetime(2024, 6, 1, tzinfo=UTC)

    cats = [Catalogue.open(url) for _ in range(6)]  # opened one by one: alembic's migrate is not thread-safe

    def writer(w: int) -> None:
        c = cats[w]
        for i in range(15):
            with c.transaction() as conn:
                c.audit_append(conn, t0 + timedelta(seconds=i), f"w{w}", "test", f"o{i}", {"w": w, "i": i})

    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(writer, range(6)))
    finally:
        for c in cats:
            c.close()
    with Catalogue.open(url) as c:
        report = c.audit_verify()
        assert report.ok, report.problems
        assert report.events == 90 and [e.seq for e in c.audit_events()] == list(range(1, 91))


def test_timestamps_are_timestamptz_on_postgresql(cat):
    if cat.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no time zone type")
    with cat.engine.connect() as conn:
        types = dict(conn.execute(text(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND (data_type LIKE 'timestamp%' OR data_type LIKE 'date%' "
            "OR data_type LIKE 'time %')")).all())
    assert {"clips.start_utc", "clips.purge_after", "audit_events.at"} <= set(types), types
    assert set(types.values()) == {"timestamp with time zone"}, types
