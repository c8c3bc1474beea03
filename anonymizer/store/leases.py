"""Leases: a clip some command is working on (``run`` anonymising it, ``requests apply`` rewriting or removing it).

A destructive step never touches a leased clip: ``purge`` skips it and reports it, ``requests apply`` refuses it,
``run`` leaves a clip that is being changed or deleted. A lease is a row per clip, taken in a serialised
transaction (``store.serial``) together with a check of the clip's state, so the same rules hold on SQLite and on
PostgreSQL, on one machine or several. A lease ends when its holder releases it or its process is gone (a run
killed with SIGKILL blocks nobody); a holder on another host, whose process cannot be seen from here, blocks until
its lease expires (6 hours after it was taken or renewed).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from anonymizer.store.schema import clips, leases
from anonymizer.store.serial import serialise

#: How long a lease lasts when its holder neither releases nor renews it (a host that died, say).
DEFAULT_TTL = timedelta(hours=6)


@dataclass(frozen=True)
class Lease:
    clip_id: str
    holder: str
    command: str
    acquired_at: datetime
    expires_at: datetime

    def text(self) -> str:
        host, pid = (self.holder.split(":") + ["?", "?"])[:2]
        return f"{self.command} (pid {pid} on {host}, since {self.acquired_at.isoformat(timespec='seconds')})"


def wall_clock() -> datetime:
    """Leases expire on the real clock (a purge may be asked about another moment with ``--now``)."""
    return datetime.now(timezone.utc)


def new_holder() -> str:
    """This process's name as a lease holder: host, pid and a random token."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _local_process(holder: str) -> bool | None:
    """Whether the holder's process is running: True or False for a holder on this host, None for another host
    (or a holder name that says nothing)."""
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return None
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # running, as another user
    return True


def _lease(row: object) -> Lease:
    return Lease(row.clip_id, row.holder, row.command, row.acquired_at, row.expires_at)  # type: ignore[attr-defined]


def live(lease: Lease, now: datetime) -> bool:
    """A lease blocks while its holder runs: on this host as long as the process is there (a long run keeps the
    clips it has not reached yet), on another host until it expires (nothing here can tell whether it runs)."""
    running = _local_process(lease.holder)
    if running is not None:
        return running
    return lease.expires_at > now


def acquire(conn: Connection, clip_ids: Iterable[str], holder: str, command: str, now: datetime,
            ttl: timedelta = DEFAULT_TTL, states: tuple[str, ...] | None = None) -> dict[str, str]:
    """Lease ``clip_ids`` for ``holder`` inside the caller's transaction. Returns the clips not leased, each with
    why: leased by another live holder, or (with ``states``) not in one of those states (deleted meanwhile, say).
    A lease of a holder that is gone or expired is taken over; the holder's own lease is renewed."""
    serialise(conn)
    refused: dict[str, str] = {}
    ids = list(dict.fromkeys(clip_ids))
    if states is not None and ids:
        found = {r.id: r.state for r in conn.execute(select(clips.c.id, clips.c.state).where(clips.c.id.in_(ids)))}
        for cid in ids:
            if found.get(cid) not in states:
                refused[cid] = f"clip {cid} is {found.get(cid, 'not in the catalogue')}"
    held = {r.clip_id: _lease(r) for r in conn.execute(select(leases).where(leases.c.clip_id.in_(ids)))} if ids else {}
    for cid in ids:
        if cid in refused:
            continue
        old = held.get(cid)
        if old is not None and old.holder != holder and live(old, now):
            refused[cid] = f"clip {cid} is in use by {old.text()}"
            continue
        values = dict(holder=holder, command=command, acquired_at=now, expires_at=now + ttl)
        if old is None:
            conn.execute(leases.insert().values(clip_id=cid, **values))
        else:
            conn.execute(update(leases).where(leases.c.clip_id == cid).values(**values))
    return refused


def release(conn: Connection, clip_ids: Iterable[str], holder: str) -> None:
    ids = list(clip_ids)
    if ids:
        conn.execute(delete(leases).where(leases.c.clip_id.in_(ids), leases.c.holder == holder))


def release_all(conn: Connection, holder: str) -> None:
    conn.execute(delete(leases).where(leases.c.holder == holder))


def active(conn: Connection, now: datetime, clip_ids: Iterable[str] | None = None) -> dict[str, Lease]:
    """Every live lease (of ``clip_ids``) by clip; expired ones and those of processes that are gone are left out."""
    out = {}
    q = select(leases)
    if clip_ids is not None:
        q = q.where(leases.c.clip_id.in_(list(clip_ids)))
    for r in conn.execute(q):
        lease = _lease(r)
        if live(lease, now):
            out[lease.clip_id] = lease
    return out
