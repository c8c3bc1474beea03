"""The catalogue's tables (SQLAlchemy Core). Portable SQL only: the same code runs on SQLite and PostgreSQL.

Timestamps go through ``UtcDateTime``: aware datetimes in, aware UTC datetimes out, on every dialect (SQLite
keeps no offset and would hand back naive times).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy import text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

UTC = timezone.utc


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC; read back aware (UTC) whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the catalogue (times must be aware)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sites = Table(
    "sites", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("radius_m", Float),
    Column("address", String(400)),
)

cameras = Table(
    "cameras", metadata,
    Column("id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.id"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("audio_area", Boolean, nullable=False, default=False),
    Column("clock", String(8), nullable=False),
    Column("clock_offset_s", Float, nullable=False, default=0.0),
    Column("filename_pattern", String(200)),
)

clips = Table(
    "clips", metadata,
    Column("id", String(16), primary_key=True),
    Column("uri", String(2048), nullable=False),
    Column("sha256", String(64), nullable=False),  # not unique: identical copies may exist (0005)
    Column("size", BigInteger, nullable=False),
    Column("camera_id", String(64), ForeignKey("cameras.id"), nullable=False),
    Column("site_id", String(64), ForeignKey("sites.id"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("start_utc", UtcDateTime, nullable=False),
    Column("end_utc", UtcDateTime),
    Column("time_source", String(16), nullable=False),
    Column("time_uncertain", Boolean, nullable=False, default=False),
    Column("codec", String(32), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("rate", String(32)),
    Column("frames", Integer, nullable=False),
    Column("duration_s", Float),
    Column("has_audio", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("derived_from", String(16), ForeignKey("clips.id")),
    Column("report_uri", String(2048)),
    Column("purge_after", UtcDateTime),
    Column("restricted", Boolean, nullable=False, default=False),
    Column("ingested_at", UtcDateTime, nullable=False),
    Column("imported_from", String(2048)),  # the original path of a clip imported into ARCHIVE/raw (0004)
    Column("deleting_from", String(16)),  # the state a clip marked ``deleting`` had before (0008)
    Index("ix_clips_uri", "uri"),
    Index("ix_clips_sha256", "sha256"),
    Index("ix_clips_state", "state"),
    Index("ix_clips_start_utc", "start_utc"),
    Index("ix_clips_purge_after", "purge_after"),
    Index("ix_clips_derived_from", "derived_from"),
    Index("ix_clips_imported_from", "imported_from"),
    Index("ix_clips_state_purge_after", "state", "purge_after"),  # the purge plan's pre-filter (0007)
    # and its "no deadline stored" part: a small partial index (PostgreSQL's planner would otherwise scan the table)
    Index("ix_clips_undated_state", "state", postgresql_where=text("purge_after IS NULL"),
          sqlite_where=text("purge_after IS NULL")),
    Index("ix_clips_site_id_start_utc", "site_id", "start_utc"),  # requests find by site or point (0007)
    Index("ix_clips_camera_id_start_utc", "camera_id", "start_utc"),  # requests find by camera (0007)
)

audit_events = Table(
    "audit_events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object", String(400), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

leases = Table(  # 0005: a clip some command is working on; the others leave it alone until released or expired
    "leases", metadata,
    Column("clip_id", String(16), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid:token of the process
    Column("command", String(32), nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

file_intents = Table(  # 0005: a file change recorded before it is made (prepared), then with its commit (committed)
    "file_intents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("clip_id", String(16), nullable=False),
    Column("op", String(16), nullable=False),  # replace (temp -> path) | unlink (path)
    Column("path", String(2048), nullable=False),
    Column("temp", String(2048)),
    Column("status", String(16), nullable=False),  # prepared | committed
    Column("owner", String(64), nullable=False),  # the request (request:ID) or command that made it
    Column("created_at", UtcDateTime, nullable=False),
)
