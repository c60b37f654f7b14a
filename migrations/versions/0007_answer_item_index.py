"""answer (item_id, attempt_id, score) index for the dashboard's item analysis

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Per-question sums over every answer read only the index (bench/analytics_pg.py: 2 M answers).
    op.create_index("ix_answer_item_attempt_score", "answer", ["item_id", "attempt_id", "score"])


def downgrade() -> None:
    op.drop_index("ix_answer_item_attempt_score", table_name="answer")
