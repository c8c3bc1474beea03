"""Artefacts: review pages, exports and reports of requests, with the clips they show and a deadline.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "artefacts",
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("purge_after", TS),
        sa.Column("state", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_artefacts"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="fk_artefacts_request_id_requests"),
    )
    op.create_index("ix_artefacts_request_id", "artefacts", ["request_id"])
    op.create_index("ix_artefacts_purge_after", "artefacts", ["purge_after"])
    op.create_table(
        "artefact_clips",
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("clip_id", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("path", "clip_id", name="pk_artefact_clips"),
        sa.ForeignKeyConstraint(["path"], ["artefacts.path"], name="fk_artefact_clips_path_artefacts"),
    )
    op.create_index("ix_artefact_clips_clip_id", "artefact_clips", ["clip_id"])


def downgrade() -> None:
    op.drop_table("artefact_clips")
    op.drop_table("artefacts")
