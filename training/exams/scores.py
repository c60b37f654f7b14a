"""Scoring submitted attempts: scenario answers by their absolute score (建议分), blended with reviews."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlmodel import Session, col, select

from training.core.config import Settings, get_settings
from training.exams.papers import SCENARIO, PaperQuestion
from training.exams.review_stats import normalise_by_reviewer
from training.exams.sittings import answers_of, questions_of, reviews_of, submitted_attempts
from training.models import Answer, Attempt, ExamAssignment, MinedQuestion, Review, Script, ScriptVersion
from training.models.scripts import SCRIPT_APPROVED, approved_current_versions
from training.nlp.embeddings import Embedder
from training.ranking.absolute import Variant, bigram_overlap, suggest_scores
from training.ranking.lint_rules import lint_rules
from training.ranking.rank import ANSWER_PROMPT, ChatTurn, RankGroup

Progress = Callable[[float], None]
#: Answers embedded per progress step when releasing results.
WARM_CHUNK = 64


def scoring_formula(settings: Settings | None = None) -> str:
    """How a score is made, in words a trainer reads (reflects the configuration, names no setting)."""
    s = settings or get_settings()
    w = s.exam_review_weight
    return (
        f"情景题得分：有培训师评分时，培训师评分的平均值占 {w:.0%}，系统建议分占 {1 - w:.0%}；"
        "还没有培训师评分时，按系统建议分计。"
        "建议分只拿这份回答和本店已审定的话术、已评过分的回答比较，不和其他考生的回答比较，"
        "所以只有一位考生时也一样有效：看它与审定话术（含变体和旧版本）有多接近、覆盖了话术里的哪些要点、"
        "是否切中顾客的问题，再参考意思最相近的已评分回答得了多少分，最后扣除不当用语的分。"
        "本店已评分的回答足够多（30 条以上）时，建议分按本店培训师的评分习惯校准。"
        "这道题还没有审定话术、也没有已评分的回答时，建议分只看回答是否切中顾客的问题，仅供参考，请尽量评阅。"
        "知识题自动判分：答对得满分，答错不得分。试卷得分是各题得分按分值加权的平均。"
        "培训师评分所占比例由系统管理员统一设置。"
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


def approved_variants(*, session: Session, mined_question_id: int | None) -> list[Variant]:
    """Every approved wording of a mined question's reply: the current script first, other variants,
    then older approved versions (the yardsticks of the absolute score)."""
    question = session.get(MinedQuestion, mined_question_id) if mined_question_id else None
    if question is None:
        return []
    mine = (col(Script.mined_question_id) == question.id) | (col(Script.id) == question.covered_by_script_id)
    rows = session.exec(approved_current_versions().where(mine)).all()
    rows = sorted(rows, key=lambda r: (r[0].id != question.covered_by_script_id, r[0].id or 0))
    out = [Variant(v.answer, "现行话术" if s.id == question.covered_by_script_id
                   else f"变体「{s.variant}」" if s.variant else "另一条审定话术") for s, v in rows]
    older = session.exec(select(ScriptVersion).where(
        col(ScriptVersion.script_id).in_([s.id for s, _ in rows]),
        col(ScriptVersion.status) == SCRIPT_APPROVED).order_by(col(ScriptVersion.version).desc())).all()
    current = {(s.id, s.current_version) for s, _ in rows}
    seen = {v.text for v in out}
    for version in older:
        if (version.script_id, version.version) not in current and version.answer not in seen:
            seen.add(version.answer)
            out.append(Variant(version.answer, f"旧版本（第 {version.version} 版）"))
    return out


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
    """Score every question of ``targets``; scenario answers get their absolute score (建议分).

    The suggestion of an answer never depends on another candidate's unreviewed answer: it reads
    the question's approved wordings and the answers to it reviewed so far (their scores weighted
    by similarity; an answer's own reviews never count for its suggestion), see
    ``training.ranking.absolute``. Reviewed answers blend the reviewers' mean in as before.
    """
    if not targets:
        return
    peers = submitted_attempts(session=session, paper_id=_paper_id(session, targets[0]))
    by_id = {a.id: a for a in [*peers, *targets]}
    answers = answers_of(session=session, attempt_ids=[i for i in by_id if i is not None])
    reviews = reviews_of(session=session, answer_ids=[a.id for a in answers.values() if a.id is not None])
    groups = scenario_groups(list(by_id.values()), answers)
    keys = list(groups)
    variants = {k: approved_variants(session=session, mined_question_id=groups[k][0][0].mined_question_id)
                for k in keys}
    semantic: dict[int, tuple[float, list[str]]] = {}
    if keys and embedder is not None:
        _warm_cache(embedder, [a.text for key in keys for _, a in groups[key] if a is not None], progress)
        graded = _normalised_reviews(session, [a.id for a in answers.values() if a.id is not None])
        rank_groups = [rank_group(session=session, group=groups[key],
                                  reviews=[graded.get(a.id or 0) if a else None for _, a in groups[key]])
                       for key in keys]
        suggested = suggest_scores(rank_groups, embedder=embedder, rules=lint_rules(session=session),
                                   variants=[variants[k] for k in keys], show_progress=True)
        for key, row in zip(keys, suggested, strict=True):
            for (_, answer), suggestion in zip(groups[key], row, strict=True):
                if answer is not None and answer.id is not None and suggestion is not None:
                    # Stored reasons reach the candidate: other answers only by count and mean.
                    semantic[answer.id] = (suggestion.score, suggestion.candidate_reasons)
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
                    key = f"m{question.mined_question_id}" if question.mined_question_id else question.prompt
                    sem, reasons = (semantic.get(answer.id or 0)
                                    or _without_encoder(answer.text, variants.get(key)))
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


def _normalised_reviews(session: Session, answer_ids: list[int]) -> dict[int, list[float]]:
    """Reviewer scores per answer after per-reviewer normalisation over the paper (as 逐题评阅 shows)."""
    if not answer_ids:
        return {}
    rows = session.exec(select(Review).where(col(Review.answer_id).in_(answer_ids))).all()
    out: dict[int, list[float]] = defaultdict(list)
    for (answer_id, _), score in normalise_by_reviewer(
            {(r.answer_id, r.reviewer_id): r.score for r in rows}).items():
        out[answer_id].append(score)
    return out


def _without_encoder(text: str, variants: list[Variant] | None) -> tuple[float, list[str]]:
    """The suggestion when the encoder is unavailable: wording overlap with the closest approved script."""
    if not variants:
        return 0.0, ["无法计算建议分（没有审定话术，语义模型不可用），此题需培训师评分。"]
    best = max(variants, key=lambda v: bigram_overlap(text, v.text))
    return bigram_overlap(text, best.text), [
        f"语义模型不可用，建议分按与{best.label}的字面重合程度计算，请培训师评分确认。"]


def _warm_cache(embedder: Embedder, texts: list[str], progress: Progress | None) -> None:
    """Embed the answers in chunks to report progress; ranking then reads them from the cache."""
    if progress is None or embedder.store is None:
        return  # without a persistent cache this would embed everything twice
    unique = list(dict.fromkeys(t for t in texts if t.strip()))
    for start in range(0, len(unique), WARM_CHUNK):
        embedder.embed(unique[start:start + WARM_CHUNK], prompt=ANSWER_PROMPT)
        progress(min(1.0, (start + WARM_CHUNK) / len(unique)))
