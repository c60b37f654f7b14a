"""drills a certification programme requires: certificationdrill

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificationdrill",
        sa.Column("certification_id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["certification_id"], ["certification.id"]),
        sa.ForeignKeyConstraint(["drill_id"], ["drill.id"]),
        sa.PrimaryKeyConstraint("certification_id", "drill_id"),
    )


def downgrade() -> None:
    op.drop_table("certificationdrill")
