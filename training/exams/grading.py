"""Trainers' grading: reviews of written answers, releasing a paper's results."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.exams.release import finalize_if_complete, release_attempts
from training.exams.scores import Progress, needs_review
from training.exams.sittings import answers_of, questions_of, reviews_of
from training.exams.submission import expire_overdue
from training.models import Answer, Attempt, AttemptStatus, ExamAssignment, ExamPaper, Review, User, utcnow
from training.nlp.embeddings import Embedder


class GradingError(UserError):
    """A user-facing problem while reviewing or releasing results."""



def review_answer(
    *,
    session: Session,
    actor: User | None,
    answer_id: int,
    score: float,
    embedder: Embedder,
    comment: str = "",
    rubric: dict[str, float] | None = None,
    rubric_id: int | None = None,
    auto_fail: list[str] | None = None,
    finalize: bool = True,
) -> Review:
    """Record (or change) the acting trainer's score in [0, 1] for one submitted answer.

    A change of an existing grade is audited with the old and the new score. With ``finalize``
    the attempt is released once its last written answer has a review; without it (panel review,
    several reviewers per answer) results wait for the trainer's release.
    """
    reviewer = require_role(actor, *STAFF)
    answer = session.get(Answer, answer_id)
    attempt = session.get(Attempt, answer.attempt_id) if answer else None
    if answer is None or attempt is None:
        raise GradingError("回答不存在。")
    if attempt.status != AttemptStatus.SUBMITTED:
        raise GradingError("考生还没有交卷，暂不能评分。")
    if attempt.released_at is not None:
        raise GradingError("成绩已发布，不能再修改评分。")
    if not 0.0 <= score <= 1.0:
        raise GradingError("评分应在 0–1 之间（0–100%）。")
    review = session.exec(
        select(Review).where(Review.answer_id == answer_id, Review.reviewer_id == reviewer.id)
    ).first()
    previous = review.score if review is not None else None
    if review is None:
        review = Review(answer_id=answer_id, reviewer_id=reviewer.id or 0, score=score)
    else:
        review.updated_at = utcnow()
    review.score, review.comment, review.rubric = score, comment.strip(), rubric
    review.rubric_id, review.auto_fail = rubric_id, auto_fail
    session.add(review)
    audit.record(
        session=session,
        actor=reviewer,
        action="answer.review" if previous is None else "answer.review_change",
        target=str(answer_id),
        detail={"score": score, "previous": previous, "rubric": rubric, "auto_fail": auto_fail},
    )
    session.commit()
    session.refresh(review)
    if finalize:
        finalize_if_complete(session=session, attempt=attempt, embedder=embedder)
    return review


def release_results(
    *, session: Session, actor: User | None, paper_id: int, embedder: Embedder,
    progress: Progress | None = None,
) -> int:
    """Score and release every submitted, unreleased attempt of a paper. Returns how many.

    ``progress`` is called with the fraction of answers embedded (for a progress bar).
    """
    editor = require_role(actor, *STAFF)
    if session.get(ExamPaper, paper_id) is None:
        raise GradingError("试卷不存在。")
    expire_overdue(session=session)
    attempts = list(
        session.exec(
            select(Attempt)
            .join(ExamAssignment)
            .where(
                ExamAssignment.paper_id == paper_id,
                Attempt.status == AttemptStatus.SUBMITTED.value,
                col(Attempt.released_at).is_(None),
            )
            .order_by(col(Attempt.id))
        ).all()
    )
    if not attempts:
        raise GradingError(_nothing_to_release(session, paper_id))
    audit.record(
        session=session,
        actor=editor,
        action="results.release",
        target=str(paper_id),
        detail={"attempts": len(attempts)},
    )
    release_attempts(session=session, attempts=attempts, embedder=embedder, progress=progress)
    return len(attempts)


@dataclass(frozen=True)
class ReleasePreview:
    """What 发布成绩 would do: how many sittings, and how many have written answers not reviewed."""

    attempts: int
    unreviewed: int


def release_preview(*, session: Session, actor: User | None, paper_id: int) -> ReleasePreview:
    """Count the sittings a release would score, and those with an unreviewed written answer (staff)."""
    require_role(actor, *STAFF)
    attempts = list(session.exec(select(Attempt).join(ExamAssignment).where(
        ExamAssignment.paper_id == paper_id, Attempt.status == AttemptStatus.SUBMITTED.value,
        col(Attempt.released_at).is_(None))).all())
    answers = answers_of(session=session, attempt_ids=[a.id or 0 for a in attempts])
    written = {a.id or 0: [answer for q in questions_of(a)
                           if needs_review(q, answer := answers.get((a.id or 0, q.slot_id))) and answer]
               for a in attempts}
    reviewed = reviews_of(session=session, answer_ids=[w.id or 0 for ws in written.values() for w in ws])
    unreviewed = sum(1 for ws in written.values() if any(not reviewed.get(w.id or 0) for w in ws))
    return ReleasePreview(len(attempts), unreviewed)


def release_blocker(*, session: Session, actor: User | None, paper_id: int) -> str | None:
    """Why releasing the paper's results now would do nothing (a page says so at once), or None."""
    require_role(actor, *STAFF)
    if session.get(ExamPaper, paper_id) is None:
        return "试卷不存在。"
    expire_overdue(session=session)
    waiting = session.exec(select(Attempt.id).join(ExamAssignment).where(
        ExamAssignment.paper_id == paper_id, Attempt.status == AttemptStatus.SUBMITTED.value,
        col(Attempt.released_at).is_(None)).limit(1)).first()
    return None if waiting is not None else _nothing_to_release(session, paper_id)


def _nothing_to_release(session: Session, paper_id: int) -> str:
    """Why a paper has no result to release: all released already, nobody submitted, or still sitting."""
    statuses = [
        (status, released_at)
        for status, released_at in session.exec(
            select(Attempt.status, Attempt.released_at)
            .join(ExamAssignment)
            .where(ExamAssignment.paper_id == paper_id)
        ).all()
    ]
    released = sum(1 for status, at in statuses if status == AttemptStatus.SUBMITTED and at is not None)
    sitting = sum(1 for status, _ in statuses if status == AttemptStatus.IN_PROGRESS)
    if released:
        more = f"；另有 {sitting} 人正在作答，交卷后再发布" if sitting else ""
        return f"成绩已全部发布（共 {released} 份），没有新交的答卷{more}。"
    if sitting:
        return f"还没有考生交卷：{sitting} 人正在作答，交卷后才能发布成绩。"
    return "还没有考生交卷：考生交卷后才能发布成绩。"


@dataclass(frozen=True)
class ReviewSaved:
    """A saved review and what it did to its attempt."""

    review: Review
    released: bool  # this save reviewed the last written answer, so the results went out
    left: int  # written answers of the attempt that still have no review


def save_review(
    *, session: Session, actor: User | None, answer_id: int, score: float, embedder: Embedder,
    comment: str = "",
) -> ReviewSaved:
    """Score one answer (``review_answer``) and report whether that released the attempt's results."""
    review = review_answer(session=session, actor=actor, answer_id=answer_id, score=score,
                           embedder=embedder, comment=comment)
    answer = session.get(Answer, answer_id)
    attempt = session.get(Attempt, answer.attempt_id) if answer else None
    assert attempt is not None
    session.refresh(attempt)
    answers = answers_of(session=session, attempt_ids=[attempt.id or 0])
    written = [a for q in questions_of(attempt)
               if needs_review(q, a := answers.get((attempt.id or 0, q.slot_id))) and a is not None]
    reviewed = reviews_of(session=session, answer_ids=[a.id for a in written if a.id is not None])
    left = sum(1 for a in written if not reviewed.get(a.id or 0))
    return ReviewSaved(review, attempt.released_at is not None, left)
