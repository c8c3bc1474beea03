"""Data-subject requests in the catalogue (migration 0003): the tables and their queries.

Writers take the caller's connection so that a change and its audit event commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, String, Table, Text, func, select
from sqlalchemy.engine import Connection

from anonymizer.store.schema import UtcDateTime, clips, metadata

requests = Table(
    "requests", metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("place_text", String(400), nullable=False),
    Column("place_kind", String(8), nullable=False),
    Column("place_id", String(64)),
    Column("lat", Float),
    Column("lon", Float),
    Column("radius_m", Float),
    Column("tolerance_s", Float, nullable=False),
    Column("uncertain_tolerance_s", Float, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("closed_at", UtcDateTime),
    Column("closed_by", String(200)),
    Column("close_note", Text),
    Index("ix_requests_status", "status"),
)

segments = Table(
    "request_segments", metadata,
    Column("id", String(24), primary_key=True),
    Column("request_id", String(16), ForeignKey("requests.id"), nullable=False),
    Column("clip_id", String(16), ForeignKey("clips.id"), nullable=False),
    Column("start_offset_s", Float, nullable=False),
    Column("end_offset_s", Float, nullable=False),
    Column("start_utc", UtcDateTime, nullable=False),
    Column("end_utc", UtcDateTime, nullable=False),
    Column("tolerance_s", Float, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("found_at", UtcDateTime, nullable=False),
    Column("selected", Boolean, nullable=False, default=False),
    Column("action", String(16)),
    Column("handled_at", UtcDateTime),
    Column("outcome", Text),
    Index("ix_request_segments_request_id", "request_id"),
    Index("ix_request_segments_clip_id", "clip_id"),
)

# Lets a time-window search bound the clips' start from below: start >= from - (longest clip).
Index("ix_clips_duration_s", clips.c.duration_s)


def as_plain(row: Any) -> dict[str, Any]:
    """A row as plain values (times as ISO 8601 UTC)."""
    out = dict(row._mapping)
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
    return out


def get_request(conn: Connection, request_id: str) -> Any | None:
    return conn.execute(select(requests).where(requests.c.id == request_id)).first()


def request_segments(conn: Connection, request_id: str) -> list[Any]:
    q = select(segments).where(segments.c.request_id == request_id).order_by(segments.c.start_utc, segments.c.id)
    return list(conn.execute(q))


def longest_clip_s(conn: Connection) -> float:
    """The longest clip's duration (seconds; index ix_clips_duration_s makes this one index lookup)."""
    value = conn.execute(select(func.max(clips.c.duration_s))).scalar()
    return float(value or 0.0)
