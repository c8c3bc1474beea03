"""Artefacts: files other than clips that show a recording (review pages with thumbnails, access exports, request
reports), each with its owner request, the clips it shows and a deadline (migration 0006).

A request's artefacts get their deadline when the request is closed (closed + ``artefact_days``, default 30); the
purge deletes them when due, and ``requests find`` lists those that show a matched clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import Column, ForeignKey, Index, String, Table, delete, select, update
from sqlalchemy.engine import Connection

from anonymizer.store.schema import UtcDateTime, metadata

artefacts = Table(
    "artefacts", metadata,
    Column("path", String(2048), primary_key=True),
    Column("kind", String(16), nullable=False),  # review | export | report
    Column("request_id", String(16), ForeignKey("requests.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("purge_after", UtcDateTime),  # set when the request is closed
    Column("state", String(16), nullable=False),  # live | deleted
    Index("ix_artefacts_request_id", "request_id"),
    Index("ix_artefacts_purge_after", "purge_after"),
)

artefact_clips = Table(
    "artefact_clips", metadata,
    Column("path", String(2048), ForeignKey("artefacts.path"), primary_key=True),
    Column("clip_id", String(16), primary_key=True),
    Index("ix_artefact_clips_clip_id", "clip_id"),
)

LIVE = "live"
DELETED = "deleted"


@dataclass(frozen=True)
class Artefact:
    path: str
    kind: str
    request_id: str
    created_at: datetime
    purge_after: datetime | None
    state: str


def _artefact(r: object) -> Artefact:
    return Artefact(r.path, r.kind, r.request_id, r.created_at, r.purge_after, r.state)  # type: ignore[attr-defined]


def record(conn: Connection, path: str, kind: str, request_id: str, clip_ids: Iterable[str], now: datetime,
           purge_after: datetime | None = None) -> None:
    """Record (or refresh: a review page written again) an artefact and the clips it shows."""
    old = conn.execute(select(artefacts.c.path).where(artefacts.c.path == path)).first()
    values = dict(kind=kind, request_id=request_id, created_at=now, purge_after=purge_after, state=LIVE)
    if old is None:
        conn.execute(artefacts.insert().values(path=path, **values))
    else:
        conn.execute(update(artefacts).where(artefacts.c.path == path).values(**values))
        conn.execute(delete(artefact_clips).where(artefact_clips.c.path == path))
    ids = sorted(set(clip_ids))
    if ids:
        conn.execute(artefact_clips.insert(), [{"path": path, "clip_id": c} for c in ids])


def set_deadline(conn: Connection, request_id: str, when: datetime) -> int:
    res = conn.execute(update(artefacts).where(artefacts.c.request_id == request_id, artefacts.c.state == LIVE)
                       .values(purge_after=when))
    return int(res.rowcount or 0)


def mark_deleted(conn: Connection, path: str) -> None:
    conn.execute(update(artefacts).where(artefacts.c.path == path).values(state=DELETED))


def due(conn: Connection, now: datetime) -> list[Artefact]:
    q = select(artefacts).where(artefacts.c.state == LIVE, artefacts.c.purge_after.is_not(None),
                                artefacts.c.purge_after <= now).order_by(artefacts.c.purge_after, artefacts.c.path)
    return [_artefact(r) for r in conn.execute(q)]


def live(conn: Connection) -> list[Artefact]:
    q = select(artefacts).where(artefacts.c.state == LIVE).order_by(artefacts.c.path)
    return [_artefact(r) for r in conn.execute(q)]


def showing(conn: Connection, clip_ids: Iterable[str]) -> dict[str, list[Artefact]]:
    """Live artefacts that show any of ``clip_ids``, by clip."""
    ids = list(set(clip_ids))
    if not ids:
        return {}
    q = (select(artefacts, artefact_clips.c.clip_id).join(artefact_clips, artefact_clips.c.path == artefacts.c.path)
         .where(artefact_clips.c.clip_id.in_(ids), artefacts.c.state == LIVE).order_by(artefacts.c.path))
    out: dict[str, list[Artefact]] = {}
    for r in conn.execute(q):
        out.setdefault(r.clip_id, []).append(_artefact(r))
    return out
