"""Which drills a candidate may take: practice drills, and drills assigned to their cohort while open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from training.auth.permissions import EVERYONE, require_role
from training.drills.building import DrillError, drill_turns
from training.models import Drill, DrillAssignment, DrillMode, DrillRun, DrillStatus, User, utcnow


@dataclass(frozen=True)
class DrillCard:
    """A drill as a candidate's list shows it, with where they stand."""

    drill_id: int
    title: str
    turns: int
    practice: bool
    assignment_id: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    open_now: bool
    run_id: int | None  # the run in progress, if any
    finished_runs: int
    best_score: float | None
    last_finished: int | None  # the latest finished run, for its transcript


def utc(moment: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite hands back naive UTC values)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_open(assignment: DrillAssignment, now: datetime) -> bool:
    """Whether an assignment's window is open at ``now``."""
    closes = utc(assignment.closes_at) if assignment.closes_at else None
    return utc(assignment.opens_at) <= now and (closes is None or now < closes)


def assignments_for(*, session: Session, user: User, drill_id: int | None = None) -> list[DrillAssignment]:
    """The assignments of published drills to the user's cohort."""
    if user.cohort_id is None:
        return []
    query = select(DrillAssignment).join(Drill, col(Drill.id) == col(DrillAssignment.drill_id)).where(
        col(DrillAssignment.cohort_id) == user.cohort_id, col(Drill.status) == DrillStatus.PUBLISHED.value)
    if drill_id is not None:
        query = query.where(col(DrillAssignment.drill_id) == drill_id)
    return list(session.exec(query.order_by(col(DrillAssignment.opens_at))).all())


def my_drills(*, session: Session, actor: User | None, now: datetime | None = None) -> list[DrillCard]:
    """The candidate's drills: assigned ones (open or not) and every practice drill."""
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    runs = list(session.exec(select(DrillRun).where(col(DrillRun.user_id) == user.id)).all())
    cards: list[DrillCard] = []

    def card(drill: Drill, assignment: DrillAssignment | None, open_now: bool) -> DrillCard:
        mine = [r for r in runs if r.drill_id == drill.id
                and (assignment is None or r.assignment_id == assignment.id)]
        running = next((r.id for r in mine if r.finished_at is None), None)
        done = [r for r in mine if r.finished_at is not None]
        scores = [r.score for r in done if r.score is not None]
        latest = max(done, key=lambda r: r.id or 0) if done else None
        return DrillCard(drill.id or 0, drill.title, len(drill_turns(drill)), assignment is None,
                         assignment.id if assignment else None, assignment.opens_at if assignment else None,
                         assignment.closes_at if assignment else None, open_now, running,
                         len(done), max(scores) if scores else None, latest.id if latest else None)

    for assignment in assignments_for(session=session, user=user):
        drill = session.get(Drill, assignment.drill_id)
        if drill is not None:
            cards.append(card(drill, assignment, is_open(assignment, now)))
    practice = session.exec(select(Drill).where(col(Drill.status) == DrillStatus.PUBLISHED.value,
                                                col(Drill.mode) == DrillMode.PRACTICE.value)
                            .order_by(col(Drill.id))).all()
    cards += [card(d, None, True) for d in practice]
    return cards


def entry_for(*, session: Session, user: User, drill: Drill, now: datetime) -> DrillAssignment | None:
    """The open assignment the user takes the drill under (None: practice).

    Raises:
        DrillError: the drill is not published, not assigned to the user, or its window is closed.
    """
    if drill.status != DrillStatus.PUBLISHED:
        raise DrillError("这个模拟接待还没有发布。")
    assigned = assignments_for(session=session, user=user, drill_id=drill.id)
    open_ones = [a for a in assigned if is_open(a, now)]
    if open_ones:
        return open_ones[0]
    if drill.mode == DrillMode.PRACTICE:
        return None
    raise DrillError("这个模拟接待现在不在开放时间内。" if assigned else "这个模拟接待没有分配给您。")
