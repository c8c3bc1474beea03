"""A pool worker dies with the process that started it.

A worker blocks on its task queue, and holds both ends of that pipe, so it never sees EOF when its coordinator is
killed (``kill -9``, the OOM killer): without this it idles for ever with the models in memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import threading
import time

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def exit_with_parent(parent_pid: int) -> None:
    """Make this process exit when ``parent_pid`` (its parent, recorded before the fork) dies: the kernel's
    parent-death signal on Linux, else a daemon thread that polls the parent pid. The kernel sends the signal when
    the parent *thread* that started the worker ends: a pool is started and shut down within one call."""
    if not _set_parent_death_signal():
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    # The parent may have died before the signal was armed: then the kernel never sends it.
    if os.getppid() != parent_pid:
        os._exit(1)


def _set_parent_death_signal() -> bool:
    name = ctypes.util.find_library("c")
    if name is None or not hasattr(signal, "SIGKILL"):
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError) as exc:  # not Linux: no prctl
        log.debug("no parent-death signal (%s): polling the parent instead", exc)
        return False


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    os._exit(1)
