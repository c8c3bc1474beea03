"""Benchmark: plan a nightly purge over N catalogued clips, every one still live (targets: 1 s at 1M, 10 s at 10M).

The catalogue (bulk_catalogue.py) holds N live clips: what the notice lets a site keep plus one night, so about one
day of recordings per camera is due and the rest is not; one clip in eleven is an anonymised copy. Times
``pipelines.purge.plan``: the SQL pre-filter (clips not certainly kept, through the (state, purge_after) index),
the counts of the clips it left out, ``decide`` for the rest, and the resolved path of every clip to delete.
Files are not created: the paths do not exist, which costs the symlink check the same as real files.

    PYTHONPATH=. .venv/bin/python benchmarks/purge_plan.py -n 1000000            # SQLite, /tmp/catalogue_bench_N.sqlite
    PYTHONPATH=. .venv/bin/python benchmarks/purge_plan.py -n 1000000 --pg       # a throwaway PostgreSQL server
    PYTHONPATH=. .venv/bin/python benchmarks/purge_plan.py --url postgresql+psycopg://USER@HOST/DB -n 10000000

``--every-clip``: the plan of ``purge --list`` (and of the first purge after a policy change): every live clip
read and decided.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anonymizer.domain.retention import Policy  # noqa: E402
from anonymizer.pipelines.purge import plan  # noqa: E402
from anonymizer.store.catalogue import Catalogue  # noqa: E402
from benchmarks.bulk_catalogue import NOW, Target, add_target_options  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target_options(ap)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every-clip", action="store_true")
    a = ap.parse_args()
    target = Target(a.url, a.pg, a.n, "catalogue_bench")
    try:
        cat = Catalogue.open(target.ready())
        times, cpu = [], []
        for _ in range(a.repeat):
            t, c = time.perf_counter(), time.process_time()
            p = plan(cat, Policy(), NOW, Path("/archive"), every_clip=a.every_clip)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        cat.close()
    finally:
        target.close()
    counts = dict(p.left_out)
    for d in p.decisions:
        counts[f"{d.action}:{d.reason}"] = counts.get(f"{d.action}:{d.reason}", 0) + 1
    print(f"{cat.engine.dialect.name}: plan over {sum(counts.values())} live clips ({len(p.decisions)} read and "
          f"decided{', every clip' if a.every_clip else ''}): best {min(times):.3f} s wall, {min(cpu):.3f} s CPU in "
          f"this process; runs {', '.join(f'{x:.3f}' for x in times)} s")
    print("decisions:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
