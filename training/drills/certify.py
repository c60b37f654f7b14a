"""Drills as a section of a certification programme: a holder passed each required drill.

A programme made of drills only (``create_drill_certification``) is issued here, when a run
finishes: every required drill passed at the programme's pass mark (and every paper it requires,
if any, passed in a released attempt), all after the user's latest certificate of it was issued
or flagged, as for papers. For a programme with papers *and* drills, the release of the last
paper issues it through ``training.certification.certificates.evaluate_certificates``, which
checks the drills as well (``drills_passed``), so whichever is passed last earns the certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.certification.certificates import certificate_number, certificates_of, is_valid
from training.certification.programmes import PASS_EPSILON, CertificationError, certification_papers
from training.drills.access import utc
from training.drills.building import DrillError, get_drill
from training.models import (
    Attempt,
    Certificate,
    Certification,
    CertificationDrill,
    DrillRun,
    ExamAssignment,
    User,
    utcnow,
)


def create_drill_certification(
    *, session: Session, actor: User | None, name: str, drill_ids: Sequence[int], pass_mark: float = 0.8,
    valid_days: int = 180, required_for_duty: bool = True,
) -> Certification:
    """Define a programme passed by its drills (trainers and admins)."""
    editor = require_role(actor, *STAFF)
    name = name.strip()
    if not name or len(name) > 100:
        raise CertificationError("请填写认证名称（不超过 100 个字）。")
    if session.exec(select(Certification).where(Certification.name == name)).first() is not None:
        raise CertificationError(f"认证「{name}」已存在。")
    drills = list(dict.fromkeys(drill_ids))
    if not drills:
        raise DrillError("请至少选择一个模拟接待。")
    for drill_id in drills:
        get_drill(session=session, drill_id=drill_id)
    if not 0 < pass_mark <= 1 or not 1 <= valid_days <= 3650:
        raise CertificationError("及格线应在 0–100% 之间，有效期应在 1–3650 天之间。")
    programme = Certification(name=name, pass_mark=pass_mark, valid_days=valid_days,
                              required_for_duty=required_for_duty)
    session.add(programme)
    session.flush()
    session.add_all([CertificationDrill(certification_id=programme.id or 0, drill_id=d) for d in drills])
    audit.record(session=session, actor=editor, action="certification.create", target=str(programme.id))
    session.commit()
    session.refresh(programme)
    return programme


def required_drills(*, session: Session, certification_id: int) -> list[int]:
    """The drills a programme requires."""
    return list(session.exec(select(CertificationDrill.drill_id).where(
        col(CertificationDrill.certification_id) == certification_id)).all())


def _passed_drills(session: Session, user_id: int, drills: list[int], mark: float,
                   since: datetime | None) -> bool:
    for drill_id in drills:
        runs = session.exec(select(DrillRun).where(col(DrillRun.user_id) == user_id,
                                                   col(DrillRun.drill_id) == drill_id,
                                                   col(DrillRun.finished_at).is_not(None))).all()
        if not any((r.score or 0.0) >= mark - PASS_EPSILON and r.finished_at is not None
                   and (since is None or utc(r.finished_at) > utc(since)) for r in runs):
            return False
    return True


def _when(attempt: Attempt) -> tuple[datetime, int]:
    return utc(attempt.submitted_at or attempt.started_at), attempt.id or 0


def _passed_papers(session: Session, user_id: int, papers: list[int], mark: float,
                   since: datetime | None) -> tuple[bool, int | None]:
    chosen: list[Attempt] = []
    for paper_id in papers:
        passing = [a for a in session.exec(select(Attempt).join(ExamAssignment).where(
            col(Attempt.user_id) == user_id, col(ExamAssignment.paper_id) == paper_id,
            col(Attempt.released_at).is_not(None))).all()
            if a.submitted_at is not None and (a.score or 0.0) >= mark - PASS_EPSILON
            and (since is None or utc(a.submitted_at) > utc(since))]
        if not passing:
            return False, None
        chosen.append(max(passing, key=_when))
    return True, max(chosen, key=_when).id if chosen else None


def evaluate_drill_certificates(
    *, session: Session, user_id: int, now: datetime | None = None,
) -> list[Certificate]:
    """Issue every certificate of a programme with drills the user now earns; commits; the new ones."""
    moment = now or utcnow()
    programmes = session.exec(select(Certification).where(col(Certification.id).in_(
        select(CertificationDrill.certification_id)))).all()
    history = certificates_of(session=session, user_ids=[user_id])
    issued = []
    for programme in programmes:
        assert programme.id is not None
        own = [c for c in history if c.certification_id == programme.id]
        current = next((c for c in reversed(own) if is_valid(c, moment)), None)
        if current is not None and current.recert_flagged_at is None:
            continue
        since = max((c.recert_flagged_at or c.issued_at for c in own), default=None)
        drills = required_drills(session=session, certification_id=programme.id)
        papers_ok, attempt_id = _passed_papers(
            session, user_id, certification_papers(session=session, certification_id=programme.id),
            programme.pass_mark, since)
        if not papers_ok or not _passed_drills(session, user_id, drills, programme.pass_mark, since):
            continue
        cert = Certificate(certification_id=programme.id, user_id=user_id, attempt_id=attempt_id,
                           issued_at=moment, expires_at=moment + timedelta(days=programme.valid_days))
        session.add(cert)
        session.flush()
        cert.number = certificate_number(moment, cert.id or 0)
        if current is not None:
            current.revoked_at = moment
            session.add(current)
        audit.record(session=session, actor=None, action="certificate.issue", target=str(cert.id),
                     detail={"user": user_id, "certification": programme.id,
                             "replaces": current.id if current else None})
        issued.append(cert)
    session.commit()
    return issued
