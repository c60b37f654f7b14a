"""Reading sittings: an attempt's frozen questions, a person's sittings of a paper, saved answers, reviews."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session, col, select

from training.auth.permissions import PermissionDenied
from training.core.errors import UserError
from training.exams.papers import PaperQuestion
from training.models import Answer, Attempt, AttemptStatus, ExamAssignment, Review, User


class ExamError(UserError):
    """A user-facing problem while taking an exam."""


def questions_of(attempt: Attempt) -> list[PaperQuestion]:
    """The questions frozen into an attempt when it started."""
    return [PaperQuestion(**q) for q in attempt.questions or []]


def own_attempt(*, session: Session, user: User, attempt_id: int) -> Attempt:
    """The user's own attempt; anyone else's is refused."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise ExamError("考试记录不存在。")
    if attempt.user_id != user.id:
        raise PermissionDenied("不能查看他人的考试。")
    return attempt


def paper_sittings(*, session: Session, paper_id: int, user_id: int) -> list[Attempt]:
    """The user's attempts at a paper across all its assignments (cohort and retakes), oldest first."""
    return list(
        session.exec(
            select(Attempt)
            .join(ExamAssignment)
            .where(ExamAssignment.paper_id == paper_id, Attempt.user_id == user_id)
            .order_by(col(Attempt.started_at), col(Attempt.id))
        ).all()
    )


def submitted_attempts(*, session: Session, paper_id: int) -> list[Attempt]:
    """Every submitted attempt on a paper, oldest first."""
    return list(
        session.exec(
            select(Attempt)
            .join(ExamAssignment)
            .where(ExamAssignment.paper_id == paper_id, Attempt.status == AttemptStatus.SUBMITTED.value)
            .order_by(col(Attempt.id))
        ).all()
    )


def answers_of(*, session: Session, attempt_ids: list[int]) -> dict[tuple[int, int], Answer]:
    """Saved answers keyed by (attempt id, slot id)."""
    if not attempt_ids:
        return {}
    rows = session.exec(select(Answer).where(col(Answer.attempt_id).in_(attempt_ids))).all()
    return {(a.attempt_id, a.item_id): a for a in rows}


def reviews_of(*, session: Session, answer_ids: list[int]) -> dict[int, list[float]]:
    """Reviewer scores per answer id."""
    scores: dict[int, list[float]] = defaultdict(list)
    if answer_ids:
        for review in session.exec(select(Review).where(col(Review.answer_id).in_(answer_ids))).all():
            scores[review.answer_id].append(review.score)
    return scores
