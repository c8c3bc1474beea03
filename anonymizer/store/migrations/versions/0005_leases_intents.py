"""Coordination and crash safety: clips.sha256 no longer unique (two clips may hold identical content: a whole
clip redacted black and its copy redacted black are the same file); ``leases`` (a clip some command is working
on: others do not touch it); ``file_intents`` (a file change recorded before it is made, finished by the next run
after a crash).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.drop_constraint("uq_clips_sha256", type_="unique")
    op.create_index("ix_clips_sha256", "clips", ["sha256"])
    op.create_table(
        "leases",
        sa.Column("clip_id", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("clip_id", name="pk_leases"),
    )
    op.create_table(
        "file_intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("clip_id", sa.String(16), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("temp", sa.String(2048)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_file_intents"),
    )


def downgrade() -> None:
    op.drop_table("file_intents")
    op.drop_table("leases")
    op.drop_index("ix_clips_sha256", table_name="clips")
    with op.batch_alter_table("clips") as batch:
        batch.create_unique_constraint("uq_clips_sha256", ["sha256"])
