"""Certificates: validity, the dates and number they show, and issuing them when final results earn them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

from training.auth import audit
from training.certification.programmes import PASS_EPSILON, all_programmes, certification_papers
from training.core import clock
from training.models import (
    Attempt,
    Certificate,
    Certification,
    CertificationDrill,
    DrillRun,
    ExamAssignment,
    utcnow,
)


def is_valid(cert: Certificate, now: datetime) -> bool:
    """Not revoked and not expired at ``now``."""
    return cert.revoked_at is None and cert.expires_at > now


def issue_date(issued_at: datetime) -> date:
    """The issue day a certificate shows: the team-local day of its issue instant."""
    return clock.team_date(issued_at)


def expiry_date(expires_at: datetime) -> date:
    """The expiry day every page shows (我的考试, the certificate, 学习进度, trainers' views).

    One function, so that no page derives it in another zone: the team-local day of the expiry
    instant. The certificate stays valid until that instant (``is_valid``).
    """
    return clock.team_date(expires_at)


def days_until_expiry(expires_at: datetime, now: datetime) -> int:
    """Calendar days from today (team time) to the expiry day shown; 0 on the day itself."""
    return (expiry_date(expires_at) - clock.team_today(now)).days


def certificate_number(issued_at: datetime, certificate_id: int) -> str:
    """``HS-<team-local issue day>-<id>``, e.g. HS-20260930-00012."""
    return f"HS-{issue_date(issued_at):%Y%m%d}-{certificate_id:05d}"


def certificates_of(*, session: Session, user_ids: Sequence[int]) -> list[Certificate]:
    """Every certificate (any state) of these users."""
    return list(
        session.exec(
            select(Certificate)
            .where(col(Certificate.user_id).in_(list(user_ids)))
            .order_by(col(Certificate.issued_at), col(Certificate.id))
        ).all()
    )


def valid_certificates(*, session: Session, user_id: int, now: datetime | None = None) -> list[Certificate]:
    """The user's certificates that are neither revoked nor expired at ``now``."""
    moment = now or utcnow()
    return [c for c in certificates_of(session=session, user_ids=[user_id]) if is_valid(c, moment)]


def _released_attempts(session: Session, user_id: int) -> list[tuple[Attempt, int]]:
    return [
        (a, pid)
        for a, pid in session.exec(
            select(Attempt, ExamAssignment.paper_id)
            .join(ExamAssignment)
            .where(Attempt.user_id == user_id, col(Attempt.released_at).is_not(None))
        ).all()
    ]


def _earning_attempt(
    session: Session,
    programme: Certification,
    attempts: Sequence[tuple[Attempt, int]],
    since: datetime | None,
) -> Attempt | None:
    """The latest attempt of a full set passing every paper of ``programme``, else None."""
    assert programme.id is not None
    chosen: list[Attempt] = []
    for paper_id in certification_papers(session=session, certification_id=programme.id):
        passing = [
            a
            for a, pid in attempts
            if pid == paper_id
            and a.submitted_at is not None
            and (since is None or a.submitted_at > since)
            and (a.score or 0.0) >= programme.pass_mark - PASS_EPSILON
        ]
        if not passing:
            return None
        chosen.extend(passing)
    return max(chosen, key=lambda a: (a.submitted_at, a.id or 0)) if chosen else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def drills_passed(session: Session, programme: Certification, user_id: int, since: datetime | None) -> bool:
    """Whether the user passed every 模拟接待 drill the programme requires (after ``since``).

    A programme may require drills beside its papers (``CertificationDrill``): a finished run
    scoring at least the pass mark counts, as a released passing attempt does for a paper.
    """
    required = session.exec(select(CertificationDrill.drill_id).where(
        col(CertificationDrill.certification_id) == programme.id)).all()
    for drill_id in required:
        finished = session.exec(select(DrillRun.score, DrillRun.finished_at).where(
            col(DrillRun.user_id) == user_id, col(DrillRun.drill_id) == drill_id,
            col(DrillRun.finished_at).is_not(None))).all()
        if not any((score or 0.0) >= programme.pass_mark - PASS_EPSILON and at is not None
                   and (since is None or _aware(at) > _aware(since)) for score, at in finished):
            return False
    return True


def evaluate_certificates(
    *, session: Session, user_id: int, now: datetime | None = None
) -> list[Certificate]:
    """Issue every certificate the user's final results now earn; commits. Returns the new ones.

    A programme is earned by a released, passing attempt on each of its papers, and a passing run
    of each drill it requires (``drills_passed``). Attempts and runs must be
    submitted after the user's latest certificate of that programme was issued (or flagged), so
    an expired or flagged certificate takes a fresh sitting, never the results it was built on.
    """
    moment = now or utcnow()
    attempts = _released_attempts(session, user_id)
    history = certificates_of(session=session, user_ids=[user_id])
    issued: list[Certificate] = []
    for programme in all_programmes(session=session):
        assert programme.id is not None
        own = [c for c in history if c.certification_id == programme.id]
        current = next((c for c in reversed(own) if is_valid(c, moment)), None)
        if current is not None and current.recert_flagged_at is None:
            continue
        since = max((c.recert_flagged_at or c.issued_at for c in own), default=None)
        latest = _earning_attempt(session, programme, attempts, since)
        if latest is None or not drills_passed(session, programme, user_id, since):
            continue
        cert = Certificate(
            certification_id=programme.id,
            user_id=user_id,
            attempt_id=latest.id,
            issued_at=moment,
            expires_at=moment + timedelta(days=programme.valid_days),
        )
        session.add(cert)
        session.flush()
        cert.number = certificate_number(moment, cert.id or 0)
        if current is not None:
            current.revoked_at = moment
            session.add(current)
        audit.record(
            session=session,
            actor=None,
            action="certificate.issue",
            target=str(cert.id),
            detail={
                "user": user_id,
                "certification": programme.id,
                "replaces": current.id if current else None,
            },
        )
        issued.append(cert)
    session.commit()
    return issued
