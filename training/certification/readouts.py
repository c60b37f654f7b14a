"""Certification read-outs for trainers: duty eligibility, a person's history, a cohort's progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from training.auth.permissions import STAFF, require_role
from training.certification.certificates import certificates_of, is_valid
from training.certification.duty import duty_from
from training.certification.programmes import PASS_EPSILON, CertificationError, all_programmes
from training.models import (
    Attempt,
    AttemptStatus,
    Certificate,
    Cohort,
    ExamAssignment,
    ExamPaper,
    Role,
    User,
    utcnow,
)


@dataclass(frozen=True)
class EligibilityRow:
    """One agent on the trainers' duty board."""

    user_id: int
    display_name: str
    username: str
    cohort: str
    on_duty: bool
    missing: list[str]
    certificate_numbers: list[str]
    earliest_expiry: datetime | None
    flagged: bool


def eligibility(*, session: Session, actor: User | None, now: datetime | None = None) -> list[EligibilityRow]:
    """Every active agent and new hire with their duty status (trainers and admins)."""
    require_role(actor, *STAFF)
    moment = now or utcnow()
    people = session.exec(
        select(User)
        .where(col(User.is_active).is_(True), col(User.role).in_([Role.AGENT.value, Role.NEW_HIRE.value]))
        .order_by(col(User.cohort_id), col(User.username))
    ).all()
    cohorts = {c.id: c.name for c in session.exec(select(Cohort)).all()}
    programmes = all_programmes(session=session)
    certs = certificates_of(session=session, user_ids=[p.id for p in people if p.id is not None])
    rows = []
    for person in people:
        assert person.id is not None
        status = duty_from(programmes, [c for c in certs if c.user_id == person.id], moment)
        rows.append(
            EligibilityRow(
                person.id,
                person.display_name,
                person.username,
                cohorts.get(person.cohort_id, ""),
                status.on_duty,
                [p.name for p in status.missing],
                [c.number for c in status.certificates],
                min((c.expires_at for c in status.certificates), default=None),
                bool(status.flagged),
            )
        )
    return rows


@dataclass(frozen=True)
class AttemptRow:
    """One sitting in a person's history."""

    attempt_id: int
    paper_title: str
    number: int
    started_at: datetime
    submitted_at: datetime | None
    status: str
    score: float | None
    released: bool


@dataclass(frozen=True)
class HeldCertificate:
    """A certificate (valid, expired or revoked) with its programme's name."""

    certificate: Certificate
    programme: str
    valid: bool


@dataclass(frozen=True)
class PersonHistory:
    """Everything a trainer needs to judge one person: sittings and certificates."""

    user: User
    attempts: list[AttemptRow]
    certificates: list[HeldCertificate]


def person_history(
    *, session: Session, actor: User | None, user_id: int, now: datetime | None = None
) -> PersonHistory:
    """A person's attempts and certificates, oldest first (trainers and admins)."""
    require_role(actor, *STAFF)
    person = session.get(User, user_id)
    if person is None:
        raise CertificationError("用户不存在。")
    moment = now or utcnow()
    attempts = [
        AttemptRow(
            a.id or 0,
            title,
            a.number,
            a.started_at,
            a.submitted_at,
            a.status,
            a.score,
            a.released_at is not None,
        )
        for a, title in session.exec(
            select(Attempt, ExamPaper.title)
            .join(ExamAssignment, col(Attempt.assignment_id) == col(ExamAssignment.id))
            .join(ExamPaper, col(ExamAssignment.paper_id) == col(ExamPaper.id))
            .where(Attempt.user_id == user_id)
            .order_by(col(Attempt.started_at))
        ).all()
    ]
    names = {p.id: p.name for p in all_programmes(session=session)}
    held = [
        HeldCertificate(c, names.get(c.certification_id, ""), is_valid(c, moment))
        for c in certificates_of(session=session, user_ids=[user_id])
    ]
    return PersonHistory(person, attempts, held)


@dataclass(frozen=True)
class ProgressRow:
    """One member's progress on one paper assigned to them or their cohort."""

    user_id: int
    display_name: str
    paper_id: int
    paper_title: str
    status: str  # 未开始 / 作答中 / 待发布成绩 / 通过 / 未通过
    best_score: float | None
    attempts_used: int


def _progress_status(attempts: Sequence[Attempt], best: float | None, pass_mark: float) -> str:
    if best is not None and best >= pass_mark - PASS_EPSILON:
        return "通过"
    if any(a.status == AttemptStatus.IN_PROGRESS for a in attempts):
        return "作答中"
    if any(a.released_at is None for a in attempts):
        return "待发布成绩"
    return "未通过" if attempts else "未开始"


def cohort_progress(*, session: Session, actor: User | None, cohort_id: int) -> list[ProgressRow]:
    """Each member of a cohort against each paper assigned to the cohort or to them (staff only)."""
    require_role(actor, *STAFF)
    if session.get(Cohort, cohort_id) is None:
        raise CertificationError("班组不存在。")
    members = session.exec(
        select(User)
        .where(User.cohort_id == cohort_id, col(User.is_active).is_(True))
        .order_by(col(User.username))
    ).all()
    ids = [m.id for m in members if m.id is not None]
    assignments = session.exec(
        select(ExamAssignment).where(
            (col(ExamAssignment.cohort_id) == cohort_id) | col(ExamAssignment.user_id).in_(ids)
        )
    ).all()
    papers = {
        p.id: p
        for p in session.exec(
            select(ExamPaper).where(col(ExamPaper.id).in_(sorted({a.paper_id for a in assignments})))
        ).all()
    }
    attempts = session.exec(
        select(Attempt, ExamAssignment.paper_id).join(ExamAssignment).where(col(Attempt.user_id).in_(ids))
    ).all()
    rows = []
    for member in members:
        assigned = sorted({a.paper_id for a in assignments if a.user_id in (None, member.id)})
        for paper_id in assigned:
            paper = papers[paper_id]
            own = [a for a, pid in attempts if a.user_id == member.id and pid == paper_id]
            best = max(
                (a.score for a in own if a.released_at is not None and a.score is not None), default=None
            )
            rows.append(
                ProgressRow(
                    member.id or 0,
                    member.display_name,
                    paper_id,
                    paper.title,
                    _progress_status(own, best, paper.pass_mark),
                    best,
                    len(own),
                )
            )
    return rows
