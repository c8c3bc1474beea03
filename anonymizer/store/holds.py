"""Holds and catalogue state in the catalogue (migration 0002): the tables and their queries.

Writers take the caller's connection so that a hold and its audit event commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, Table, Text, func, select
from sqlalchemy.engine import Connection

from anonymizer.domain.holds import HoldInfo
from anonymizer.store.schema import UtcDateTime, cameras, metadata, sites

holds = Table(
    "holds", metadata,
    Column("id", String(16), primary_key=True),
    Column("scope", String(8), nullable=False),
    Column("target", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("start_utc", UtcDateTime),
    Column("end_utc", UtcDateTime),
    Column("review_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("released_at", UtcDateTime),
    Column("released_by", String(200)),
    Column("release_reason", Text),
    Index("ix_holds_target", "target"),
)

catalogue_state = Table(
    "catalogue_state", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

POLICY_FINGERPRINT = "retention_policy_fingerprint"


def hold_info(row: Any) -> HoldInfo:
    return HoldInfo(row.id, row.scope, row.target, row.kind, row.reason, row.owner, row.start_utc, row.end_utc,
                    row.review_at, row.expires_at, row.released_at)


def hold_row(row: Any) -> dict[str, Any]:
    """Everything stored about a hold, as plain values (times as ISO 8601 UTC)."""
    out = dict(row._mapping)
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
    return out


def insert_hold(conn: Connection, hold: HoldInfo, created_at: datetime, created_by: str) -> None:
    conn.execute(holds.insert().values(
        id=hold.id, scope=hold.scope, target=hold.target, kind=hold.kind, reason=hold.reason, owner=hold.owner,
        start_utc=hold.start, end_utc=hold.end, review_at=hold.review, expires_at=hold.expires,
        created_at=created_at, created_by=created_by, released_at=hold.released,
    ))


def get_hold(conn: Connection, hold_id: str) -> Any | None:
    return conn.execute(select(holds).where(holds.c.id == hold_id)).first()


def holds_with_prefix(conn: Connection, prefix: str, limit: int = 2) -> list[Any]:
    """Holds whose id starts with ``prefix`` (at most ``limit``)."""
    q = select(holds).where(func.substr(holds.c.id, 1, len(prefix)) == prefix).order_by(holds.c.id).limit(limit)
    return list(conn.execute(q))


def all_holds(conn: Connection) -> list[Any]:
    return list(conn.execute(select(holds).order_by(holds.c.created_at, holds.c.id)))


def release_hold(conn: Connection, hold_id: str, at: datetime, by: str, reason: str) -> None:
    conn.execute(holds.update().where(holds.c.id == hold_id).values(released_at=at, released_by=by,
                                                                     release_reason=reason))


def get_state(conn: Connection, key: str) -> str | None:
    row = conn.execute(select(catalogue_state.c.value).where(catalogue_state.c.key == key)).first()
    return row.value if row else None


def set_state(conn: Connection, key: str, value: str) -> None:
    if get_state(conn, key) is None:
        conn.execute(catalogue_state.insert().values(key=key, value=value))
    else:
        conn.execute(catalogue_state.update().where(catalogue_state.c.key == key).values(value=value))


def target_exists(conn: Connection, scope: str, target: str) -> bool:
    """Whether the camera or site a hold names is in the catalogue."""
    table = cameras if scope == "camera" else sites
    return conn.execute(select(table.c.id).where(table.c.id == target)).first() is not None
