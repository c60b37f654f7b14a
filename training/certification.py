"""Certification: programmes, certificates issued on passing, duty gate, re-certification, views."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from string import Template
from typing import Any

from sqlmodel import Session, col, select

from training import audit
from training.chatlog import CHINA_TZ
from training.errors import UserError
from training.models import (
    Attempt,
    Certificate,
    Certification,
    CertificationPaper,
    Cohort,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    MinedQuestion,
    Role,
    User,
    utcnow,
)
from training.permissions import EVERYONE, STAFF, PermissionDenied, require_role

REMINDER_DAYS = 30
_EPSILON = 1e-9  # scores are float sums of points; 0.1 * 8 must still pass a 0.8 mark


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
    return _programmes(session)


def certification_papers(session: Session, certification_id: int) -> list[int]:
    """The ids of the papers a programme requires."""
    return sorted(
        session.exec(
            select(CertificationPaper.paper_id).where(CertificationPaper.certification_id == certification_id)
        ).all()
    )


def _is_valid(cert: Certificate, now: datetime) -> bool:
    return cert.revoked_at is None and cert.expires_at > now


def _certificates(session: Session, user_ids: Sequence[int]) -> list[Certificate]:
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
    return [c for c in _certificates(session, [user_id]) if _is_valid(c, moment)]


def _programmes(session: Session) -> list[Certification]:
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
            and (a.score or 0.0) >= programme.pass_mark - _EPSILON
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
    history = _certificates(session, [user_id])
    issued: list[Certificate] = []
    for programme in _programmes(session):
        assert programme.id is not None
        own = [c for c in history if c.certification_id == programme.id]
        current = next((c for c in reversed(own) if _is_valid(c, moment)), None)
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
        cert.number = f"HS-{moment.astimezone(CHINA_TZ):%Y%m%d}-{cert.id:05d}"
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


def _duty(programmes: Sequence[Certification], certs: Sequence[Certificate], now: datetime) -> DutyStatus:
    valid = [c for c in certs if _is_valid(c, now)]
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
    return _duty(_programmes(session), _certificates(session, [target]), now or utcnow())


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
        if _is_valid(c, moment)
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
    programmes = _programmes(session)
    certs = _certificates(session, [p.id for p in people if p.id is not None])
    rows = []
    for person in people:
        assert person.id is not None
        status = _duty(programmes, [c for c in certs if c.user_id == person.id], moment)
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
    names = {p.id: p.name for p in _programmes(session)}
    held = [
        HeldCertificate(c, names.get(c.certification_id, ""), _is_valid(c, moment))
        for c in _certificates(session, [user_id])
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
    if best is not None and best >= pass_mark - _EPSILON:
        return "通过"
    if any(a.status == "in_progress" for a in attempts):
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


@dataclass(frozen=True)
class CertificateView:
    """What a printed certificate shows."""

    number: str
    holder: str
    programme: str
    product_line: str
    issued_on: date
    expires_on: date
    valid: bool
    recert_reason: str


def certificate_view(
    *, session: Session, actor: User | None, certificate_id: int, now: datetime | None = None
) -> CertificateView:
    """A certificate for display or printing (its holder, trainers and admins)."""
    reader = require_role(actor, *EVERYONE)
    cert = session.get(Certificate, certificate_id)
    if cert is None:
        raise CertificationError("证书不存在。")
    if cert.user_id != reader.id and reader.role not in {r.value for r in STAFF}:
        raise PermissionDenied("只能查看本人的证书。")
    holder, programme = session.get(User, cert.user_id), session.get(Certification, cert.certification_id)
    assert holder is not None and programme is not None
    return CertificateView(
        cert.number,
        holder.display_name,
        programme.name,
        programme.product_line,
        cert.issued_at.astimezone(CHINA_TZ).date(),
        cert.expires_at.astimezone(CHINA_TZ).date(),
        _is_valid(cert, now or utcnow()),
        cert.recert_reason,
    )


_PAGE = Template("""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>上岗资格证书 $number</title>
<style>
@page { size: A4 landscape; margin: 0; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "Noto Serif CJK SC", "Songti SC", "SimSun", serif; color: #3a2a12; }
.sheet { width: 297mm; height: 210mm; padding: 18mm; background: #fffdf6; }
.frame { height: 100%; border: 3mm double #b8860b; padding: 14mm 20mm; text-align: center; }
h1 { font-size: 30pt; letter-spacing: 0.5em; margin: 0 0 10mm; color: #8b0000; }
.lead { font-size: 15pt; line-height: 2; }
.name { font-size: 24pt; font-weight: bold; border-bottom: 1px solid #3a2a12; padding: 0 6mm; }
table { margin: 10mm auto 0; font-size: 12pt; border-collapse: collapse; }
td { padding: 1.5mm 5mm; text-align: left; }
.notice { margin-top: 6mm; color: #8b0000; font-size: 11pt; white-space: pre-line; }
@media print { .sheet { page-break-after: always; } }
</style></head>
<body><div class="sheet"><div class="frame">
<h1>上岗资格证书</h1>
<p class="lead">兹证明 <span class="name">$holder</span><br>
已通过「$programme」全部考核，具备上岗接待资格。</p>
<table>
<tr><td>证书编号</td><td>$number</td></tr>
<tr><td>产品线</td><td>$product_line</td></tr>
<tr><td>发证日期</td><td>$issued_on</td></tr>
<tr><td>有效期至</td><td>$expires_on</td></tr>
<tr><td>状态</td><td>$state</td></tr>
</table>
$notice
</div></div></body></html>
""")


def certificate_html(view: CertificateView) -> str:
    """A standalone printable A4 page; every value is HTML-escaped (names are user text)."""
    notice = (
        f'<p class="notice">需重新认证：{html.escape(view.recert_reason)}</p>' if view.recert_reason else ""
    )
    values: dict[str, Any] = {
        "number": view.number,
        "holder": view.holder,
        "programme": view.programme,
        "product_line": view.product_line or "通用",
        "issued_on": f"{view.issued_on:%Y年%m月%d日}",
        "expires_on": f"{view.expires_on:%Y年%m月%d日}",
        "state": "有效" if view.valid else "已失效",
    }
    return _PAGE.substitute({k: html.escape(str(v)) for k, v in values.items()}, notice=notice)
