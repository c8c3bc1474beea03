"""Benchmark: ``requests find`` over N catalogued clips (target under 100 ms at 10M), SQLite or PostgreSQL.

The catalogue is the one of purge_plan.py (bulk_catalogue.py: sites of six cameras recording ten-minute clips
continuously, 3 % of the clips with an uncertain recording time). Times ``pipelines.requests.find`` (the
whole command after start-up: narrow by time and place in SQL, match, store the segments, audit) for requests by
site, by camera and by point, each a one-hour window, repeated; prints the median and the worst.

    PYTHONPATH=. .venv/bin/python benchmarks/requests_find.py -n 1000000             # SQLite, /tmp/catalogue_bench_N.sqlite
    PYTHONPATH=. .venv/bin/python benchmarks/requests_find.py -n 1000000 --pg        # a throwaway PostgreSQL server
    PYTHONPATH=. .venv/bin/python benchmarks/requests_find.py --url URL -n 10000000   # an existing catalogue
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anonymizer.config import Config  # noqa: E402
from anonymizer.pipelines import requests as pipeline  # noqa: E402
from anonymizer.store.catalogue import Catalogue  # noqa: E402
from benchmarks.bulk_catalogue import NOW, Target, add_target_options, cameras_for, site, sites_for  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target_options(ap)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    target = Target(args.url, args.pg, args.n, "catalogue_bench")
    try:
        run(target.ready(), args)
    finally:
        target.close()


def run(url: str, args: argparse.Namespace) -> None:
    cameras = cameras_for(args.n)
    config = Config(path=None, archive=Path("/tmp"), catalogue_url=url,
                    sites={s.id: s for s in sites_for(cameras)}, cameras={c.id: c for c in cameras})
    cat = Catalogue.open(url)
    with cat.engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM clips").scalar()
    print(f"{cat.engine.dialect.name} catalogue: {total} clips, {len(cameras)} cameras")
    t = NOW - timedelta(days=40, hours=3)
    near = site(1)
    cases = {"site": site(0).id, "camera": "cam0001", "point": f"{near.lat + 0.001},{near.lon},200"}
    worst = 0.0
    for label, place in cases.items():
        req = pipeline.new_request(cat, config, kind="erasure", received=NOW, start=t, end=t + timedelta(hours=1),
                                   place=place, now=NOW, actor="bench")
        times, cpu = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            found = pipeline.find(cat, config, req["id"], now=NOW, actor="bench")
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        worst = max(worst, max(times))
        print(f"find by {label:<6} ({place}): {len(found['segments']):3d} segments, median "
              f"{statistics.median(times):6.1f} ms, max {max(times):6.1f} ms wall; median {statistics.median(cpu):6.1f} "
              "ms CPU in this process")
    print(f"worst find: {worst:.1f} ms (target < 100 ms): {'ok' if worst < 100 else 'TOO SLOW'}")
    cat.close()


if __name__ == "__main__":
    main()
