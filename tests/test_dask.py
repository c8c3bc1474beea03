"""``run --scheduler``: a batch anonymised by a real Dask cluster (scheduler and worker processes on the loopback
address, real models), with the same results, failures and exit codes as local workers; a worker killed mid-batch
has its clip redone elsewhere and nothing is recorded twice."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from anonymizer.config import load_config
from anonymizer.pipelines.run import run_batch
from anonymizer.store.catalogue import Catalogue
from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_run import catalogue_view, partials, setup_archive

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed", reason="the Dask client is not installed (pip install -e '.[dask]')")

FAST = ("--face-stride", "1", "--plate-stride", "1")


@pytest.fixture(scope="module")
def cluster(models_ready):
    """A scheduler and two single-threaded worker processes (each restarted by its nanny when it dies)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as lc:
        yield lc


def test_run_on_the_cluster_matches_a_local_run(tmp_path: Path, backend, cluster):
    batch = tmp_path / "batch"
    for i in range(3):
        tiny_clip(batch / "door" / f"c{i}.mp4", 40 + i, n=4, size=(320, 240),
                  metadata={"creation_time": f"2024-06-0{i + 1}T12:00:00Z"})
    (batch / "door" / "broken.mp4").write_bytes(b"\x00" * 100)

    local_cfg = setup_archive(tmp_path, "local", backend)
    local = invoke("run", str(batch), "-c", local_cfg, "-j", "2", "--json", *FAST)
    dask_cfg = setup_archive(tmp_path, "dask", backend)
    remote = invoke("run", str(batch), "-c", dask_cfg, "--scheduler", cluster.scheduler_address, "--json", *FAST)

    assert remote.exit_code == local.exit_code == 3, remote.output  # the broken file, in both
    assert "broken.mp4" in remote.stderr and remote.stderr.count("error: ") == local.stderr.count("error: ")
    out = json.loads(remote.stdout)
    assert [a["ok"] for a in out["anonymised"]] == [True] * 3
    assert catalogue_view(tmp_path / "dask", batch) == catalogue_view(tmp_path / "local", batch)
    assert invoke("audit", "verify", "-c", dask_cfg).exit_code == 0

    # the configuration key does the same; a rerun has nothing left to do
    text = Path(dask_cfg).read_text()
    Path(dask_cfg).write_text(f'scheduler = "{cluster.scheduler_address}"\n' + text)
    again = invoke("run", str(batch), "-c", dask_cfg, "--json", *FAST)
    assert json.loads(again.stdout)["already_anonymised"] == 3 and json.loads(again.stdout)["anonymised"] == []


def test_unreachable_scheduler_is_a_one_line_error(tmp_path: Path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    cfg = setup_archive(tmp_path)
    (tmp_path / "b").mkdir()
    monkeypatch.setattr("anonymizer.pipelines.cluster.CONNECT_TIMEOUT_S", 2)
    r = invoke("run", str(tmp_path / "b"), "-c", cfg, "--scheduler", f"tcp://127.0.0.1:{port}")
    assert r.exit_code == 1 and "cannot connect" in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_worker_killed_mid_batch_has_its_clip_redone_elsewhere(tmp_path: Path, backend, cluster):
    batch = tmp_path / "batch"
    n = 6
    for i in range(n):
        tiny_clip(batch / "door" / f"k{i}.mp4", 60 + i, n=24, size=(320, 240),
                  metadata={"creation_time": f"2024-06-0{i + 1}T12:00:00Z"})
    cfg_path = setup_archive(tmp_path, backend=backend)
    archive = tmp_path / "archive"
    config = load_config(Path(cfg_path))
    settings = config.anonymise.with_(face_stride=1, plate_stride=1, residual_samples=0)
    watcher = distributed.Client(cluster, set_as_default=False)
    killed: list[str] = []

    def executing(dask_worker):  # runs on each worker
        return dask_worker.state.executing_count

    def kill_a_busy_worker(_outcome) -> None:
        if killed:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = [a for a, k in watcher.run(executing).items() if k]
            if busy:
                pid = watcher.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.05)

    try:
        with Catalogue.open(config.catalogue_url) as cat:
            result = run_batch(batch, config, cat, datetime.now(timezone.utc), settings=settings,
                               on_done=kill_a_busy_worker, scheduler=cluster.scheduler_address)
    finally:
        watcher.close()
    assert killed, "no worker was busy when the first clip came back"
    assert result.exit_code() == 0, [o.error for o in result.anonymised]
    copies = [c for c in rows(archive) if c.state == "anonymised"]
    raws = [c for c in rows(archive) if c.state == "raw"]
    assert len(raws) == n and sorted(c.derived_from for c in copies) == sorted(c.id for c in raws)
    actions = [e.action for e in rows(archive, "audit")]
    assert actions.count("anonymise") == n and actions.count("ingest") == n
    assert partials(archive / "anonymised") == []
    for c in copies:
        assert json.loads(Path(c.report_uri).read_text())["frames"] == 24
    assert invoke("audit", "verify", "-c", cfg_path).exit_code == 0


def test_workers_share_their_host_cores():
    from anonymizer.pipelines.cluster import host_threads

    info = {"workers": {"tcp://10.0.0.5:4001": {"nthreads": 1}, "tcp://10.0.0.5:4002": {"nthreads": 1},
                        "tcp://10.0.0.6:4001": {"nthreads": 4}}}
    assert host_threads(info) == {"tcp://10.0.0.5": 2, "tcp://10.0.0.6": 4}
