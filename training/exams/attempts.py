"""Taking an exam: my exams, start or resume, and the attempt as its candidate sees it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import EVERYONE, require_role
from training.core.db import lock_row
from training.exams.delivery import candidate_seed, draw_paper
from training.exams.papers import PaperQuestion
from training.exams.sittings import ExamError, own_attempt, paper_sittings, questions_of
from training.exams.submission import expire_overdue, finish_attempt
from training.models import (
    Answer,
    Attempt,
    AttemptStatus,
    Certification,
    CertificationPaper,
    ExamAssignment,
    ExamPaper,
    ExamState,
    User,
    utcnow,
)

#: States of an ExamEntry still ahead of the candidate: not open yet, open, or being sat.
TO_TAKE = (ExamState.NOT_OPEN.value, ExamState.OPEN.value, ExamState.SITTING.value)


@dataclass(frozen=True)
class ExamEntry:
    """One row of 我的考试: an assigned paper and where the candidate stands."""

    assignment_id: int
    paper_id: int
    title: str
    opens_at: datetime
    closes_at: datetime | None
    time_limit_minutes: int
    pass_mark: float
    state: str  # an ExamState: 未开放 / 可参加 / 作答中 / 已交卷 / 已结束
    attempts_used: int
    attempts_left: int
    open_attempt_id: int | None
    best_score: float | None  # released results only
    last_attempt_id: int | None
    required_for_duty: bool = False  # a paper of a programme an agent needs to go on duty
    retake: bool = False  # granted to this person alone (允许补考), not to their cohort


@dataclass
class AttemptView:
    """An attempt as its candidate sees it: frozen questions, saved answers, time left."""

    attempt: Attempt
    title: str
    questions: list[PaperQuestion]
    answers: dict[int, Answer] = field(default_factory=dict)

    @property
    def read_only(self) -> bool:
        """Submitted attempts are never edited again."""
        return self.attempt.status != AttemptStatus.IN_PROGRESS

    def answered(self, slot_id: int) -> bool:
        """Whether the question has a saved, non-empty answer."""
        answer = self.answers.get(slot_id)
        return answer is not None and bool(answer.text.strip() or answer.choice)

    def flagged(self, slot_id: int) -> bool:
        """Whether the candidate marked the question to check again."""
        answer = self.answers.get(slot_id)
        return answer is not None and answer.flagged

    def seconds_left(self, now: datetime | None = None) -> float:
        """Seconds until the server-side deadline (0 once passed)."""
        return max(0.0, (self.attempt.deadline_at - (now or utcnow())).total_seconds())


def _my_assignments(session: Session, user: User) -> list[ExamAssignment]:
    mine = col(ExamAssignment.user_id) == user.id
    if user.cohort_id is not None:
        mine = or_(mine, col(ExamAssignment.cohort_id) == user.cohort_id)
    return list(
        session.exec(select(ExamAssignment).where(mine).order_by(col(ExamAssignment.opens_at).desc())).all()
    )


def _attempts(session: Session, assignment_id: int, user_id: int) -> list[Attempt]:
    return list(
        session.exec(
            select(Attempt)
            .where(Attempt.assignment_id == assignment_id, Attempt.user_id == user_id)
            .order_by(col(Attempt.number))
        ).all()
    )



def duty_papers(*, session: Session) -> set[int]:
    """Papers that programmes required for duty ask for (the gate's 上岗必考 exams)."""
    return set(
        session.exec(
            select(CertificationPaper.paper_id)
            .join(Certification, col(Certification.id) == col(CertificationPaper.certification_id))
            .where(col(Certification.required_for_duty).is_(True))
        ).all()
    )



def my_exams(*, session: Session, actor: User | None, now: datetime | None = None) -> list[ExamEntry]:
    """The acting user's assigned exams with window, attempts and released best score."""
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    expire_overdue(session=session, user_id=user.id, now=now)
    entries = []
    required = duty_papers(session=session)
    for assignment in _my_assignments(session, user):
        paper = session.get(ExamPaper, assignment.paper_id)
        assert assignment.id is not None and user.id is not None
        if paper is None:
            continue
        attempts = _attempts(session, assignment.id, user.id)
        open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
        released = [a.score for a in attempts if a.released_at is not None and a.score is not None]
        left = max(0, assignment.max_attempts - len(attempts))
        closes = assignment.closes_at if assignment.closes_at else None
        if open_attempt is not None:
            state = ExamState.SITTING.value
        elif now < assignment.opens_at:
            state = ExamState.NOT_OPEN.value
        elif closes is not None and now >= closes:
            state = ExamState.CLOSED.value
        elif left > 0:
            state = ExamState.OPEN.value
        else:
            state = ExamState.TAKEN.value
        entries.append(
            ExamEntry(
                assignment.id,
                paper.id or 0,
                paper.title,
                assignment.opens_at,
                closes,
                paper.time_limit_minutes,
                paper.pass_mark,
                state,
                len(attempts),
                left,
                open_attempt.id if open_attempt else None,
                max(released) if released else None,
                attempts[-1].id if attempts else None,
                paper.id in required,
                assignment.user_id is not None,
            )
        )
    return entries


def start_attempt(
    *,
    session: Session,
    actor: User | None,
    assignment_id: int,
    now: datetime | None = None,
) -> Attempt:
    """Start an attempt, or resume the one already open (double clicks never make a second)."""
    user = require_role(actor, *EVERYONE)
    assert user.id is not None
    now = now or utcnow()
    # One start at a time per person: two clicks (or tabs) must not both see "no attempt yet".
    lock_row(session=session, model=User, row_id=user.id)
    assignment = next((a for a in _my_assignments(session, user) if a.id == assignment_id), None)
    if assignment is None:
        raise ExamError("这场考试没有分配给你。")
    expire_overdue(session=session, user_id=user.id, now=now)
    # Again: a lost submit race inside rolls back, which ends the lock.
    lock_row(session=session, model=User, row_id=user.id)
    attempts = _attempts(session, assignment_id, user.id)
    current = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
    if current is not None:
        return current
    if now < assignment.opens_at:
        raise ExamError("考试尚未开放。")
    if assignment.closes_at is not None and now >= assignment.closes_at:
        raise ExamError("考试已结束。")
    if len(attempts) >= assignment.max_attempts:
        raise ExamError("你的考试次数已用完。")
    paper = session.get(ExamPaper, assignment.paper_id)
    if paper is None:
        raise ExamError("试卷不存在。")
    assert paper.id is not None
    # Sittings are numbered per person and paper, across the cohort's assignment and any retake;
    # each sitting draws afresh and avoids the questions of the earlier ones while the pool allows.
    earlier = paper_sittings(session=session, paper_id=paper.id, user_id=user.id)
    number = max([len(attempts), *(a.number for a in earlier)]) + 1
    seen = [q for a in earlier for q in questions_of(a)]
    seed = candidate_seed(paper.id, user.id) + number - 1
    questions = draw_paper(session=session, paper=paper, seed=seed, seen=seen)
    deadline = now + timedelta(minutes=paper.time_limit_minutes)
    if assignment.closes_at is not None:
        deadline = min(deadline, assignment.closes_at)
    attempt = Attempt(
        assignment_id=assignment_id,
        user_id=user.id,
        number=number,
        started_at=now,
        deadline_at=deadline,
        questions=[asdict(q) for q in questions],
    )
    session.add(attempt)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent click created the same attempt number first: resume that one.
        session.rollback()
        again = _attempts(session, assignment_id, user.id)
        raced = next((a for a in again if a.status == AttemptStatus.IN_PROGRESS), None)
        if raced is None:
            raise ExamError("考试刚刚已提交，请刷新页面。") from None
        return raced
    audit.record(
        session=session,
        actor=user,
        action="attempt.start",
        target=str(attempt.id),
        detail={"assignment": assignment_id, "number": number},
    )
    session.commit()
    session.refresh(attempt)
    return attempt


def open_attempt(*, session: Session, actor: User | None, attempt_id: int) -> AttemptView:
    """The candidate's own attempt with saved answers; overdue attempts are submitted first."""
    user = require_role(actor, *EVERYONE)
    attempt = own_attempt(session=session, user=user, attempt_id=attempt_id)
    if attempt.status == AttemptStatus.IN_PROGRESS and attempt.deadline_at < utcnow():
        finish_attempt(session=session, attempt=attempt, auto=True, at=attempt.deadline_at)
    assignment = session.get(ExamAssignment, attempt.assignment_id)
    paper = session.get(ExamPaper, assignment.paper_id) if assignment else None
    answers = {
        a.item_id: a for a in session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()
    }
    return AttemptView(attempt, paper.title if paper else "", questions_of(attempt), answers)
