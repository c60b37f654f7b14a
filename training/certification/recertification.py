"""Re-certification: flag valid certificates whose programmes examine a revised script or knowledge item."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from training.auth import audit
from training.certification.certificates import is_valid
from training.models import (
    Attempt,
    Certificate,
    CertificationPaper,
    ExamAssignment,
    ExamItem,
    MinedQuestion,
    utcnow,
)


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
    *,
    session: Session,
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
