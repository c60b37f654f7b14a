"""Scoring submitted attempts: scenario answers ranked against every submission, blended with reviews."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlmodel import Session, col

from training.core.config import Settings, get_settings
from training.exams.papers import SCENARIO, PaperQuestion
from training.exams.sittings import answers_of, questions_of, reviews_of, submitted_attempts
from training.models import Answer, Attempt, ExamAssignment, MinedQuestion, Script
from training.models.scripts import approved_current_versions
from training.nlp.embeddings import Embedder
from training.ranking.lint_rules import lint_rules
from training.ranking.rank import ChatTurn, RankGroup, RankWeights, rank_answers

Progress = Callable[[float], None]
#: Answers embedded per progress step when releasing results.
WARM_CHUNK = 64


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


def approved_script(*, session: Session, mined_question_id: int | None) -> str | None:
    """The current text of the approved script covering a mined question, if any."""
    question = session.get(MinedQuestion, mined_question_id) if mined_question_id else None
    if question is None or not question.covered_by_script_id:
        return None
    row = session.exec(
        approved_current_versions().where(col(Script.id) == question.covered_by_script_id)).first()
    return row[1].answer if row else None


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
    *, session: Session, group: ScenarioGroup, reviews: list[list[float] | None] | None = None,
) -> RankGroup:
    """The ranking input of one scenario group: its customer turn, answers and current script."""
    first = group[0][0]
    return RankGroup(
        question=first.prompt,
        answers=[a.text if a else "" for _, a in group],
        context=[ChatTurn(t.get("role", ""), t.get("text", "")) for t in first.context],
        reference=approved_script(session=session, mined_question_id=first.mined_question_id),
        reviews=reviews,
    )


def needs_review(question: PaperQuestion, answer: Answer | None) -> bool:
    """A written scenario answer: only trainers can judge it (blank ones score 0)."""
    return question.kind == SCENARIO and answer is not None and bool(answer.text.strip())


def score_attempts(
    *, session: Session, targets: list[Attempt], embedder: Embedder | None, settings: Settings,
    progress: Progress | None = None,
) -> None:
    """Score every question of ``targets``; scenario answers are ranked against all submissions."""
    if not targets:
        return
    peers = submitted_attempts(session=session, paper_id=_paper_id(session, targets[0]))
    by_id = {a.id: a for a in [*peers, *targets]}
    answers = answers_of(session=session, attempt_ids=[i for i in by_id if i is not None])
    reviews = reviews_of(session=session, answer_ids=[a.id for a in answers.values() if a.id is not None])
    groups = scenario_groups(list(by_id.values()), answers)
    keys = list(groups)
    semantic: dict[int, tuple[float, list[str]]] = {}
    if keys and embedder is not None:
        _warm_cache(embedder, [a.text for key in keys for _, a in groups[key] if a is not None], progress)
        rank_groups = [rank_group(session=session, group=groups[key]) for key in keys]
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
