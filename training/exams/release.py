"""Releasing results: final scores, the release stamp, and the certificates the results earn."""

from __future__ import annotations

from sqlmodel import Session

from training.certification.certificates import evaluate_certificates
from training.core.config import get_settings
from training.exams.scores import Progress, needs_review, score_attempts
from training.exams.sitting_figures import file_sittings
from training.exams.sittings import answers_of, questions_of, reviews_of
from training.models import Attempt, AttemptStatus, utcnow
from training.nlp.embeddings import Embedder


def release_attempts(
    *, session: Session, attempts: list[Attempt], embedder: Embedder | None, progress: Progress | None = None,
) -> None:
    """Score the attempts, stamp them released and issue the certificates their results earn; commits.

    The dashboards' per-sitting figures (``sitting_figures``) are filed in the same transaction
    as the scores and the release stamp.
    """
    score_attempts(session=session, targets=attempts, embedder=embedder, settings=get_settings(),
                   progress=progress)
    now = utcnow()
    for attempt in attempts:
        attempt.released_at = now
        session.add(attempt)
    file_sittings(session=session, attempts=attempts)
    session.commit()
    for user_id in sorted({a.user_id for a in attempts}):
        evaluate_certificates(session=session, user_id=user_id, now=now)


def finalize_if_complete(*, session: Session, attempt: Attempt, embedder: Embedder | None = None) -> bool:
    """Release a submitted attempt once every answered scenario question has a review.

    Papers with only objective items are final at submission. Returns True if released now.
    """
    if attempt.status != AttemptStatus.SUBMITTED or attempt.released_at is not None:
        return False
    questions = questions_of(attempt)
    answers = answers_of(session=session, attempt_ids=[attempt.id or 0])
    pending = [a for q in questions if needs_review(q, a := answers.get((attempt.id or 0, q.slot_id)))]
    reviewed = reviews_of(session=session,
                          answer_ids=[a.id for a in pending if a is not None and a.id is not None])
    if any(a is not None and not reviewed.get(a.id or 0) for a in pending):
        return False
    if pending and embedder is None:
        return False  # scenario answers need the encoder; the review or release call brings it
    release_attempts(session=session, attempts=[attempt], embedder=embedder)
    return True
