"""Anonymise on a Dask distributed cluster: the only importer of ``distributed``.

``dask_executor(ADDRESS, settings)`` connects to a scheduler and hands back a ``concurrent.futures`` executor, so
``anonymise_batch`` sends the same tasks (clip paths and settings) as to the local process pool. A worker plugin
loads the models once in each Dask worker process, when it joins (workers that join later or are restarted load
them too); tasks open their files themselves from the shared archive path. Results come back to the coordinator,
the only process that writes the catalogue. A task whose worker dies is run again on another worker by the
scheduler (up to ``distributed.scheduler.allowed-failures`` times, then it is reported as failed).
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any, Iterator

from anonymizer.errors import ClusterError
from anonymizer.pipelines.batch import available_cores, thread_budget, use_thread_budget, worker_detectors
from anonymizer.settings import AnonymiseSettings

log = logging.getLogger(__name__)

PLUGIN_NAME = "anonymizer-detectors"
CONNECT_TIMEOUT_S = 30


try:  # the optional 'dask' extra; dask_executor says how to install it
    from distributed import Client
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - the test environment installs it
    Client = None
    WorkerPlugin = object


class LoadDetectors(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Worker plugin: open the detectors once per worker process, with this process's share of its machine's
    cores (the cores over the task threads of every worker on that host, as the scheduler knew them)."""

    name = PLUGIN_NAME

    def __init__(self, settings: AnonymiseSettings, host_threads: dict[str, int]) -> None:
        self.settings = settings
        self.host_threads = host_threads

    def setup(self, worker: Any) -> None:
        share = self.host_threads.get(worker.state.address.rsplit(":", 1)[0], worker.state.nthreads)
        threads = thread_budget(max(share, worker.state.nthreads), available_cores())
        try:
            use_thread_budget(threads)
            worker_detectors(self.settings, threads)
        except Exception as exc:  # noqa: BLE001 - each task reports it again, per clip, to the coordinator
            log.warning("worker %s: cannot load the models: %s", worker.address, exc)


def host_threads(info: dict[str, Any]) -> dict[str, int]:
    """Task threads per host ("tcp://10.0.0.5") over all the workers the scheduler lists."""
    out: dict[str, int] = {}
    for address, w in info.get("workers", {}).items():
        host = address.rsplit(":", 1)[0]
        out[host] = out.get(host, 0) + int(w.get("nthreads", 1))
    return out


@contextmanager
def dask_executor(address: str, settings: AnonymiseSettings) -> Iterator[Executor]:
    """A ``concurrent.futures`` executor on the Dask cluster whose scheduler listens at ``address``."""
    if Client is None:
        raise ClusterError(f"--scheduler {address}: the Dask client is not installed; fix: pip install -e '.[dask]'")
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"scheduler {address}: cannot connect ({exc}); fix: start it with 'dask scheduler' "
                           "and check the address and the firewall") from exc
    try:
        info = client.scheduler_info(n_workers=-1)
        n = len(info.get("workers", {}))
        log.info("scheduler %s: %d workers", address, n)
        if n == 0:
            log.warning("scheduler %s has no workers yet: the clips wait until 'dask worker %s' joins",
                        address, address)
        client.register_plugin(LoadDetectors(settings, host_threads(info)), name=PLUGIN_NAME)
        executor = client.get_executor(pure=False)
        # clips in flight at once (claimed just before they are sent): enough to keep every worker thread busy
        executor.slots = max(2, 2 * sum(host_threads(info).values()))
        yield executor
    finally:
        client.close()
