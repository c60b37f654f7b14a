"""A learner's own progress: scores, typing speed, 错题本 and certificates (always the actor's own rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from training.analytics.base import AnySelect, Filters, as_date, fetch, local_week, within_period
from training.auth.permissions import EVERYONE, require_role
from training.certification.certificates import days_until_expiry, expiry_date, is_valid, issue_date
from training.certification.duty import duty_status
from training.exams.feedback import mistakes
from training.exams.papers import OBJECTIVE
from training.models import (
    Answer,
    Attempt,
    AttemptStatus,
    AuditLog,
    Certificate,
    Certification,
    ExamAssignment,
    ExamPaper,
    User,
    utcnow,
)

#: The audit action ``feedback.practise`` records for each practice answer.
PRACTICE_ACTION = "practice.answer"


def _my_attempts(query: AnySelect, me: User) -> AnySelect:
    """``query`` over the submitted attempts of ``me`` joined to their papers."""
    return (query.select_from(Attempt)
            .join(ExamAssignment, col(ExamAssignment.id) == col(Attempt.assignment_id))
            .join(ExamPaper, col(ExamPaper.id) == col(ExamAssignment.paper_id))
            .where(col(Attempt.user_id) == me.id, col(Attempt.status) == AttemptStatus.SUBMITTED.value))


@dataclass(frozen=True)
class MyScore:
    """One of my released sittings."""

    attempt_id: int
    paper_title: str
    submitted_at: datetime
    score: float
    pass_mark: float

    @property
    def passed(self) -> bool:
        """Whether the sitting reached the paper's pass mark."""
        return self.score >= self.pass_mark - 1e-9


def my_scores(*, session: Session, actor: User | None, filters: Filters) -> list[MyScore]:
    """The actor's released scores, oldest first (the period filter applies to submission)."""
    me = require_role(actor, *EVERYONE)
    query = _my_attempts(sa_select(col(Attempt.id), col(ExamPaper.title), col(Attempt.submitted_at),
                                   col(Attempt.score), col(ExamPaper.pass_mark)), me)
    rows = fetch(session=session, query=query
                 .where(col(Attempt.released_at).is_not(None), col(Attempt.score).is_not(None),
                        *within_period(Attempt.submitted_at, filters))
                 .order_by(col(Attempt.submitted_at), col(Attempt.id)))
    return [MyScore(int(i), t, s, float(v or 0.0), float(m)) for i, t, s, v, m in rows if s is not None]


@dataclass(frozen=True)
class MySpeed:
    """My mean typing speed over the written answers of one sitting."""

    attempt_id: int
    paper_title: str
    submitted_at: datetime
    chars_per_minute: float
    answers: int


def my_typing_speed(*, session: Session, actor: User | None, filters: Filters) -> list[MySpeed]:
    """The actor's mean chars_per_minute per submitted sitting, oldest first."""
    me = require_role(actor, *EVERYONE)
    query = _my_attempts(sa_select(col(Attempt.id), col(ExamPaper.title), col(Attempt.submitted_at),
                                   func.avg(col(Answer.chars_per_minute)), func.count(col(Answer.id))), me)
    rows = fetch(session=session, query=query.join(Answer, col(Answer.attempt_id) == col(Attempt.id))
                 .where(col(Answer.chars_per_minute).is_not(None),
                        *within_period(Attempt.submitted_at, filters))
                 .group_by(col(Attempt.id), col(ExamPaper.title), col(Attempt.submitted_at))
                 .order_by(col(Attempt.submitted_at), col(Attempt.id)))
    return [MySpeed(int(i), t, s, float(v), int(n)) for i, t, s, v, n in rows if s is not None]


@dataclass(frozen=True)
class PracticeWeek:
    """How many practice answers I gave in one week."""

    week: date
    answers: int


@dataclass(frozen=True)
class MistakeProgress:
    """My 错题本: what is still open, how much of it I practised, and practice over time."""

    open_objective: int
    open_scenario: int
    practised_open: int  # open entries practised at least once
    practice_weeks: list[PracticeWeek]

    @property
    def open_total(self) -> int:
        """Entries still in the 错题本."""
        return self.open_objective + self.open_scenario


def my_mistake_progress(*, session: Session, actor: User | None, filters: Filters) -> MistakeProgress:
    """The actor's open 错题本 entries (``feedback.mistakes``) and practice answers per week."""
    me = require_role(actor, *EVERYONE)
    book = mistakes(session=session, actor=me)
    practice = [col(AuditLog.actor_id) == me.id, col(AuditLog.action) == PRACTICE_ACTION]
    practised = set(session.exec(select(AuditLog.target).where(*practice).distinct()).all())
    week = local_week(col(AuditLog.at))
    weeks = fetch(session=session, query=sa_select(week, func.count(col(AuditLog.id)))
                  .where(*practice, *within_period(AuditLog.at, filters))
                  .group_by(week)
                  .order_by(week))
    objective = sum(1 for m in book if m.question.kind == OBJECTIVE)
    return MistakeProgress(objective, len(book) - objective, sum(1 for m in book if m.key in practised),
                           [PracticeWeek(as_date(w), int(n)) for w, n in weeks])


@dataclass(frozen=True)
class MyCertificate:
    """One of my certificates and where it stands."""

    number: str
    programme: str
    issued_at: datetime
    expires_at: datetime
    valid: bool
    flagged: bool

    @property
    def issued_on(self) -> date:
        """The issue day shown (team time)."""
        return issue_date(self.issued_at)

    @property
    def expires_on(self) -> date:
        """The expiry day shown (team time), as on the certificate itself."""
        return expiry_date(self.expires_at)

    def days_left(self, now: datetime) -> int:
        """Calendar days until the expiry day shown (negative once past it)."""
        return days_until_expiry(self.expires_at, now)


@dataclass(frozen=True)
class MyCertificates:
    """My certificates, the next to expire, and required programmes I still lack."""

    certificates: list[MyCertificate]
    next_expiring: MyCertificate | None
    missing: list[str]


def my_certificates(
    *, session: Session, actor: User | None, filters: Filters, now: datetime | None = None
) -> MyCertificates:
    """The actor's certificates (newest first) and which valid one expires next."""
    me = require_role(actor, *EVERYONE)
    moment = now or utcnow()
    rows = session.exec(
        select(Certificate, Certification.name)
        .join(Certification, col(Certification.id) == col(Certificate.certification_id))
        .where(Certificate.user_id == me.id)
        .order_by(col(Certificate.issued_at).desc(), col(Certificate.id).desc())
    ).all()
    certs = [MyCertificate(c.number, name, c.issued_at, c.expires_at, is_valid(c, moment),
                           c.recert_flagged_at is not None) for c, name in rows]
    upcoming = sorted((c for c in certs if c.valid), key=lambda c: c.expires_at)
    duty = duty_status(session=session, actor=me, now=moment)
    return MyCertificates(certs, upcoming[0] if upcoming else None, [p.name for p in duty.missing])
