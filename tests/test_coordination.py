"""Commands at the same time (issue 9): a purge during a run leaves the clips being anonymised (leases), and two
writers appending to the audit chain at once never fork or lose it."""

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from anonymizer.config import load_config
from anonymizer.pipelines import run as run_pipeline
from anonymizer.pipelines.purge import purge
from anonymizer.store.catalogue import Catalogue
from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_run import setup_archive

UTC = timezone.utc
REPO = Path(__file__).resolve().parents[1]
LATER = datetime(2099, 1, 1, tzinfo=UTC)  # every raw clip is due


@pytest.mark.slow
def test_purge_during_run_skips_the_leased_clips_and_reports_them(tmp_path: Path, backend, models_ready,
                                                                   monkeypatch):
    cfg_path = setup_archive(tmp_path, backend=backend)
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 31, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(batch / "door" / "b.mp4", 32, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:05:00Z"})
    cfg = load_config(Path(cfg_path))
    reports = []
    real = run_pipeline.anonymise_batch

    def purge_first(tasks, *args, **kwargs):  # a nightly purge starts once run has claimed both clips
        claimed = []

        def claim(task):
            ok = kwargs_claim(task)
            claimed.append(ok)
            if len(claimed) == 2:
                with Catalogue.open(cfg.catalogue_url) as cat:
                    reports.append(purge(cat, cfg.policy, LATER, cfg.archive))
            return ok

        kwargs_claim = kwargs["claim"]
        return real(tasks, *args, **{**kwargs, "claim": claim})

    monkeypatch.setattr(run_pipeline, "anonymise_batch", purge_first)
    # two workers: both clips are claimed (leased) before either starts (run claims a clip just before its turn)
    r = invoke("run", str(batch), "-c", cfg_path, "-j", "2", "--face-stride", "1", "--plate-stride", "1")
    assert r.exit_code == 0, r.output
    (report,) = reports
    raws = [c for c in rows(tmp_path / "archive") if c.derived_from is None]
    assert len(raws) == 2 and all(c.state == "raw" and Path(c.uri).exists() for c in raws)
    assert [o.outcome for o in report.outcomes] == ["leased", "leased"]
    assert len(report.leased) == 2 and all("in use by run" in line for line in report.leased)
    assert len([c for c in rows(tmp_path / "archive") if c.state == "anonymised"]) == 2

    with Catalogue.open(cfg.catalogue_url) as cat:  # the run is over: its leases are gone, the next purge deletes
        assert cat.leases() == {}
        after = purge(cat, cfg.policy, LATER, cfg.archive)
    assert sorted(o.outcome for o in after.outcomes if o.clip_id in {c.id for c in raws}) == ["deleted", "deleted"]


WRITER = """
import sys
from datetime import datetime, timezone
from anonymizer.store.catalogue import Catalogue
cat = Catalogue.open(sys.argv[1])
for i in range(int(sys.argv[3])):
    with cat.transaction() as conn:
        cat.audit_append(conn, datetime.now(timezone.utc), sys.argv[2], "test.write", f"n {i}", {"i": i})
"""


def test_two_writers_append_to_the_audit_chain_without_forking_it(tmp_path: Path, backend):
    """Two processes (SQLite's write lock at BEGIN; PostgreSQL's advisory lock)."""
    url = backend.url(tmp_path)
    Catalogue.open(url, create=True).close()
    n = 150
    env = {"PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, who, str(n)], env=env, stderr=subprocess.PIPE,
                              text=True) for who in ("one", "two")]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with Catalogue.open(url) as cat:
        report = cat.audit_verify()
        events = cat.audit_events()
    assert report.ok, report.problems
    assert len(events) == 2 * n
    assert sorted(e.actor for e in events).count("one") == n
