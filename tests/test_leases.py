"""Leases (store.leases): who blocks whom, and for how long."""

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from anonymizer.store.leases import Lease, live

UTC = timezone.utc
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def lease(holder: str, expires: datetime) -> Lease:
    return Lease("c1", holder, "run", NOW - timedelta(hours=8), expires)


def test_a_running_local_holder_blocks_past_its_expiry_and_a_dead_one_never():
    me = f"{socket.gethostname()}:{os.getpid()}:t"
    assert live(lease(me, NOW - timedelta(hours=1)), NOW)  # a long run keeps the clips it has not reached yet
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"{socket.gethostname()}:{int(gone.stdout)}:t"
    assert not live(lease(dead, NOW + timedelta(hours=5)), NOW)  # killed: blocks nobody


def test_a_holder_on_another_host_blocks_until_its_lease_expires():
    other = "another-host.invalid:1234:t"
    assert live(lease(other, NOW + timedelta(minutes=1)), NOW)
    assert not live(lease(other, NOW - timedelta(minutes=1)), NOW)
