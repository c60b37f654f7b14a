"""Handing an attempt in exactly once (by the candidate or at the deadline), graded and released if final."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import EVERYONE, require_role
from training.exams.knowledge import grade
from training.exams.papers import OBJECTIVE
from training.exams.release import finalize_if_complete
from training.exams.sittings import own_attempt, questions_of
from training.models import Answer, Attempt, AttemptStatus, KnowledgeItem, User, utcnow


def finish_attempt(*, session: Session, attempt: Attempt, auto: bool, at: datetime) -> bool:
    """Move an attempt to submitted exactly once; grade objective items. True if this call did it."""
    result = session.exec(
        update(Attempt)
        .where(col(Attempt.id) == attempt.id, col(Attempt.status) == AttemptStatus.IN_PROGRESS.value)
        .values(status=AttemptStatus.SUBMITTED.value, submitted_at=at, auto_submitted=auto)
    )
    if result.rowcount != 1:
        session.rollback()  # another request submitted first; nothing to do
        session.refresh(attempt)
        return False
    answers = {
        a.item_id: a for a in session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()
    }
    for question in questions_of(attempt):
        if question.kind != OBJECTIVE or question.knowledge_item_id is None:
            continue
        item = session.get(KnowledgeItem, question.knowledge_item_id)
        answer = answers.get(question.slot_id)
        if answer is None:
            answer = Answer(attempt_id=attempt.id, item_id=question.slot_id)  # type: ignore[arg-type]
        answer.auto_score = grade(item, answer.choice) if item is not None else 0.0
        answer.score = answer.auto_score
        session.add(answer)
    audit.record(
        session=session,
        actor=None,
        action="attempt.auto_submit" if auto else "attempt.submit",
        target=str(attempt.id),
        detail={"user": attempt.user_id},
    )
    session.commit()
    session.refresh(attempt)
    finalize_if_complete(session=session, attempt=attempt)
    return True


def expire_overdue(*, session: Session, user_id: int | None = None, now: datetime | None = None) -> int:
    """Submit every attempt whose deadline has passed, with what was saved. Returns how many."""
    now = now or utcnow()
    query = select(Attempt).where(
        Attempt.status == AttemptStatus.IN_PROGRESS.value, col(Attempt.deadline_at) < now
    )
    if user_id is not None:
        query = query.where(Attempt.user_id == user_id)
    done = 0
    for attempt in session.exec(query).all():
        done += finish_attempt(session=session, attempt=attempt, auto=True, at=attempt.deadline_at)
    return done


def has_open_attempt(*, session: Session, user_id: int) -> bool:
    """True while the user is sitting an exam (scripts stay hidden from them meanwhile)."""
    expire_overdue(session=session, user_id=user_id)
    return (
        session.exec(
            select(Attempt.id).where(
                Attempt.user_id == user_id, Attempt.status == AttemptStatus.IN_PROGRESS.value
            )
        ).first()
        is not None
    )


def submit_attempt(*, session: Session, actor: User | None, attempt_id: int) -> Attempt:
    """Hand in the attempt once; repeating the call (double click, retry) changes nothing."""
    user = require_role(actor, *EVERYONE)
    attempt = own_attempt(session=session, user=user, attempt_id=attempt_id)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        now = utcnow()
        late = now > attempt.deadline_at
        finish_attempt(session=session, attempt=attempt, auto=late, at=attempt.deadline_at if late else now)
    return attempt
