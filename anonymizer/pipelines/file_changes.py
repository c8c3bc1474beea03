"""Carry out file changes recorded as intents (``store.intents``), and finish those a killed process left.

The order for every destructive change to a clip's file: lease the clip, record a ``prepared`` intent, write the
new content to a temporary sibling, commit the catalogue change together with its audit event and the intent
turned ``committed``, then rename (or unlink), then drop the intent. Killed anywhere, the next ``finish_pending``
converges: a prepared intent is rolled back (its temporary file removed; the catalogue never described it), a
committed one is rolled forward (the rename or unlink done).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from anonymizer import safe_files
from anonymizer.store import intents
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.leases import acquire, release, wall_clock

log = logging.getLogger(__name__)


def carry_out(intent: intents.Intent) -> None:
    """Do a committed intent's file operation (idempotent: a second call finds it done)."""
    path = Path(intent.path)
    if intent.op == intents.REPLACE:
        temp = Path(intent.temp) if intent.temp else None
        if temp is not None and temp.exists():
            safe_files.publish(temp, path)
    elif intent.op == intents.UNLINK:
        safe_files.unlink(path)
    else:
        raise ValueError(f"unknown file intent {intent.op!r}")


def roll_back(intent: intents.Intent) -> None:
    """Undo a prepared intent: remove its temporary file and the writer's partial file of it, if any."""
    if intent.temp:
        temp = Path(intent.temp)
        for p in [temp, *safe_files.leftovers(temp, "partial")]:
            p.unlink(missing_ok=True)


def finish_pending(cat: Catalogue, holder: str, now: datetime) -> list[str]:
    """Finish what a killed process left: committed intents done, prepared ones undone. Skips the intents of a
    clip another live process holds (it is still at work). Returns one line per intent finished."""
    with cat.engine.connect() as conn:
        todo = intents.pending(conn)
    lines = []
    for clip_id in dict.fromkeys(i.clip_id for i in todo):
        with cat.transaction() as conn:
            if acquire(conn, [clip_id], holder, "recover", wall_clock()):
                continue  # another process holds it: its own intents, still in progress
            mine = intents.pending(conn, [clip_id])
        for i in mine:
            if i.status == intents.COMMITTED:
                carry_out(i)
                lines.append(f"clip {i.clip_id}: finished an interrupted {i.op} of {i.path} ({i.owner})")
            else:
                roll_back(i)
                lines.append(f"clip {i.clip_id}: undid an interrupted change to {i.path} ({i.owner}); not applied")
        with cat.transaction() as conn:
            intents.done(conn, [i.id for i in mine])
            release(conn, [clip_id], holder)
    for line in lines:
        log.warning("%s", line)
    return lines
