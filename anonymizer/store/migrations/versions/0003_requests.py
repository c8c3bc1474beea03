"""Data-subject requests and the segments each one matched; an index on clips.duration_s so that a time-window
search can bound the clips' start times from below (``start >= from - longest clip``).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The tables' SQLAlchemy definitions (and the clips.duration_s index) live in anonymizer.store.requests; importing
# it here puts them in the shared metadata whenever the catalogue is migrated, so schema checks see them.
import anonymizer.store.requests  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)  # UtcDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("place_text", sa.String(400), nullable=False),
        sa.Column("place_kind", sa.String(8), nullable=False),
        sa.Column("place_id", sa.String(64)),
        sa.Column("lat", sa.Float()),
        sa.Column("lon", sa.Float()),
        sa.Column("radius_m", sa.Float()),
        sa.Column("tolerance_s", sa.Float(), nullable=False),
        sa.Column("uncertain_tolerance_s", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("closed_at", TS),
        sa.Column("closed_by", sa.String(200)),
        sa.Column("close_note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
    )
    op.create_index("ix_requests_status", "requests", ["status"])
    op.create_table(
        "request_segments",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("clip_id", sa.String(16), nullable=False),
        sa.Column("start_offset_s", sa.Float(), nullable=False),
        sa.Column("end_offset_s", sa.Float(), nullable=False),
        sa.Column("start_utc", TS, nullable=False),
        sa.Column("end_utc", TS, nullable=False),
        sa.Column("tolerance_s", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("found_at", TS, nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(16)),
        sa.Column("handled_at", TS),
        sa.Column("outcome", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_request_segments"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="fk_request_segments_request_id_requests"),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_request_segments_clip_id_clips"),
    )
    op.create_index("ix_request_segments_request_id", "request_segments", ["request_id"])
    op.create_index("ix_request_segments_clip_id", "request_segments", ["clip_id"])
    op.create_index("ix_clips_duration_s", "clips", ["duration_s"])


def downgrade() -> None:
    op.drop_index("ix_clips_duration_s", "clips")
    op.drop_index("ix_request_segments_clip_id", "request_segments")
    op.drop_index("ix_request_segments_request_id", "request_segments")
    op.drop_table("request_segments")
    op.drop_index("ix_requests_status", "requests")
    op.drop_table("requests")
