"""Data-subject requests in the catalogue (migration 0003): the tables and their queries.

Writers take the caller's connection so that a change and its audit event commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, String, Table, Text, false, func, select
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


class Record(dict):  # type: ignore[type-arg]
    """Some of a row's columns: a dict that reads like a row (``r.name``, ``r._mapping``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> "Record":
        return self


_LONGEST = "longest_clip_s__"


def request_and_longest_clip(conn: Connection, request_id: str) -> tuple[Record | None, float]:
    """The request and the longest clip's duration (seconds), in one round trip (``requests find``)."""
    longest = select(func.max(clips.c.duration_s)).scalar_subquery().label(_LONGEST)
    row = conn.execute(select(requests, longest).where(requests.c.id == request_id)).first()
    if row is None:
        return None, 0.0
    m = Record(row._mapping)
    value = m.pop(_LONGEST)
    return m, float(value or 0.0)


#: The clip columns shown beside each segment.
SEGMENT_CLIP_COLUMNS = ("id", "uri", "camera_id", "site_id", "state", "sha256", "restricted", "derived_from",
                        "start_utc", "time_source", "time_uncertain", "duration_s")


def segments_with_clips(conn: Connection, request_id: str) -> list[tuple[Record, Record | None]]:
    """The request's segments (by start), each with its clip's ``SEGMENT_CLIP_COLUMNS``: one query."""
    q = (select(segments, *[clips.c[k].label(f"clip__{k}") for k in SEGMENT_CLIP_COLUMNS])
         .select_from(segments.outerjoin(clips, clips.c.id == segments.c.clip_id))
         .where(segments.c.request_id == request_id).order_by(segments.c.start_utc, segments.c.id))
    out = []
    for row in conn.execute(q):
        m = row._mapping
        seg = Record({c.name: m[c.name] for c in segments.c})
        clip = Record({k: m[f"clip__{k}"] for k in SEGMENT_CLIP_COLUMNS})
        out.append((seg, clip if clip["id"] is not None else None))
    return out


def store_segments(conn: Connection, request_id: str, found: list[dict[str, Any]]) -> None:
    """Store what ``requests find`` matched: new segments inserted, unhandled ones updated, handled ones kept as
    they are (one upsert statement); unhandled, unselected segments no longer matched removed (one statement).
    ``found``: rows with the segment columns but ``request_id``, ``selected`` and the handling."""
    if found:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(segments)
        changes = [k for k in found[0] if k not in ("id", "clip_id")]
        stmt = stmt.on_conflict_do_update(index_elements=[segments.c.id],
                                          set_={k: stmt.excluded[k] for k in changes},
                                          where=segments.c.handled_at.is_(None))
        conn.execute(stmt, [{**r, "request_id": request_id, "selected": False} for r in found])
    conn.execute(segments.delete().where(
        segments.c.request_id == request_id, segments.c.handled_at.is_(None), segments.c.selected == false(),
        segments.c.id.not_in([r["id"] for r in found])))
