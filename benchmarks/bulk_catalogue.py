"""Bulk-built catalogues for the scale benchmarks (purge_plan.py, requests_find.py), on SQLite or PostgreSQL.

Every clip is live (none deleted: the worst case for the purge plan). The cameras record ten-minute clips
continuously and the catalogue holds what the privacy notice lets it hold at ``NOW`` plus one night: for each
camera, clips from its retention period plus one day back, so about one day of recordings per camera is due (what
a nightly purge finds), the rest kept as not due; one raw clip in ten has an anonymised copy (never due); 3 % of
the clips have an uncertain recording time. Sites of six cameras each (two security, two R&D, two marketing; two
sites in three on the premises, one external; 10 km apart) are added until the catalogue holds N clips: about 65
cameras (11 sites) per million clips. Above a million, the million is generated and copied in SQL to other sites
(the same kinds, zones and times, so the same deadlines): 10 million clips are 650 cameras at 110 sites.

Rows go in with the driver's bulk paths (sqlite3 ``executemany`` in large transactions; PostgreSQL ``COPY``), the
clips' indexes dropped during the load and built afterwards; PostgreSQL is vacuumed and analysed afterwards (what
its autovacuum does after a large load). Deadlines are the real ``purge_after`` of each clip.

    PYTHONPATH=. .venv/bin/python benchmarks/bulk_catalogue.py -n 1000000 --url sqlite:////tmp/c.sqlite
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

from sqlalchemy import text

from anonymizer.domain.holds import HoldInfo
from anonymizer.domain.retention import Policy, purge_after
from anonymizer.domain.sites import Camera, Site
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.holds import POLICY_FINGERPRINT, insert_hold, set_state
from anonymizer.store.schema import clips

UTC = timezone.utc
NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
CLIP_S = 600
PURPOSES = ("security", "rnd", "marketing")
CAMERAS_PER_SITE = 6  # two per purpose
BASE = 1_000_000  # clips generated row by row; larger catalogues copy them to other sites in SQL
SITE_STRIDE = 15  # sites per copy (a multiple of the 3 kinds and the 5 zones: a copy's deadlines are the same)
CAM_STRIDE = SITE_STRIDE * CAMERAS_PER_SITE
TZS = ("Europe/Berlin", "America/New_York", "Europe/Paris", "Asia/Kolkata", "Australia/Sydney")


def site(i: int) -> Site:
    """Site i: two in three on the company's premises, one in three at an external site; 10 km apart."""
    return Site(f"s{i:04d}", f"Site {i}", "external" if i % 3 == 2 else "premises", TZS[i % len(TZS)],
                48.0 + (i // 50) * 0.1, 2.0 + (i % 50) * 0.1, 200.0)
COLUMNS = ("id", "uri", "sha256", "size", "camera_id", "site_id", "purpose", "start_utc", "end_utc", "time_source",
           "time_uncertain", "codec", "width", "height", "rate", "frames", "duration_s", "has_audio", "state",
           "derived_from", "report_uri", "purge_after", "restricted", "ingested_at", "imported_from")


def camera(i: int) -> Camera:
    return Camera(f"cam{i:04d}", site(i // CAMERAS_PER_SITE).id, PURPOSES[i % 3])


def sites_for(cams: list[Camera]) -> list[Site]:
    return [site(i) for i in sorted({int(c.site[1:]) for c in cams})]


def retention_days(cam: Camera) -> int:
    s = site(int(cam.site[1:]))
    d = purge_after(NOW, s.kind, s.timezone, cam.purpose, False)
    assert d is not None
    return round((d - NOW).total_seconds() / 86400)


def rows(n: int, seed: int = 1) -> Iterator[tuple]:
    """N clip rows (tuples in COLUMNS order, times as aware datetimes); the cameras used are ``cameras_for(n)``."""
    rng = random.Random(seed)
    cams = cameras_for(n)
    sites = {s.id: s for s in sites_for(cams)}
    made = 0
    for cam in cams:
        where = sites[cam.site]
        k = 0
        per_camera = (retention_days(cam) + 1) * 86400 // CLIP_S
        while k < per_camera and made < n:
            start = NOW - timedelta(seconds=(k + 1) * CLIP_S - rng.randint(0, 59))
            sha = f"{made:064x}"
            uncertain = made % 33 == 0
            raw_id = sha[-16:]
            deadline = purge_after(start, where.kind, where.timezone, cam.purpose, False)
            yield (raw_id, f"/archive/raw/{cam.site}/{cam.id}/{made:09d}.mp4", sha, 1, cam.id, cam.site, cam.purpose,
                   start, start + timedelta(seconds=CLIP_S), "mtime" if uncertain else "sidecar", uncertain, "h264",
                   1920, 1080, "25", CLIP_S * 25, float(CLIP_S), False, "raw", None, None, deadline, False, start,
                   None)
            made += 1
            if made % 10 == 0 and made < n:
                sha = f"{made:064x}"
                yield (sha[-16:], f"/archive/anonymised/{cam.id}/{made:09d}.mp4", sha, 1, cam.id, cam.site,
                       cam.purpose, start, start + timedelta(seconds=CLIP_S), "sidecar", uncertain, "h264", 1920,
                       1080, "25", CLIP_S * 25, float(CLIP_S), False, "anonymised", raw_id, None, None, False,
                       start, None)
                made += 1
            k += 1
        if made >= n:
            return


def cameras_for(n: int) -> list[Camera]:
    """The cameras of an N-clip catalogue. Above BASE clips the catalogue is BASE clips' worth of sites copied:
    copy k has cameras i + k * CAM_STRIDE, which lie at sites j + k * SITE_STRIDE of the same kind and zone."""
    if n > BASE:
        base = cameras_for(BASE)
        assert len(base) <= CAM_STRIDE and n % BASE == 0, "N above a million must be a multiple of it"
        return [camera(int(c.id[3:]) + k * CAM_STRIDE) for k in range(n // BASE) for c in base]
    out, total, i = [], 0, 0
    while total < n:
        cam = camera(i)
        out.append(cam)
        total += (retention_days(cam) + 1) * 86400 // CLIP_S * 11 // 10
        i += 1
    return out


def _copy_sql(dialect: str, k: int) -> str:
    """Copy the BASE clips (cameras below CAM_STRIDE) to copy k's cameras and sites, with new ids and paths."""
    if dialect == "sqlite":
        hexk, num = f"'{k:x}'", "CAST(substr({}, {}) AS INTEGER)"
        pad = "printf('%04d', {})"
    else:
        hexk, num = f"'{k:x}'", "CAST(substr({}, {}) AS INTEGER)"
        pad = "lpad(({})::text, 4, '0')"
    cam = "'cam' || " + pad.format(num.format("camera_id", 4) + f" + {k * CAM_STRIDE}")
    site_ = "'s' || " + pad.format(num.format("site_id", 2) + f" + {k * SITE_STRIDE}")
    new = {c: c for c in COLUMNS}
    new.update(id=f"{hexk} || substr(id, 2)", sha256=f"{hexk} || substr(sha256, 2)", camera_id=cam, site_id=site_,
               uri=f"replace(uri, '/archive/', '/archive/c{k}/')",
               derived_from=f"CASE WHEN derived_from IS NULL THEN NULL ELSE {hexk} || substr(derived_from, 2) END")
    return (f"INSERT INTO clips ({', '.join(COLUMNS)}) SELECT {', '.join(new[c] for c in COLUMNS)} FROM clips "
            f"WHERE {num.format('camera_id', 4)} < {CAM_STRIDE}")


def _sqlite_time(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(url: str, n: int, holds: int = 50) -> float:
    """Create the catalogue at ``url`` (empty) with N clips; returns the seconds it took."""
    t0 = time.perf_counter()
    cat = Catalogue.open(url, create=True)
    cams = cameras_for(n)
    rng = random.Random(2)
    with cat.transaction() as conn:
        cat.sync(conn, sites_for(cams), cams)
        set_state(conn, POLICY_FINGERPRINT, Policy().fingerprint())
        for h in range(holds):
            cam = rng.choice(cams)
            start = NOW - timedelta(days=rng.randint(0, 180))
            insert_hold(conn, HoldInfo(f"h{h:04d}", "camera", cam.id, "incident", "bench", "bench", start,
                                       start + timedelta(days=2)), NOW, "bench")
    indexes = list(clips.indexes)
    with cat.transaction() as conn:
        for ix in indexes:
            conn.execute(text(f"DROP INDEX IF EXISTS {ix.name}"))
    if cat.engine.dialect.name == "sqlite":
        raw = cat.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            sql = f"INSERT INTO clips ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            batch: list[tuple] = []
            cur.execute("BEGIN")
            for r in rows(min(n, BASE)):
                batch.append(r[:7] + (_sqlite_time(r[7]), _sqlite_time(r[8])) + r[9:21] + (_sqlite_time(r[21]),)
                             + r[22:23] + (_sqlite_time(r[23]),) + r[24:])
                if len(batch) == 100_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            if batch:
                cur.executemany(sql, batch)
            cur.execute("COMMIT")
        finally:
            raw.close()
    else:
        raw = cat.engine.raw_connection()
        try:
            with raw.cursor() as cur:
                with cur.copy(f"COPY clips ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for r in rows(min(n, BASE)):
                        copy.write_row(r)
            raw.commit()
        finally:
            raw.close()
    for k in range(1, n // BASE if n > BASE else 1):
        with cat.transaction() as conn:
            conn.execute(text(_copy_sql(cat.engine.dialect.name, k)))
    with cat.transaction() as conn:
        for ix in indexes:
            ix.create(conn)
    if cat.engine.dialect.name == "postgresql":
        with cat.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    cat.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--url", required=True, help="an empty catalogue: sqlite:////PATH or postgresql+psycopg://...")
    a = ap.parse_args()
    print(f"built {a.n} clips at {a.url} in {build(a.url, a.n):.1f} s")


if __name__ == "__main__":
    main()


class Target:
    """Where a benchmark's catalogue lives: a SQLite file (kept between runs: built once per N), a PostgreSQL URL
    given (built when empty), or ``--pg``: a throwaway PostgreSQL server (tests/pg.py) built for this run."""

    def __init__(self, url: str | None, pg: bool, n: int, name: str) -> None:
        self.cluster = None
        if pg:
            from tests.pg import Cluster

            self.cluster = Cluster().start()
            url = self.cluster.new_database("bench")
        self.url = url or f"sqlite:////tmp/{name}_{n}.sqlite"
        self.n = n

    def ready(self) -> str:
        """The URL, once the catalogue there holds the N clips (built now when it holds none)."""
        from sqlalchemy import create_engine, inspect

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                have = conn.execute(text("SELECT count(*) FROM clips")).scalar() if inspect(conn).has_table(
                    "clips") else 0
        finally:
            engine.dispose()
        if not have:
            print(f"building {self.n} clips at {self.url} ...", flush=True)
            print(f"built in {build(self.url, self.n):.1f} s", flush=True)
        elif have < self.n * 0.99:
            raise SystemExit(f"{self.url} holds {have} clips, not {self.n}: remove it or give another --url")
        return self.url

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def add_target_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("-n", type=int, default=1_000_000, help="clips in the catalogue (default 1 000 000)")
    ap.add_argument("--url", help="catalogue URL (default sqlite:////tmp/NAME_N.sqlite, built once and kept)")
    ap.add_argument("--pg", action="store_true", help="a throwaway PostgreSQL server (Debian's postgresql), "
                    "built for this run and removed afterwards")
