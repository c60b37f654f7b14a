"""Certification programmes: the papers each requires, the pass mark and validity (trainers define them)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import EVERYONE, STAFF, require_role
from training.core.errors import UserError
from training.models import Certification, CertificationPaper, ExamPaper, User

PASS_EPSILON = 1e-9  # scores are float sums of points; 0.1 * 8 must still pass a 0.8 mark


class CertificationError(UserError):
    """A user-facing problem with a certification programme or certificate."""


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
    return all_programmes(session=session)


def certification_papers(*, session: Session, certification_id: int) -> list[int]:
    """The ids of the papers a programme requires."""
    return sorted(
        session.exec(
            select(CertificationPaper.paper_id).where(CertificationPaper.certification_id == certification_id)
        ).all()
    )


def all_programmes(*, session: Session) -> list[Certification]:
    """Every certification programme, oldest first."""
    return list(session.exec(select(Certification).order_by(col(Certification.id))).all())
