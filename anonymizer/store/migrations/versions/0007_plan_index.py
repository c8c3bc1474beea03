"""Indexes for large catalogues. clips (state, purge_after): the nightly purge plan reads only the clips that may
be due (a deadline passed or none stored) through it and the partial index of clips without a deadline, instead
of every clip not yet deleted. clips (site_id,
start_utc) and (camera_id, start_utc): ``requests find`` reads the recordings of one site or camera in a time
window, not those of every site in that window.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_clips_state_purge_after", "clips", ["state", "purge_after"])
    op.create_index("ix_clips_undated_state", "clips", ["state"], postgresql_where=sa.text("purge_after IS NULL"),
                    sqlite_where=sa.text("purge_after IS NULL"))
    op.create_index("ix_clips_site_id_start_utc", "clips", ["site_id", "start_utc"])
    op.create_index("ix_clips_camera_id_start_utc", "clips", ["camera_id", "start_utc"])


def downgrade() -> None:
    op.drop_index("ix_clips_camera_id_start_utc", table_name="clips")
    op.drop_index("ix_clips_site_id_start_utc", table_name="clips")
    op.drop_index("ix_clips_undated_state", table_name="clips")
    op.drop_index("ix_clips_state_purge_after", table_name="clips")
