"""Benchmark: plan a purge over N catalogued clips in SQLite (default 1 000 000; target under 5 s).

Builds a catalogue (once, cached under --db) with 3 sites, 30 cameras and N clips spread over two years, the
notice's deadlines stored at "ingest", ~70 % of them already deleted (what a catalogue looks like after two years of
nightly purges), and 50 holds; then times ``pipelines.purge.plan`` (read every clip, decide for every clip, resolve
the paths of those to delete). Files are not created: the paths of clips to delete do not exist, which makes the
symlink check the same cost as for real files.

    .venv/bin/python benchmarks/purge_plan.py [-n 1000000] [--db /tmp/purge_bench.sqlite] [--live]

``--live``: no clip deleted yet (the worst case: every clip goes through the full decision).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from anonymizer.domain.holds import HoldInfo
from anonymizer.domain.retention import Policy, purge_after
from anonymizer.domain.sites import Camera, Site
from anonymizer.pipelines.purge import plan
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.holds import POLICY_FINGERPRINT, insert_hold, set_state
from anonymizer.store.schema import clips

UTC = timezone.utc
NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


def build(db: Path, n: int, live: bool) -> None:
    sites = [Site("hq", "HQ", "premises", "Europe/Berlin"), Site("lab", "Lab", "premises", "America/New_York"),
             Site("road", "Road", "external", "Europe/Paris")]
    purposes = ["security", "rnd", "marketing"]
    cams = [Camera(f"cam{i:02d}", sites[i % 3].id, purposes[(i // 3) % 3]) for i in range(30)]
    site_of = {s.id: s for s in sites}
    cat = Catalogue.open(f"sqlite:///{db}", create=True)
    rng = random.Random(1)
    policy = Policy()
    with cat.transaction() as conn:
        cat.sync(conn, sites, cams)
        set_state(conn, POLICY_FINGERPRINT, policy.fingerprint())
        for h in range(50):
            cam = rng.choice(cams)
            start = NOW - timedelta(days=rng.randint(0, 700))
            insert_hold(conn, HoldInfo(f"h{h:04d}", "camera", cam.id, "incident", "bench", "bench", start,
                                       start + timedelta(days=2)), NOW, "bench")
    span = 730 * 86400
    batch = []
    with cat.transaction() as conn:
        for i in range(n):
            cam = cams[i % len(cams)]
            site = site_of[cam.site]
            start = NOW - timedelta(seconds=rng.randint(0, span))
            state = "anonymised" if i % 10 == 0 else "raw"
            deadline = purge_after(start, site.kind, site.timezone, cam.purpose, state == "anonymised")
            if not live and deadline is not None and deadline < NOW - timedelta(days=1):
                state = "deleted"
            sha = f"{i:064x}"
            batch.append(dict(
                id=sha[-16:], uri=f"/archive/raw/{cam.id}/{i:08d}.mp4", sha256=sha, size=1, camera_id=cam.id,
                site_id=site.id, purpose=cam.purpose, start_utc=start, end_utc=start + timedelta(minutes=10),
                time_source="sidecar", time_uncertain=False, codec="h264", width=1920, height=1080, rate="25",
                frames=15000, duration_s=600.0, has_audio=False, state=state, derived_from=None, report_uri=None,
                purge_after=deadline, restricted=False, ingested_at=start))
            if len(batch) == 50000:
                conn.execute(clips.insert(), batch)
                batch.clear()
        if batch:
            conn.execute(clips.insert(), batch)
    cat.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    db = a.db or Path(f"/tmp/purge_bench_{a.n}{'_live' if a.live else ''}.sqlite")
    if not db.exists():
        t = time.perf_counter()
        build(db, a.n, a.live)
        print(f"built {db} with {a.n} clips in {time.perf_counter() - t:.1f} s")
    cat = Catalogue.open(f"sqlite:///{db}")
    times, cpu = [], []
    for _ in range(a.repeat):
        t, c = time.perf_counter(), time.process_time()
        p = plan(cat, Policy(), NOW, Path("/archive"))
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    cat.close()
    counts: dict[str, int] = {}
    for d in p.decisions:
        counts[f"{d.action}:{d.reason}"] = counts.get(f"{d.action}:{d.reason}", 0) + 1
    print(f"plan over a catalogue of {a.n} clips ({len(p.decisions)} not yet deleted): best {min(times):.2f} s wall, "
          f"{min(cpu):.2f} s CPU; runs {', '.join(f'{x:.2f}' for x in times)} s (CPU time: what the plan costs on a "
          "machine not shared with other work)")
    print("decisions:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
