"""knowledge items can be retired (停用): kept for the record, no longer put on papers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("knowledgeitem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("knowledgeitem", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
