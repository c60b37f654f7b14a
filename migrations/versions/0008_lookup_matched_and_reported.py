"""lookup log: whether a hit passed the relevance floor; when the agent reported the query as uncovered

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lookuplog", schema=None) as batch_op:
        # Older lookups stay NULL: the weak-lookup report judges them by their best cosine.
        batch_op.add_column(sa.Column("matched", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("reported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lookuplog", schema=None) as batch_op:
        batch_op.drop_column("reported_at")
        batch_op.drop_column("matched")
