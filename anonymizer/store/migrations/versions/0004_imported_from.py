"""clips.imported_from: where a clip imported into ARCHIVE/raw came from (the original path outside the archive
root); empty for clips registered where they lie. Indexed: a rerun of ingest looks clips up by their source.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("imported_from", sa.String(2048), nullable=True))
    op.create_index("ix_clips_imported_from", "clips", ["imported_from"])


def downgrade() -> None:
    op.drop_index("ix_clips_imported_from", table_name="clips")
    with op.batch_alter_table("clips") as batch:
        batch.drop_column("imported_from")
