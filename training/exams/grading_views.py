"""Trainers' read-outs of grading: results per paper and the answers awaiting review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from training.auth.permissions import STAFF, require_role
from training.exams.grading import GradingError
from training.exams.scores import needs_review
from training.exams.sittings import answers_of, questions_of, reviews_of
from training.exams.submission import expire_overdue
from training.models import (
    Attempt,
    ExamAssignment,
    ExamPaper,
    Review,
    User,
)


@dataclass(frozen=True)
class ResultRow:
    """One submitted (or running) attempt as the trainer's result table shows it."""

    attempt_id: int
    user_id: int
    display_name: str
    number: int
    status: str
    submitted_at: datetime | None
    auto_submitted: bool
    score: float | None
    released: bool
    passed: bool | None
    reviewed: int
    to_review: int


def paper_results(*, session: Session, actor: User | None, paper_id: int) -> list[ResultRow]:
    """Every attempt on a paper with status, score and review progress (staff only)."""
    require_role(actor, *STAFF)
    expire_overdue(session=session)
    paper = session.get(ExamPaper, paper_id)
    if paper is None:
        raise GradingError("试卷不存在。")
    attempts = list(
        session.exec(
            select(Attempt)
            .join(ExamAssignment)
            .where(ExamAssignment.paper_id == paper_id)
            .order_by(col(Attempt.id))
        ).all()
    )
    answers = answers_of(session=session, attempt_ids=[a.id for a in attempts if a.id is not None])
    reviews = reviews_of(session=session, answer_ids=[a.id for a in answers.values() if a.id is not None])
    rows = []
    for attempt in attempts:
        user = session.get(User, attempt.user_id)
        pending = [
            a
            for q in questions_of(attempt)
            if needs_review(q, a := answers.get((attempt.id or 0, q.slot_id)))
        ]
        done = sum(1 for a in pending if a is not None and reviews.get(a.id or 0))
        released = attempt.released_at is not None
        rows.append(
            ResultRow(
                attempt.id or 0,
                attempt.user_id,
                user.display_name if user else "?",
                attempt.number,
                attempt.status,
                attempt.submitted_at,
                attempt.auto_submitted,
                attempt.score if released else None,
                released,
                (attempt.score or 0.0) >= paper.pass_mark if released else None,
                done,
                len(pending),
            )
        )
    return rows


@dataclass(frozen=True)
class ReviewTarget:
    """A non-blank scenario answer a trainer scores, with the acting trainer's own review so far."""

    answer_id: int
    slot_id: int
    my_score: float | None
    my_comment: str


def review_targets(*, session: Session, actor: User | None, attempt_id: int) -> list[ReviewTarget]:
    """The attempt's answers that take a trainer's review, in question order (staff only, read-only)."""
    reviewer = require_role(actor, *STAFF)
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise GradingError("考试记录不存在。")
    answers = answers_of(session=session, attempt_ids=[attempt_id])
    targets = []
    for question in questions_of(attempt):
        answer = answers.get((attempt_id, question.slot_id))
        if answer is None or answer.id is None or not needs_review(question, answer):
            continue
        mine = session.exec(
            select(Review).where(Review.answer_id == answer.id, Review.reviewer_id == reviewer.id)
        ).first()
        targets.append(
            ReviewTarget(
                answer.id, question.slot_id, mine.score if mine else None, mine.comment if mine else ""
            )
        )
    return targets
