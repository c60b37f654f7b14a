"""Certification read-outs for trainers and holders: duty eligibility, history, progress, certificates."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from string import Template
from typing import Any

from sqlmodel import Session, col, select

from training.auth.permissions import EVERYONE, STAFF, PermissionDenied, require_role
from training.certification.programmes import (
    PASS_EPSILON,
    CertificationError,
    all_programmes,
    certificates_of,
    duty_from,
    expiry_date,
    is_valid,
    issue_date,
)
from training.models import (
    Attempt,
    Certificate,
    Certification,
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
    programmes = all_programmes(session)
    certs = certificates_of(session, [p.id for p in people if p.id is not None])
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
    names = {p.id: p.name for p in all_programmes(session)}
    held = [
        HeldCertificate(c, names.get(c.certification_id, ""), is_valid(c, moment))
        for c in certificates_of(session, [user_id])
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
        issue_date(cert.issued_at),
        expiry_date(cert.expires_at),
        is_valid(cert, now or utcnow()),
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
