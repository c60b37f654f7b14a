"""Grading submitted attempts: reviews, semantic scores of scenario answers, releasing results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.certification.programmes import evaluate_certificates
from training.core.config import Settings, get_settings
from training.core.errors import UserError
from training.exams.attempts import IN_PROGRESS, SUBMITTED, expire_overdue, questions_of
from training.exams.papers import SCENARIO, PaperQuestion
from training.models import (
    Answer,
    Attempt,
    ExamAssignment,
    ExamPaper,
    MinedQuestion,
    Review,
    Script,
    ScriptVersion,
    User,
    utcnow,
)
from training.nlp.embeddings import Embedder
from training.ranking.lint_rules import lint_rules
from training.ranking.rank import ChatTurn, RankGroup, RankWeights, rank_answers

Progress = Callable[[float], None]
#: Answers embedded per progress step when releasing results.
WARM_CHUNK = 64


class GradingError(UserError):
    """A user-facing problem while reviewing or releasing results."""


def scoring_formula(settings: Settings | None = None) -> str:
    """How a score is made, in words a trainer reads (reflects the configuration, names no setting)."""
    s = settings or get_settings()
    w = s.exam_review_weight
    signals = {"是否切中顾客的问题": s.rank_weight_relevance,
               "与其他客服回答的一致程度": s.rank_weight_agreement,
               "与现行话术的接近程度": s.rank_weight_reference}
    total = sum(signals.values()) or 1.0
    shares = "、".join(f"{name}（约占 {weight / total:.0%}）" for name, weight in signals.items())
    return (
        f"情景题得分：有培训师评分时，培训师评分的平均值占 {w:.0%}，系统自动评分占 {1 - w:.0%}；"
        "还没有培训师评分时，完全按系统自动评分。"
        f"系统自动评分比较同一题所有考生的回答，看这份回答排在什么位置，依据是{shares}。"
        "知识题自动判分：答对得满分，答错不得分。试卷得分是各题得分按分值加权的平均。"
        "以上比例由系统管理员统一设置。"
    )


def _paper_id(session: Session, attempt: Attempt) -> int:
    assignment = session.get(ExamAssignment, attempt.assignment_id)
    assert assignment is not None
    return assignment.paper_id


def submitted_attempts(session: Session, paper_id: int) -> list[Attempt]:
    """Every submitted attempt on a paper, oldest first."""
    return list(
        session.exec(
            select(Attempt)
            .join(ExamAssignment)
            .where(ExamAssignment.paper_id == paper_id, Attempt.status == SUBMITTED)
            .order_by(col(Attempt.id))
        ).all()
    )


def answers_of(session: Session, attempt_ids: list[int]) -> dict[tuple[int, int], Answer]:
    """Saved answers keyed by (attempt id, slot id)."""
    if not attempt_ids:
        return {}
    rows = session.exec(select(Answer).where(col(Answer.attempt_id).in_(attempt_ids))).all()
    return {(a.attempt_id, a.item_id): a for a in rows}


def reviews_of(session: Session, answer_ids: list[int]) -> dict[int, list[float]]:
    """Reviewer scores per answer id."""
    scores: dict[int, list[float]] = defaultdict(list)
    if answer_ids:
        for review in session.exec(select(Review).where(col(Review.answer_id).in_(answer_ids))).all():
            scores[review.answer_id].append(review.score)
    return scores


def approved_script(session: Session, mined_question_id: int | None) -> str | None:
    """The current text of the approved script covering a mined question, if any."""
    question = session.get(MinedQuestion, mined_question_id) if mined_question_id else None
    script = (
        session.get(Script, question.covered_by_script_id)
        if question and question.covered_by_script_id
        else None
    )
    if script is None or script.status != "approved":
        return None
    version = session.exec(
        select(ScriptVersion).where(
            ScriptVersion.script_id == script.id, ScriptVersion.version == script.current_version
        )
    ).first()
    return version.answer if version else None


#: A scenario question and every candidate's saved answer to it (None: not answered).
ScenarioGroup = list[tuple[PaperQuestion, Answer | None]]


def scenario_groups(
    attempts: list[Attempt], answers: dict[tuple[int, int], Answer],
) -> dict[str, ScenarioGroup]:
    """Group the attempts' scenario answers by customer question (one ranking group each).

    Random draws give candidates different slots for the same mined question, so the key is
    the mined question (or the prompt for a hand-written one), not the slot.
    """
    groups: dict[str, ScenarioGroup] = defaultdict(list)
    for attempt in attempts:
        for question in questions_of(attempt):
            if question.kind == SCENARIO:
                key = f"m{question.mined_question_id}" if question.mined_question_id else question.prompt
                groups[key].append((question, answers.get((attempt.id or 0, question.slot_id))))
    return groups


def rank_group(
    session: Session, group: ScenarioGroup, reviews: list[list[float] | None] | None = None,
) -> RankGroup:
    """The ranking input of one scenario group: its customer turn, answers and current script."""
    first = group[0][0]
    return RankGroup(
        question=first.prompt,
        answers=[a.text if a else "" for _, a in group],
        context=[ChatTurn(t.get("role", ""), t.get("text", "")) for t in first.context],
        reference=approved_script(session, first.mined_question_id),
        reviews=reviews,
    )


def needs_review(question: PaperQuestion, answer: Answer | None) -> bool:
    """A written scenario answer: only trainers can judge it (blank ones score 0)."""
    return question.kind == SCENARIO and answer is not None and bool(answer.text.strip())


def _score(
    session: Session, targets: list[Attempt], embedder: Embedder | None, settings: Settings,
    progress: Progress | None = None,
) -> None:
    """Score every question of ``targets``; scenario answers are ranked against all submissions."""
    if not targets:
        return
    peers = submitted_attempts(session, _paper_id(session, targets[0]))
    by_id = {a.id: a for a in [*peers, *targets]}
    answers = answers_of(session, [i for i in by_id if i is not None])
    reviews = reviews_of(session, [a.id for a in answers.values() if a.id is not None])
    groups = scenario_groups(list(by_id.values()), answers)
    keys = list(groups)
    semantic: dict[int, tuple[float, list[str]]] = {}
    if keys and embedder is not None:
        _warm_cache(embedder, [a.text for key in keys for _, a in groups[key] if a is not None], progress)
        rank_groups = [rank_group(session, groups[key]) for key in keys]
        weights = RankWeights.from_settings(settings)
        for key, scores in zip(
            keys,
            rank_answers(rank_groups, embedder=embedder, weights=weights, rules=lint_rules(session=session),
                         show_progress=True),
            strict=True,
        ):
            for (_, answer), result in zip(groups[key], scores, strict=True):
                if answer is not None and answer.id is not None:
                    semantic[answer.id] = (result.score, result.reasons)
    for attempt in targets:
        total = earned = 0.0
        for question in questions_of(attempt):
            answer = answers.get((attempt.id or 0, question.slot_id))
            total += question.points
            if answer is None:
                continue
            if question.kind == SCENARIO:
                if not answer.text.strip():
                    answer.score, answer.score_detail = 0.0, {"reasons": ["空白回答，得分为 0。"]}
                else:
                    unscored = (0.5, ["未计算系统自动评分（按中等水平 0.5 计）。"])
                    sem, reasons = semantic.get(answer.id or 0, unscored)
                    mine = reviews.get(answer.id or 0)
                    review = sum(mine) / len(mine) if mine else None
                    w = settings.exam_review_weight
                    answer.score = w * review + (1 - w) * sem if review is not None else sem
                    answer.score_detail = {
                        "semantic": round(sem, 4),
                        "review": review,
                        "reviews": len(mine or []),
                        "reasons": reasons,
                    }
                session.add(answer)
            earned += question.points * (answer.score or 0.0)
        attempt.score = earned / total if total else 0.0
        session.add(attempt)


def _warm_cache(embedder: Embedder, texts: list[str], progress: Progress | None) -> None:
    """Embed the answers in chunks to report progress; ranking then reads them from the cache."""
    if progress is None or embedder.store is None:
        return  # without a persistent cache this would embed everything twice
    unique = list(dict.fromkeys(t for t in texts if t.strip()))
    for start in range(0, len(unique), WARM_CHUNK):
        embedder.embed(unique[start:start + WARM_CHUNK])
        progress(min(1.0, (start + WARM_CHUNK) / len(unique)))


def _release(
    session: Session, attempts: list[Attempt], embedder: Embedder | None, progress: Progress | None = None,
) -> None:
    _score(session, attempts, embedder, get_settings(), progress)
    now = utcnow()
    for attempt in attempts:
        attempt.released_at = now
        session.add(attempt)
    session.commit()
    for user_id in sorted({a.user_id for a in attempts}):
        evaluate_certificates(session, user_id, now=now)


def finalize_if_complete(session: Session, attempt: Attempt, embedder: Embedder | None = None) -> bool:
    """Release a submitted attempt once every answered scenario question has a review.

    Papers with only objective items are final at submission. Returns True if released now.
    """
    if attempt.status != SUBMITTED or attempt.released_at is not None:
        return False
    questions = questions_of(attempt)
    answers = answers_of(session, [attempt.id or 0])
    pending = [a for q in questions if needs_review(q, a := answers.get((attempt.id or 0, q.slot_id)))]
    reviewed = reviews_of(session, [a.id for a in pending if a is not None and a.id is not None])
    if any(a is not None and not reviewed.get(a.id or 0) for a in pending):
        return False
    if pending and embedder is None:
        return False  # scenario answers need the encoder; the review or release call brings it
    _release(session, [attempt], embedder)
    return True


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
    if attempt.status != SUBMITTED:
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
        finalize_if_complete(session, attempt, embedder)
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
    expire_overdue(session)
    attempts = list(
        session.exec(
            select(Attempt)
            .join(ExamAssignment)
            .where(
                ExamAssignment.paper_id == paper_id,
                Attempt.status == SUBMITTED,
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
    _release(session, attempts, embedder, progress)
    return len(attempts)


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
    released = sum(1 for status, at in statuses if status == SUBMITTED and at is not None)
    sitting = sum(1 for status, _ in statuses if status == IN_PROGRESS)
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
    answers = answers_of(session, [attempt.id or 0])
    written = [a for q in questions_of(attempt)
               if needs_review(q, a := answers.get((attempt.id or 0, q.slot_id))) and a is not None]
    reviewed = reviews_of(session, [a.id for a in written if a.id is not None])
    left = sum(1 for a in written if not reviewed.get(a.id or 0))
    return ReviewSaved(review, attempt.released_at is not None, left)
