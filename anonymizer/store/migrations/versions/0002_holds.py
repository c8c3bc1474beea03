"""Holds (clip, camera or site scope with a time range) and a small key/value table for catalogue state
(the fingerprint of the retention policy the stored deadlines were computed with).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)  # UtcDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("start_utc", TS),
        sa.Column("end_utc", TS),
        sa.Column("review_at", TS),
        sa.Column("expires_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("released_at", TS),
        sa.Column("released_by", sa.String(200)),
        sa.Column("release_reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
    )
    op.create_index("ix_holds_target", "holds", ["target"])
    op.create_table(
        "catalogue_state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_catalogue_state"),
    )


def downgrade() -> None:
    op.drop_table("catalogue_state")
    op.drop_index("ix_holds_target", "holds")
    op.drop_table("holds")
