"""The catalogue: sites, cameras, clips, audit events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)  # UtcDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("lat", sa.Float()),
        sa.Column("lon", sa.Float()),
        sa.Column("radius_m", sa.Float()),
        sa.Column("address", sa.String(400)),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("audio_area", sa.Boolean(), nullable=False),
        sa.Column("clock", sa.String(8), nullable=False),
        sa.Column("clock_offset_s", sa.Float(), nullable=False),
        sa.Column("filename_pattern", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_cameras_site_id_sites"),
    )
    op.create_table(
        "clips",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("uri", sa.String(2048), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("start_utc", TS, nullable=False),
        sa.Column("end_utc", TS),
        sa.Column("time_source", sa.String(16), nullable=False),
        sa.Column("time_uncertain", sa.Boolean(), nullable=False),
        sa.Column("codec", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("rate", sa.String(32)),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float()),
        sa.Column("has_audio", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("derived_from", sa.String(16)),
        sa.Column("report_uri", sa.String(2048)),
        sa.Column("purge_after", TS),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("ingested_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clips"),
        sa.UniqueConstraint("sha256", name="uq_clips_sha256"),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name="fk_clips_camera_id_cameras"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_clips_site_id_sites"),
        sa.ForeignKeyConstraint(["derived_from"], ["clips.id"], name="fk_clips_derived_from_clips"),
    )
    for col in ("uri", "state", "start_utc", "purge_after", "derived_from"):
        op.create_index(f"ix_clips_{col}", "clips", [col])
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object", sa.String(400), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
        sa.UniqueConstraint("hash", name="uq_audit_events_hash"),
    )


def downgrade() -> None:
    op.drop_table("audit_events")
    for col in ("uri", "state", "start_utc", "purge_after", "derived_from"):
        op.drop_index(f"ix_clips_{col}", "clips")
    op.drop_table("clips")
    op.drop_table("cameras")
    op.drop_table("sites")
