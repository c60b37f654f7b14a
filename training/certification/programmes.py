"""Certification: programmes, certificates issued on passing, duty gate, re-certification, views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import EVERYONE, STAFF, require_role
from training.core import clock
from training.core.errors import UserError
from training.models import (
    Attempt,
    Certificate,
    Certification,
    CertificationPaper,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    MinedQuestion,
    User,
    utcnow,
)

REMINDER_DAYS = 30
PASS_EPSILON = 1e-9  # scores are float sums of points; 0.1 * 8 must still pass a 0.8 mark


class CertificationError(UserError):
    """A user-facing problem with a certification programme or certificate."""


@dataclass(frozen=True)
class DutyStatus:
    """Whether a person may take customer chats, and which certificates need attention."""

    on_duty: bool
    missing: list[Certification]
    certificates: list[Certificate]
    expiring: list[Certificate]
    flagged: list[Certificate]


def create_certification(
    *,
    session: Session,
    actor: User | None,
    name: str,
    paper_ids: Sequence[int],
    pass_mark: float = 0.8,
    valid_days: int = 180,
    required_for_duty: bool = True,
    product_line: str = "",
    description: str = "",
) -> Certification:
    """Define a programme: pass every one of its papers to be certified (trainers and admins)."""
    editor = require_role(actor, *STAFF)
    name = name.strip()
    if not name:
        raise CertificationError("请填写认证名称。")
    if len(name) > 100 or len(product_line.strip()) > 100:
        raise CertificationError("认证名称和产品线均不能超过 100 个字。")
    if session.exec(select(Certification).where(Certification.name == name)).first() is not None:
        raise CertificationError(f"认证「{name}」已存在。")
    papers = list(dict.fromkeys(paper_ids))
    if not papers:
        raise CertificationError("请至少选择一份试卷。")
    if any(session.get(ExamPaper, pid) is None for pid in papers):
        raise CertificationError("所选试卷不存在。")
    if not 0 < pass_mark <= 1:
        raise CertificationError("及格线应在 0–100% 之间。")
    if not 1 <= valid_days <= 3650:
        raise CertificationError("有效期应在 1–3650 天之间。")
    programme = Certification(
        name=name,
        description=description.strip(),
        pass_mark=pass_mark,
        product_line=product_line.strip(),
        valid_days=valid_days,
        required_for_duty=required_for_duty,
    )
    session.add(programme)
    session.flush()
    assert programme.id is not None
    session.add_all([CertificationPaper(certification_id=programme.id, paper_id=p) for p in papers])
    audit.record(
        session=session,
        actor=editor,
        action="certification.create",
        target=str(programme.id),
        detail={"papers": papers},
    )
    session.commit()
    session.refresh(programme)
    return programme


def list_certifications(*, session: Session, actor: User | None) -> list[Certification]:
    """All programmes (every logged-in role: agents see what they must pass)."""
    require_role(actor, *EVERYONE)
    return all_programmes(session)


def certification_papers(session: Session, certification_id: int) -> list[int]:
    """The ids of the papers a programme requires."""
    return sorted(
        session.exec(
            select(CertificationPaper.paper_id).where(CertificationPaper.certification_id == certification_id)
        ).all()
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


def certificates_of(session: Session, user_ids: Sequence[int]) -> list[Certificate]:
    """Every certificate (any state) of these users."""
    return list(
        session.exec(
            select(Certificate)
            .where(col(Certificate.user_id).in_(list(user_ids)))
            .order_by(col(Certificate.issued_at), col(Certificate.id))
        ).all()
    )


def valid_certificates(session: Session, user_id: int, *, now: datetime | None = None) -> list[Certificate]:
    """The user's certificates that are neither revoked nor expired at ``now``."""
    moment = now or utcnow()
    return [c for c in certificates_of(session, [user_id]) if is_valid(c, moment)]


def all_programmes(session: Session) -> list[Certification]:
    """Every certification programme, oldest first."""
    return list(session.exec(select(Certification).order_by(col(Certification.id))).all())


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
    for paper_id in certification_papers(session, programme.id):
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


def evaluate_certificates(
    session: Session, user_id: int, *, now: datetime | None = None
) -> list[Certificate]:
    """Issue every certificate the user's final results now earn; commits. Returns the new ones.

    A programme is earned by a released, passing attempt on each of its papers. Attempts must be
    submitted after the user's latest certificate of that programme was issued (or flagged), so
    an expired or flagged certificate takes a fresh sitting, never the results it was built on.
    """
    moment = now or utcnow()
    attempts = _released_attempts(session, user_id)
    history = certificates_of(session, [user_id])
    issued: list[Certificate] = []
    for programme in all_programmes(session):
        assert programme.id is not None
        own = [c for c in history if c.certification_id == programme.id]
        current = next((c for c in reversed(own) if is_valid(c, moment)), None)
        if current is not None and current.recert_flagged_at is None:
            continue
        since = max((c.recert_flagged_at or c.issued_at for c in own), default=None)
        latest = _earning_attempt(session, programme, attempts, since)
        if latest is None:
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



def duty_from(programmes: Sequence[Certification], certs: Sequence[Certificate], now: datetime) -> DutyStatus:
    """The gate computed from a user's programmes and certificates."""
    valid = [c for c in certs if is_valid(c, now)]
    held = {c.certification_id for c in valid}
    missing = [p for p in programmes if p.required_for_duty and p.id not in held]
    soon = now + timedelta(days=REMINDER_DAYS)
    return DutyStatus(
        on_duty=not missing,
        missing=missing,
        certificates=valid,
        expiring=[c for c in valid if c.expires_at <= soon],
        flagged=[c for c in valid if c.recert_flagged_at is not None],
    )


def duty_status(
    *, session: Session, actor: User | None, user_id: int | None = None, now: datetime | None = None
) -> DutyStatus:
    """The on-duty gate for a user (default: the actor); others' status is for staff only."""
    reader = require_role(actor, *EVERYONE)
    target = reader.id if user_id is None else user_id
    assert target is not None
    if target != reader.id:
        require_role(reader, *STAFF)
        if session.get(User, target) is None:
            raise CertificationError("用户不存在。")
    return duty_from(all_programmes(session), certificates_of(session, [target]), now or utcnow())


def _covered_papers(session: Session, script_id: int | None, knowledge_item_id: int | None) -> set[int]:
    mined = (
        set(
            session.exec(
                select(MinedQuestion.id).where(MinedQuestion.covered_by_script_id == script_id)
            ).all()
        )
        if script_id is not None
        else set()
    )
    if not mined and knowledge_item_id is None:
        return set()
    papers: set[int] = set()
    if mined:
        papers |= set(
            session.exec(
                select(ExamItem.paper_id).where(col(ExamItem.mined_question_id).in_(sorted(mined)))
            ).all()
        )
    if knowledge_item_id is not None:
        papers |= set(
            session.exec(
                select(ExamItem.paper_id).where(ExamItem.knowledge_item_id == knowledge_item_id)
            ).all()
        )
    on_programmes = set(session.exec(select(CertificationPaper.paper_id)).all()) - papers
    # Random slots draw per candidate: only the frozen snapshots show what a paper really asked.
    for questions, paper_id in session.exec(
        select(Attempt.questions, ExamAssignment.paper_id)
        .join(ExamAssignment)
        .where(col(ExamAssignment.paper_id).in_(sorted(on_programmes)))
    ).all():
        if paper_id not in papers and any(
            (knowledge_item_id is not None and q.get("knowledge_item_id") == knowledge_item_id)
            or q.get("mined_question_id") in mined
            for q in questions or []
        ):
            papers.add(paper_id)
    return papers


def flag_for_recertification(
    session: Session,
    *,
    script_id: int | None = None,
    knowledge_item_id: int | None = None,
    reason: str,
    now: datetime | None = None,
) -> int:
    """Flag valid certificates whose programmes examine changed content; flushes, never commits.

    Args:
        script_id: a revised script; papers asking a question it covers are affected.
        knowledge_item_id: an edited knowledge item.
        reason: appended to each certificate's ``recert_reason`` (once).

    Returns:
        How many valid certificates are now flagged for this change.
    """
    moment, reason = now or utcnow(), " ".join(reason.split())  # one line: reasons are \n-joined
    papers = _covered_papers(session, script_id, knowledge_item_id)
    if not papers:
        return 0
    programmes = set(
        session.exec(
            select(CertificationPaper.certification_id).where(
                col(CertificationPaper.paper_id).in_(sorted(papers))
            )
        ).all()
    )
    certs = [
        c
        for c in session.exec(
            select(Certificate).where(col(Certificate.certification_id).in_(sorted(programmes)))
        ).all()
        if is_valid(c, moment)
    ]
    for cert in certs:
        cert.recert_flagged_at = cert.recert_flagged_at or moment
        reasons = [r for r in cert.recert_reason.split("\n") if r]
        cert.recert_reason = "\n".join(reasons if reason in reasons else [*reasons, reason])
        session.add(cert)
    if certs:
        audit.record(
            session=session,
            actor=None,
            action="certificate.flag",
            target=reason[:200],
            detail={
                "script": script_id,
                "knowledge_item": knowledge_item_id,
                "certificates": [c.id for c in certs],
            },
        )
    session.flush()
    return len(certs)
