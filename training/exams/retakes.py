"""允许补考: a trainer gives one person another sitting of a paper, without re-publishing it.

The retake is an assignment of the paper to that person alone, open at once for ``days`` days
with one attempt. Sittings are numbered per person and paper (``exams.start_attempt``), so the
retake is 第 2 次 after a first sitting, and it draws its random slots afresh, avoiding the
questions the person has already seen while the pool allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.exams.sittings import paper_sittings
from training.exams.submission import expire_overdue
from training.models import Attempt, AttemptStatus, ExamAssignment, ExamPaper, Role, User, utcnow
from training.models.exams import PaperStatus

#: How long a granted retake stays open unless the trainer says otherwise.
RETAKE_DAYS = 7


class RetakeError(UserError):
    """A user-facing reason a retake cannot be granted."""


@dataclass(frozen=True)
class RetakeGrant:
    """A granted retake: the person's own assignment and the number its sitting will have."""

    assignment: ExamAssignment
    candidate: str
    paper_title: str
    sitting: int


def _assignments_for(session: Session, paper_id: int, person: User) -> list[ExamAssignment]:
    mine = col(ExamAssignment.user_id) == person.id
    if person.cohort_id is not None:
        mine = or_(mine, col(ExamAssignment.cohort_id) == person.cohort_id)
    return list(session.exec(select(ExamAssignment).where(ExamAssignment.paper_id == paper_id, mine)).all())


def _can_still_sit(session: Session, assignment: ExamAssignment, user_id: int, now: datetime) -> bool:
    """Whether the person can start (or go on with) a sitting of this assignment today."""
    used = len(session.exec(select(Attempt.id).where(Attempt.assignment_id == assignment.id,
                                                     Attempt.user_id == user_id)).all())
    closed = assignment.closes_at is not None and now >= assignment.closes_at
    return not closed and used < assignment.max_attempts


def grant_retake(
    *, session: Session, actor: User | None, user_id: int, paper_id: int, days: int = RETAKE_DAYS,
    now: datetime | None = None,
) -> RetakeGrant:
    """Give one person one more sitting of a paper, open now for ``days`` days (staff; audited)."""
    trainer = require_role(actor, *STAFF)
    now = now or utcnow()
    person = session.get(User, user_id)
    paper = session.get(ExamPaper, paper_id)
    if person is None or not person.is_active or person.role not in (Role.AGENT.value, Role.NEW_HIRE.value):
        raise RetakeError("只能为在职的客服或新人安排补考。")
    if paper is None or paper.status != PaperStatus.PUBLISHED:
        raise RetakeError("试卷不存在或尚未发布。")
    if not 1 <= days <= 60:
        raise RetakeError("补考有效期应在 1–60 天之间。")
    assert person.id is not None and paper.id is not None
    expire_overdue(session=session, user_id=person.id, now=now)
    sittings = paper_sittings(session=session, paper_id=paper.id, user_id=person.id)
    assignments = _assignments_for(session, paper.id, person)
    if not assignments:
        raise RetakeError(f"试卷「{paper.title}」没有发布给 {person.display_name}。")
    if any(a.status == AttemptStatus.IN_PROGRESS for a in sittings):
        raise RetakeError(f"{person.display_name} 正在作答这份试卷，交卷后再安排补考。")
    if any(_can_still_sit(session, a, person.id, now) and now >= a.opens_at for a in assignments):
        raise RetakeError(f"{person.display_name} 还可以参加这份试卷（有剩余次数且未截止），无需补考。")
    if not sittings:
        raise RetakeError(f"{person.display_name} 还没有参加过这份试卷，无需补考。")
    retake = ExamAssignment(paper_id=paper.id, user_id=person.id, opens_at=now,
                            closes_at=now + timedelta(days=days), max_attempts=1)
    session.add(retake)
    session.flush()
    sitting = max(a.number for a in sittings) + 1
    audit.record(session=session, actor=trainer, action="retake.grant", target=str(retake.id),
                 detail={"user": person.id, "paper": paper.id, "number": sitting, "days": days})
    session.commit()
    session.refresh(retake)
    return RetakeGrant(retake, person.display_name, paper.title, sitting)
