"""模拟接待 drills: drill, drillassignment, drillrun, drillturn

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "drill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", _text(200), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("session_key", _text(128), nullable=False),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("first_reply_seconds", sa.Integer(), nullable=False),
        sa.Column("reply_seconds", sa.Integer(), nullable=False),
        sa.Column("pass_mark", sa.Float(), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("mode", _text(16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["import_id"], ["chatimport.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_drill_import_id"), "drill", ["import_id"], unique=False)
    op.create_table(
        "drillassignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("opens_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closes_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.ForeignKeyConstraint(["drill_id"], ["drill.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_drillassignment_cohort_id"), "drillassignment", ["cohort_id"], unique=False)
    op.create_index(op.f("ix_drillassignment_drill_id"), "drillassignment", ["drill_id"], unique=False)
    op.create_table(
        "drillrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("current_index", sa.Integer(), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("model_name", _text(100), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["drillassignment.id"]),
        sa.ForeignKeyConstraint(["drill_id"], ["drill.id"]),
        sa.ForeignKeyConstraint(["model_version_id"], ["encoderversion.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_drillrun_drill_id"), "drillrun", ["drill_id"], unique=False)
    op.create_index(op.f("ix_drillrun_user_id"), "drillrun", ["user_id"], unique=False)
    op.create_table(
        "drillturn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("shown_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("response_seconds", sa.Float(), nullable=True),
        sa.Column("chars_per_minute", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("model_name", _text(100), nullable=False),
        sa.ForeignKeyConstraint(["model_version_id"], ["encoderversion.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["drillrun.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "index", name="uq_drillturn_index"),
    )
    op.create_index(op.f("ix_drillturn_run_id"), "drillturn", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("drillturn")
    op.drop_table("drillrun")
    op.drop_table("drillassignment")
    op.drop_table("drill")
