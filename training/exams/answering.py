"""Answering while the clock runs: autosave in place, flags, and no save landing after the submission."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from training.auth.permissions import EVERYONE, require_role
from training.exams.sittings import ExamError, own_attempt, questions_of
from training.exams.submission import finish_attempt
from training.models import Answer, Attempt, AttemptStatus, User, utcnow

#: Saves arriving this long after the deadline still count (network and rerun latency).
SAVE_GRACE = timedelta(seconds=10)
#: Longest answer accepted (a reply to a customer, not an essay).
MAX_ANSWER_CHARS = 5000


def _writable(session: Session, user: User, attempt_id: int, slot_id: int, now: datetime) -> Attempt:
    attempt = own_attempt(session=session, user=user, attempt_id=attempt_id)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise ExamError("试卷已提交，不能再修改。")
    if now > attempt.deadline_at + SAVE_GRACE:
        finish_attempt(session=session, attempt=attempt, auto=True, at=attempt.deadline_at)
        raise ExamError("考试时间已到，试卷已按已保存的答案自动提交。")
    if slot_id not in {q.slot_id for q in questions_of(attempt)}:
        raise ExamError("题目不在这份试卷中。")
    _hold_open(session, attempt)
    return attempt


def _hold_open(session: Session, attempt: Attempt) -> None:
    """Lock the attempt while it is still open, so a save never lands after the submission."""
    # A no-op conditional UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before
    # the answer is read; finish_attempt takes the same lock first, so its grading sees every save that
    # was acknowledged, and a save queued behind a submission matches no row here.
    held = session.exec(
        update(Attempt)
        .where(col(Attempt.id) == attempt.id, col(Attempt.status) == AttemptStatus.IN_PROGRESS.value)
        .values(status=AttemptStatus.IN_PROGRESS.value)
    )
    if held.rowcount != 1:
        session.rollback()
        raise ExamError("试卷已提交，不能再修改。")


def _answer_row(session: Session, attempt_id: int, slot_id: int) -> Answer:
    answer = session.exec(
        select(Answer).where(Answer.attempt_id == attempt_id, Answer.item_id == slot_id)
    ).first()
    return answer or Answer(attempt_id=attempt_id, item_id=slot_id)


def _store(session: Session, answer: Answer) -> Answer:
    session.add(answer)
    try:
        session.commit()
    except IntegrityError:
        # Two saves of a fresh answer raced; the other insert won, so update that row.
        session.rollback()
        winner = _answer_row(session, answer.attempt_id, answer.item_id)
        for name in ("text", "choice", "flagged", "time_spent_seconds", "chars_per_minute", "saved_at"):
            setattr(winner, name, getattr(answer, name))
        session.add(winner)
        session.commit()
        answer = winner
    session.refresh(answer)
    return answer


def save_answer(
    *,
    session: Session,
    actor: User | None,
    attempt_id: int,
    slot_id: int,
    text: str | None = None,
    choice: str | None = None,
    elapsed_seconds: float = 0.0,
    now: datetime | None = None,
) -> Answer:
    """Autosave one answer in place, adding the time spent on it since the last save.

    Typing speed is the answer's length per minute of time spent on the question.
    """
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    if text is not None and len(text) > MAX_ANSWER_CHARS:
        raise ExamError(f"回答过长：最多 {MAX_ANSWER_CHARS} 字。")
    attempt = _writable(session, user, attempt_id, slot_id, now)
    assert attempt.id is not None
    answer = _answer_row(session, attempt.id, slot_id)
    if text is not None:
        answer.text = text
    if choice is not None:
        answer.choice = choice[:32]
    limit = (attempt.deadline_at - attempt.started_at).total_seconds()
    answer.time_spent_seconds = min(limit, answer.time_spent_seconds + max(0.0, elapsed_seconds))
    length = len(answer.text.strip())
    answer.chars_per_minute = (
        length / (answer.time_spent_seconds / 60) if length and answer.time_spent_seconds >= 5 else None
    )
    answer.saved_at = now
    return _store(session, answer)


def set_flag(*, session: Session, actor: User | None, attempt_id: int, slot_id: int, flagged: bool) -> Answer:
    """Mark a question to come back to (kept with the answer, so it survives a reload)."""
    user = require_role(actor, *EVERYONE)
    attempt = _writable(session, user, attempt_id, slot_id, utcnow())
    assert attempt.id is not None
    answer = _answer_row(session, attempt.id, slot_id)
    answer.flagged = flagged
    return _store(session, answer)
