"""File intents: a change to a file recorded in the catalogue before it is made (DESIGN: nothing lost).

``prepared``: recorded before a temporary file is written; the catalogue does not yet describe the change, so a
crash here is undone (the temporary file removed). ``committed``: set in the transaction that records the change
(new sha256, state, audit event); the file operation (rename the temporary file over the clip, or unlink the clip)
follows the commit, so a crash here is finished by whoever runs ``pending`` next. Done intents are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from anonymizer.store.schema import file_intents

PREPARED = "prepared"
COMMITTED = "committed"
REPLACE = "replace"  # rename temp over path
UNLINK = "unlink"  # delete path


@dataclass(frozen=True)
class Intent:
    id: int
    clip_id: str
    op: str
    path: str
    temp: str | None
    status: str
    owner: str


def record(conn: Connection, clip_id: str, op: str, path: str, temp: str | None, status: str, owner: str,
           now: datetime) -> int:
    res = conn.execute(file_intents.insert().values(clip_id=clip_id, op=op, path=path, temp=temp, status=status,
                                                    owner=owner, created_at=now))
    return int(res.inserted_primary_key[0])


def commit(conn: Connection, ids: Iterable[int]) -> None:
    conn.execute(update(file_intents).where(file_intents.c.id.in_(list(ids))).values(status=COMMITTED))


def done(conn: Connection, ids: Iterable[int]) -> None:
    conn.execute(delete(file_intents).where(file_intents.c.id.in_(list(ids))))


def pending(conn: Connection, clip_ids: Iterable[str] | None = None) -> list[Intent]:
    q = select(file_intents).order_by(file_intents.c.id)
    if clip_ids is not None:
        q = q.where(file_intents.c.clip_id.in_(list(clip_ids)))
    return [Intent(r.id, r.clip_id, r.op, r.path, r.temp, r.status, r.owner) for r in conn.execute(q)]
