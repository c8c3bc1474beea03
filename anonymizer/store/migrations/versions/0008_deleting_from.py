"""clips.deleting_from: the state a clip had when a purge marked it ``deleting`` (raw, amended or quarantined),
so that a purge interrupted before the unlink, which then finds the clip must be kept (a hold came, the policy
changed), puts back that state instead of ``raw``. Empty for every other state.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("deleting_from", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.drop_column("deleting_from")
