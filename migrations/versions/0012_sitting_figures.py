"""per-sitting figures for the dashboards (sittingfigure, itemfigure, itemdayfigure), backfilled

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

from training.core.clock import team_date, team_zone_name

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def _moment(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def upgrade() -> None:
    sitting = op.create_table(
        "sittingfigure",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("typed_answers", sa.Integer(), nullable=False),
        sa.Column("typed_cpm", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempt.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("attempt_id"),
    )
    for name, by_day in (("itemfigure", False), ("itemdayfigure", True)):
        zone = sa.Column("zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        day = [sa.Column("day", sa.Date(), nullable=False), zone] if by_day else []
        op.create_table(
            name,
            sa.Column("item_id", sa.Integer(), nullable=False),
            sa.Column("cohort_id", sa.Integer(), nullable=False),
            sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            *day,
            sa.Column("n", sa.Integer(), nullable=False),
            sa.Column("sx", sa.Float(), nullable=False),
            sa.Column("sy", sa.Float(), nullable=False),
            sa.Column("sxy", sa.Float(), nullable=False),
            sa.Column("sxx", sa.Float(), nullable=False),
            sa.Column("syy", sa.Float(), nullable=False),
            sa.ForeignKeyConstraint(["item_id"], ["examitem.id"]),
            sa.PrimaryKeyConstraint("item_id", "cohort_id", "role", *(["day", "zone"] if by_day else [])),
        )
    _backfill(sitting)


def _backfill(sitting: sa.Table) -> None:
    """File every released sitting as releasing would have (the candidate's current cohort and role)."""
    bind = op.get_bind()
    zone = team_zone_name()
    typed = {int(a): (int(n), float(s or 0.0)) for a, n, s in bind.execute(sa.text(
        "SELECT attempt_id, count(*), sum(chars_per_minute) FROM answer "
        "WHERE chars_per_minute IS NOT NULL GROUP BY attempt_id")).all()}
    released = bind.execute(sa.text(
        'SELECT attempt.id, attempt.submitted_at, attempt.user_id, "user".cohort_id, "user".role '
        "FROM attempt "
        'JOIN "user" ON "user".id = attempt.user_id '
        "WHERE attempt.status = 'submitted' AND attempt.released_at IS NOT NULL "
        "AND attempt.score IS NOT NULL AND attempt.submitted_at IS NOT NULL ORDER BY attempt.id")).all()
    rows = []
    for attempt_id, submitted_at, user_id, cohort_id, role in released:
        n, cpm = typed.get(int(attempt_id), (0, 0.0))
        rows.append({"attempt_id": int(attempt_id), "user_id": int(user_id), "cohort_id": int(cohort_id or 0),
                     "role": str(role), "day": team_date(_moment(submitted_at)), "zone": zone,
                     "typed_answers": n, "typed_cpm": cpm})
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(sitting, rows[start:start + BATCH])
    for name, key in (("itemfigure", "cohort_id, role"), ("itemdayfigure", "cohort_id, role, day, zone")):
        op.execute(
            f"INSERT INTO {name} (item_id, {key}, n, sx, sy, sxy, sxx, syy) "
            f"SELECT answer.item_id, {', '.join('sf.' + k for k in key.split(', '))}, count(*), "
            "sum(answer.score), sum(attempt.score), sum(answer.score * attempt.score), "
            "sum(answer.score * answer.score), sum(attempt.score * attempt.score) "
            "FROM answer JOIN sittingfigure sf ON sf.attempt_id = answer.attempt_id "
            "JOIN attempt ON attempt.id = answer.attempt_id "
            "WHERE answer.score IS NOT NULL "
            f"GROUP BY answer.item_id, {', '.join('sf.' + k for k in key.split(', '))}")


def downgrade() -> None:
    op.drop_table("itemdayfigure")
    op.drop_table("itemfigure")
    op.drop_table("sittingfigure")
