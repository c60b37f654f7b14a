"""question bank across imports: frequency per import, every wording a cluster counted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questionfrequency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["chatimport.id"]),
        sa.ForeignKeyConstraint(["question_id"], ["minedquestion.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "import_id"),
    )
    with op.batch_alter_table("questionfrequency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questionfrequency_import_id"), ["import_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_questionfrequency_question_id"), ["question_id"], unique=False)
    with op.batch_alter_table("minedquestion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_texts", sa.JSON(), nullable=True))
    # Clusters mined before this revision came from one import each: that import holds their
    # whole frequency. Their wordings (member_texts) stay NULL: question and examples stand in.
    op.execute(
        "INSERT INTO questionfrequency (question_id, import_id, frequency) "
        "SELECT id, import_id, frequency FROM minedquestion WHERE import_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("minedquestion", schema=None) as batch_op:
        batch_op.drop_column("member_texts")
    with op.batch_alter_table("questionfrequency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionfrequency_question_id"))
        batch_op.drop_index(batch_op.f("ix_questionfrequency_import_id"))
    op.drop_table("questionfrequency")
