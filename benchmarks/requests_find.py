"""Benchmark: ``requests find`` over N catalogued clips in SQLite (default 1 000 000; target under 100 ms).

Builds a catalogue once (cached under --db): 3 sites with locations, 30 cameras, N ten-minute clips spread over two
years (5 % with an uncertain recording time, a few one-hour clips), then times ``pipelines.requests.find`` (the
whole command after start-up: narrow by time and place in SQL, match, store the segments, audit) for requests by
site, by camera and by point, each a one-hour window, repeated; prints the median and the worst.

    .venv/bin/python benchmarks/requests_find.py [-n 1000000] [--db /tmp/requests_bench.sqlite] [--repeat 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from anonymizer.config import Config
from anonymizer.domain.sites import Camera, Site
from anonymizer.pipelines import requests as pipeline
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.schema import clips

UTC = timezone.utc
NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
SITES = [Site("hq", "HQ", "premises", "Europe/Berlin", 52.52, 13.405, 150.0),
         Site("lab", "Lab", "premises", "America/New_York", 40.71, -74.0, 100.0),
         Site("road", "Road", "external", "Europe/Paris", 48.85, 2.35, 300.0)]
CAMERAS = [Camera(f"cam{i:02d}", SITES[i % 3].id, ("security", "rnd", "marketing")[(i // 3) % 3]) for i in range(30)]


def build(db: Path, n: int) -> None:
    cat = Catalogue.open(f"sqlite:///{db}", create=True)
    rng = random.Random(5)
    with cat.transaction() as conn:
        cat.sync(conn, SITES, CAMERAS)
    span = 730 * 86400
    rows = []
    with cat.transaction() as conn:
        for i in range(n):
            cam = CAMERAS[i % len(CAMERAS)]
            start = NOW - timedelta(seconds=rng.randint(0, span))
            dur = 3600.0 if i % 50_000 == 0 else 600.0
            uncertain = i % 20 == 0
            sha = f"{i:064x}"
            rows.append(dict(
                id=sha[-16:], uri=f"/archive/{cam.id}/{i:08d}.mp4", sha256=sha, size=1, camera_id=cam.id,
                site_id=cam.site, purpose=cam.purpose, start_utc=start, end_utc=start + timedelta(seconds=dur),
                time_source="mtime" if uncertain else "sidecar", time_uncertain=uncertain, codec="h264", width=1920,
                height=1080, rate="25", frames=int(dur * 25), duration_s=dur, has_audio=False,
                state="anonymised" if i % 10 == 0 else "raw", restricted=False, ingested_at=start))
            if len(rows) == 20_000:
                conn.execute(clips.insert(), rows)
                rows = []
        if rows:
            conn.execute(clips.insert(), rows)
    cat.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/requests_bench.sqlite"))
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    marker = args.db.with_suffix(f".{args.n}.built")
    if not marker.exists():
        for p in (args.db, args.db.with_name(args.db.name + "-wal"), args.db.with_name(args.db.name + "-shm")):
            p.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build(args.db, args.n)
        marker.touch()
        print(f"built {args.n} clips in {time.perf_counter() - t0:.1f} s ({args.db})")
    url = f"sqlite:///{args.db}"
    config = Config(path=None, archive=args.db.parent, catalogue_url=url, sites={s.id: s for s in SITES},
                    cameras={c.id: c for c in CAMERAS})
    cat = Catalogue.open(url)
    with cat.engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM clips").scalar()
    print(f"catalogue: {total} clips")
    t = NOW - timedelta(days=200, hours=3)
    cases = {"site": "hq", "camera": "cam04", "point": "48.851,2.351,200"}
    worst = 0.0
    for label, place in cases.items():
        req = pipeline.new_request(cat, config, kind="erasure", received=NOW, start=t, end=t + timedelta(hours=1),
                                   place=place, now=NOW, actor="bench")
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            found = pipeline.find(cat, config, req["id"], now=NOW, actor="bench")
            times.append((time.perf_counter() - t0) * 1000)
        worst = max(worst, max(times))
        print(f"find by {label:<6} ({place}): {len(found['segments']):3d} segments, median "
              f"{statistics.median(times):6.1f} ms, max {max(times):6.1f} ms")
    print(f"worst find: {worst:.1f} ms (target < 100 ms): {'ok' if worst < 100 else 'TOO SLOW'}")
    cat.close()


if __name__ == "__main__":
    main()
