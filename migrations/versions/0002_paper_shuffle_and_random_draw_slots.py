"""paper shuffle and random draw slots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 07:04:19.544401
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("examitem", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("draw_category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )

    with op.batch_alter_table("exampaper", schema=None) as batch_op:
        # Existing papers keep a fixed order; the server default fills their rows.
        batch_op.add_column(
            sa.Column("shuffle", sa.Boolean(), nullable=False, server_default=sa.false())
        )



def downgrade() -> None:
    with op.batch_alter_table("exampaper", schema=None) as batch_op:
        batch_op.drop_column("shuffle")

    with op.batch_alter_table("examitem", schema=None) as batch_op:
        batch_op.drop_column("draw_category")

