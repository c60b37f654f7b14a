"""Shared pieces of the analytics queries: filters, local-calendar SQL expressions, the released-attempt base.

Weeks and days are the team's local time (the ``timezone`` setting, as everywhere in the app) and
weeks start on Monday. The SQL expressions compile to native date functions on SQLite and
PostgreSQL, so grouping by day, week or weeks-since-joining happens in the database, not in
Python. SQLite has no time-zone database: a zone without daylight saving (Asia/Shanghai) is a
fixed offset, any other zone goes through ``training.core.clock.sqlite_team_date``, a function the
engine registers on each SQLite connection (``training.core.db``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Date, Executable, Integer, Select, exists, literal_column, or_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from training.core import clock
from training.core.errors import UserError
from training.models import (
    Attempt,
    AttemptStatus,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    MinedQuestion,
    Role,
    User,
)

#: Roles whose results the team analytics follow.
LEARNER_ROLES = (Role.AGENT.value, Role.NEW_HIRE.value)
#: Scores are float sums of points (0.1 * 8 must still pass a 0.8 mark).
EPSILON = 1e-9


#: Any Core select; the helpers that add joins keep its row type.
AnySelect = TypeVar("AnySelect", bound="Select[*tuple[Any, ...]]")


class AnalyticsError(UserError):
    """A user-facing problem with the analytics filters."""


@dataclass(frozen=True)
class Filters:
    """What the dashboard is narrowed to; None means no restriction.

    ``cohort_id`` restricts to people of that cohort; ``category`` to scenario questions of that
    customer-question category (and papers holding one); ``start``/``end`` (inclusive, local
    dates) to the date each figure counts: exam submission, certificate expiry, joining date
    (ramp-up) or mining date (uncovered questions).
    """

    cohort_id: int | None = None
    category: str | None = None
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise AnalyticsError("开始日期不能晚于结束日期。")


def local_midnight(day: date) -> datetime:
    """The aware instant a team-local day begins."""
    return clock.day_start(day)


def within_period(column: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions keeping ``column`` (an aware timestamp) inside the filter period."""
    conditions: list[ColumnElement[bool]] = []
    if filters.start is not None:
        conditions.append(col(column) >= local_midnight(filters.start))
    if filters.end is not None:
        conditions.append(col(column) < local_midnight(filters.end + timedelta(days=1)))
    return conditions


def as_date(value: object) -> date:
    """A SQL date result as a date (SQLite returns ISO text, PostgreSQL a date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class _TeamCalendar(FunctionElement[date]):
    """A calendar function of one timestamp in the team's zone.

    The zone is a second clause, a quoted SQL literal: a literal (unlike a bound value) is part
    of the statement's cache key, so a compiled statement never outlives a change of zone.
    """

    type = Date()
    inherit_cache = True

    def __init__(self, moment: Any) -> None:
        zone = clock.team_zone_name().replace("'", "''")  # IANA names never hold quotes
        super().__init__(moment, literal_column(f"'{zone}'"))


class local_day(_TeamCalendar):  # noqa: N801 - SQL function style
    """The team-local calendar day of an aware timestamp column."""

    inherit_cache = True


class local_week(_TeamCalendar):  # noqa: N801 - SQL function style
    """The Monday (team-local) of the week an aware timestamp falls in."""

    inherit_cache = True


class weeks_between(FunctionElement[int]):  # noqa: N801 - SQL function style
    """Whole weeks from the second timestamp to the first (floored)."""

    type = Integer()
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


def _sqlite_day(element: _TeamCalendar, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite text of the team-local day: date arithmetic for a fixed offset, else the Python function."""
    moment, zone = _args(element, compiler, **kw)
    offset = clock.fixed_utc_offset(zone[1:-1].replace("''", "'"))
    if offset is None:
        return f"{clock.SQLITE_TEAM_DATE}({moment}, {zone})"
    return f"date({moment}, '{int(offset.total_seconds()) // 60:+d} minutes')"


@compiles(local_day, "sqlite")
def _day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return _sqlite_day(element, compiler, **kw)


@compiles(local_day, "postgresql")
def _day_pg(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    moment, zone = _args(element, compiler, **kw)
    return f"CAST(({moment} AT TIME ZONE {zone}) AS DATE)"


@compiles(local_week, "sqlite")
def _week_sqlite(element: local_week, compiler: SQLCompiler, **kw: Any) -> str:
    # 'weekday 0' moves forward to Sunday (or stays on one); six days back is that week's Monday.
    return f"date({_sqlite_day(element, compiler, **kw)}, 'weekday 0', '-6 days')"


@compiles(local_week, "postgresql")
def _week_pg(element: local_week, compiler: SQLCompiler, **kw: Any) -> str:
    moment, zone = _args(element, compiler, **kw)
    return f"CAST(date_trunc('week', {moment} AT TIME ZONE {zone}) AS DATE)"


@compiles(weeks_between, "sqlite")
def _weeks_sqlite(element: weeks_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"CAST((julianday({later}) - julianday({earlier})) / 7 AS INTEGER)"


@compiles(weeks_between, "postgresql")
def _weeks_pg(element: weeks_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, and its division cost
    # ~50 ms per 100k sittings in ramp-up (bench/analytics_pg.py). Seconds are whole microseconds,
    # so a double's rounding cannot move the floor across a week boundary.
    return f"CAST(FLOOR(date_part('epoch', {later} - {earlier}) / 604800) AS INTEGER)"


def fetch(*, session: Session, query: Executable) -> Sequence[Any]:
    """Run a Core select of plain columns in the session's transaction (on PostgreSQL without JIT)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # On large tables the planner JIT-compiles the script-usage and agreement queries: 30-60 ms
        # of compiling each, for nothing on these sub-second queries (bench/analytics_pg.py).
        # LOCAL: this transaction only, the pooled connection keeps the server's setting.
        connection.exec_driver_sql("SET LOCAL jit = off")
    return connection.execute(query).all()


def item_category() -> Any:
    """A slot's customer-question category (of its fixed mined question); the query must join ExamItem."""
    return (
        sa_select(col(MinedQuestion.category))
        .where(col(MinedQuestion.id) == col(ExamItem.mined_question_id))
        .correlate(ExamItem)
        .scalar_subquery()
    )


def paper_has_category(category: str) -> ColumnElement[bool]:
    """True for papers with a scenario slot of ``category`` (fixed question or random draw)."""
    slot = aliased(ExamItem, name="cat_slot")
    question = aliased(MinedQuestion, name="cat_question")
    return exists(
        sa_select(col(slot.id))
        .select_from(slot)
        .outerjoin(question, col(question.id) == col(slot.mined_question_id))
        .where(
            col(slot.paper_id) == col(ExamPaper.id),
            or_(col(question.category) == category, col(slot.draw_category) == category),
        )
    )


def released_attempt_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """Released, scored attempts of learners, narrowed by cohort, category and period.

    The caller's statement must join Attempt, ExamAssignment, ExamPaper and User (``from_attempts``).
    """
    conditions = learner_attempt_conditions(filters)
    if filters.category is not None:
        conditions.append(paper_has_category(filters.category))
    return conditions


def learner_attempt_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """Released, scored attempts of learners by cohort and period (the statement joins Attempt and User)."""
    conditions: list[ColumnElement[bool]] = [
        col(Attempt.status) == AttemptStatus.SUBMITTED.value,
        col(Attempt.released_at).is_not(None),
        col(Attempt.score).is_not(None),
        col(User.role).in_(LEARNER_ROLES),
        *within_period(Attempt.submitted_at, filters),
    ]
    if filters.cohort_id is not None:
        conditions.append(col(User.cohort_id) == filters.cohort_id)
    return conditions


def from_attempts(query: AnySelect) -> AnySelect:
    """``query`` selecting from Attempt joined to its assignment, paper and candidate."""
    return (
        query.select_from(Attempt)
        .join(ExamAssignment, col(ExamAssignment.id) == col(Attempt.assignment_id))
        .join(ExamPaper, col(ExamPaper.id) == col(ExamAssignment.paper_id))
        .join(User, col(User.id) == col(Attempt.user_id))
    )
