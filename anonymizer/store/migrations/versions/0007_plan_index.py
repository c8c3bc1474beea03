"""clips (state, purge_after): the nightly purge plan reads only the clips that may be due (a deadline passed or
none stored) through this index, instead of every clip not yet deleted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_clips_state_purge_after", "clips", ["state", "purge_after"])


def downgrade() -> None:
    op.drop_index("ix_clips_state_purge_after", table_name="clips")
