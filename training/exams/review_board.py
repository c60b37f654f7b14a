"""Reviewing by question: every answer to one customer turn ranked on one screen, blind."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import cast

from sqlmodel import Session, col, select

from training.auth.permissions import STAFF, require_role
from training.core.config import get_settings
from training.exams.grading import GradingError, review_answer
from training.exams.review_stats import disagreements, krippendorff_alpha, normalise_by_reviewer
from training.exams.rubrics import get_rubric, rubric_score
from training.exams.scores import (
    ScenarioGroup,
    approved_script,
    approved_variants,
    rank_group,
    scenario_groups,
)
from training.exams.sittings import answers_of, submitted_attempts
from training.models import Answer, Category, ExamPaper, MinedQuestion, Review, User
from training.nlp.embeddings import Embedder
from training.ranking.absolute import Variant, suggest_scores
from training.ranking.lint import LintFinding
from training.ranking.lint_rules import lint_rules
from training.ranking.rank import RankGroup, RankWeights
from training.ranking.scoring import ScoredBatch, score_answers


@dataclass(frozen=True)
class QuestionSlot:
    """One customer question of a paper with how far its answers are reviewed."""

    key: str
    prompt: str
    context: list[dict[str, str]]
    mined_question_id: int | None
    answers: int
    reviewed: int
    category: str = Category.OTHER.value


@dataclass(frozen=True)
class BlindAnswer:
    """An answer as the reviewer sees it: no author, a stable label, its ranking breakdown."""

    label: str
    answer_id: int
    text: str
    score: float
    signals: dict[str, float]
    reasons: list[str]
    findings: list[LintFinding]
    highlight: bool
    reviews: int
    review_mean: float | None
    my_levels: dict[str, int] = field(default_factory=dict)
    my_failed: list[str] = field(default_factory=list)
    my_comment: str = ""
    locked: bool = False
    suggestion: float | None = None
    suggestion_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QuestionRanking:
    """The answers to one question, best first, and the script that covers it now."""

    slot: QuestionSlot
    reference: str | None
    answers: list[BlindAnswer]


def _paper(session: Session, actor: User | None, paper_id: int) -> tuple[User, ExamPaper]:
    user = require_role(actor, *STAFF)
    paper = session.get(ExamPaper, paper_id)
    if paper is None:
        raise GradingError("试卷不存在。")
    return user, paper


def _groups(session: Session, paper_id: int) -> tuple[dict[str, ScenarioGroup], dict[int, bool]]:
    """Written answers per question of every submitted attempt, and which answers are released."""
    attempts = submitted_attempts(session=session, paper_id=paper_id)
    answers = answers_of(session=session, attempt_ids=[a.id for a in attempts if a.id is not None])
    done = {a.id for a in attempts if a.released_at is not None}
    released = {a.id: a.attempt_id in done for a in answers.values() if a.id is not None}
    groups: dict[str, ScenarioGroup] = {
        key: [(q, a) for q, a in entries if a is not None and a.text.strip()]
        for key, entries in scenario_groups(attempts, answers).items()
    }
    return {k: v for k, v in groups.items() if v}, released


def _category(session: Session, mined_question_id: int | None) -> str:
    mined = session.get(MinedQuestion, mined_question_id) if mined_question_id else None
    return mined.category if mined is not None else Category.OTHER.value


def _reviews(session: Session, answer_ids: list[int]) -> list[Review]:
    if not answer_ids:
        return []
    return list(session.exec(select(Review).where(col(Review.answer_id).in_(answer_ids))).all())


def paper_questions(*, session: Session, actor: User | None, paper_id: int) -> list[QuestionSlot]:
    """The scenario questions of a paper that have written answers (trainers and admins)."""
    _paper(session, actor, paper_id)
    groups, _ = _groups(session, paper_id)
    reviewed = {r.answer_id for r in _reviews(
        session, [a.id for g in groups.values() for _, a in g if a is not None and a.id is not None])}
    slots = []
    for key, entries in groups.items():
        first = entries[0][0]
        done = sum(1 for _, a in entries if a is not None and a.id in reviewed)
        slots.append(QuestionSlot(key, first.prompt, list(first.context), first.mined_question_id,
                                  len(entries), done, _category(session, first.mined_question_id)))
    return slots


def rank_question(
    *, session: Session, actor: User | None, paper_id: int, key: str, embedder: Embedder,
) -> QuestionRanking:
    """Every written answer to one question, ranked with reasons; authors hidden.

    Reviews feed the ranking after per-reviewer normalisation over the whole paper, so a harsh
    and a lenient reviewer who agree in order count as agreeing. Labels follow the answers'
    save order, so they stay put while scores change.
    """
    user, _ = _paper(session, actor, paper_id)
    groups, released = _groups(session, paper_id)
    if key not in groups:
        raise GradingError("这道题还没有书面回答。")
    entries = groups[key]
    all_ids = [a.id for g in groups.values() for _, a in g if a is not None and a.id is not None]
    reviews = _reviews(session, all_ids)
    normalised = normalise_by_reviewer({(r.answer_id, r.reviewer_id): r.score for r in reviews})
    per_answer: dict[int, list[float]] = {}
    for (answer_id, _), score in normalised.items():
        per_answer.setdefault(answer_id, []).append(score)
    ids = [a.id or 0 if a is not None else 0 for _, a in entries]
    scored = _score_paper(session, groups, per_answer, embedder)
    keys = list(groups)
    scores, suggestions = scored.scores[keys.index(key)], scored.suggestions[keys.index(key)]
    mine = {r.answer_id: r for r in reviews if r.reviewer_id == user.id}
    raw: dict[int, list[float]] = {}
    for r in reviews:
        raw.setdefault(r.answer_id, []).append(r.score)
    labels = {answer_id: f"回答 {n}" for n, answer_id in enumerate(sorted(ids), start=1)}
    blind = []
    for answer_id, (_, answer), result, suggested in zip(ids, entries, scores, suggestions, strict=True):
        assert answer is not None
        review = mine.get(answer_id)
        levels = {k: int(round(v)) for k, v in (review.rubric or {}).items()} if review else {}
        blind.append(BlindAnswer(
            labels[answer_id], answer_id, answer.text, result.score, result.signals, result.reasons,
            result.findings, result.highlight, len(raw.get(answer_id, [])),
            sum(raw[answer_id]) / len(raw[answer_id]) if raw.get(answer_id) else None,
            levels, list(review.auto_fail or []) if review else [], review.comment if review else "",
            released.get(answer_id, False),
            suggested.score if suggested is not None else None,
            list(suggested.reasons) if suggested is not None else [],
        ))
    blind.sort(key=lambda b: (-b.score, b.answer_id))
    first = entries[0][0]
    slot = QuestionSlot(key, first.prompt, list(first.context), first.mined_question_id, len(entries),
                        sum(1 for i in ids if raw.get(i)), _category(session, first.mined_question_id))
    script = approved_script(session=session, mined_question_id=first.mined_question_id)
    return QuestionRanking(slot, script, blind)


def _batch(session: Session, groups: dict[str, ScenarioGroup], reviews: dict[int, list[float]],
           ) -> tuple[list[RankGroup], list[list[Variant]]]:
    """The paper's questions as one batch with each question's approved wordings."""
    batch = [rank_group(session=session, group=group,
                        reviews=[reviews.get(a.id or 0) if a else None for _, a in group])
             for group in groups.values()]
    variants = [approved_variants(session=session, mined_question_id=group[0][0].mined_question_id)
                for group in groups.values()]
    return batch, variants


def _score_paper(session: Session, groups: dict[str, ScenarioGroup], reviews: dict[int, list[float]],
                 embedder: Embedder) -> ScoredBatch:
    """Every question of the paper scored as one batch, as when grading (the ranking's lexical
    IDF spans every question; the shop's calibration reads every reviewed answer of the paper)."""
    batch, variants = _batch(session, groups, reviews)
    return score_answers(batch, embedder=embedder, weights=RankWeights.from_settings(get_settings()),
                         rules=lint_rules(session=session), variants=variants)


def suggestion_gaps(*, session: Session, paper_id: int, embedder: Embedder) -> list[tuple[float, float]]:
    """``(suggestion, reviewers' raw mean)`` of every reviewed answer of a paper.

    Each answer's suggestion leaves its own reviews out, so this is how far reviewers land from
    what the system would have suggested before they scored.
    """
    groups, _ = _groups(session, paper_id)
    ids = [a.id for g in groups.values() for _, a in g if a is not None and a.id is not None]
    reviews = _reviews(session, ids)
    raw: dict[int, list[float]] = {}
    for r in reviews:
        raw.setdefault(r.answer_id, []).append(r.score)
    if not raw:
        return []
    normalised: dict[int, list[float]] = {}
    for (answer_id, _), score in normalise_by_reviewer(
            {(r.answer_id, r.reviewer_id): r.score for r in reviews}).items():
        normalised.setdefault(answer_id, []).append(score)
    batch, variants = _batch(session, groups, normalised)
    suggested = suggest_scores(batch, embedder=embedder, rules=lint_rules(session=session), variants=variants)
    return [(s.score, sum(raw[a.id]) / len(raw[a.id]))
            for group, row in zip(groups.values(), suggested, strict=True)
            for (_, a), s in zip(group, row, strict=True)
            if s is not None and a is not None and a.id in raw]


def review_with_rubric(
    *, session: Session, actor: User | None, answer_id: int, levels: dict[str, int], failed: list[str],
    embedder: Embedder, rubric_id: int | None = None, comment: str = "",
) -> Review:
    """Score an answer on the rubric (0–4 per criterion, auto-fail items) and store the review.

    Panel reviews never release results on their own: several trainers may score the same
    answer, and a grade may be changed, until the trainer releases results on 考试与认证.
    """
    require_role(actor, *STAFF)
    rubric = get_rubric(session=session, rubric_id=rubric_id)
    score = rubric_score(rubric, levels, failed)
    return review_answer(session=session, actor=actor, answer_id=answer_id, score=score, embedder=embedder,
                         comment=comment, rubric={k: float(v) for k, v in levels.items()},
                         rubric_id=rubric.id, auto_fail=list(failed) or None, finalize=False)


@dataclass(frozen=True)
class ReviewerStat:
    """One reviewer's volume and scale on a paper."""

    name: str
    reviews: int
    mean: float
    spread: float


@dataclass(frozen=True)
class SplitAnswer:
    """An answer reviewers scored far apart."""

    question: str
    text: str
    spread: float
    scores: dict[str, float]


@dataclass(frozen=True)
class Calibration:
    """How well the paper's reviewers agree, before and after per-reviewer normalisation."""

    alpha: float | None
    alpha_normalised: float | None
    double_reviewed: int
    reviewers: list[ReviewerStat]
    splits: list[SplitAnswer]
    suggestion_gap: float | None = None
    suggestion_count: int = 0


def calibration(
    *, session: Session, actor: User | None, paper_id: int, limit: int = 10, embedder: Embedder | None = None,
) -> Calibration:
    """Krippendorff's alpha of the reviewers, the answers they disagree on most (trainers and admins)
    and, given the encoder, the mean absolute difference between reviewers' means and the 建议分."""
    _paper(session, actor, paper_id)
    groups, _ = _groups(session, paper_id)
    answers: dict[int, tuple[str, Answer]] = {
        a.id: (q.prompt, a) for g in groups.values() for q, a in g if a is not None and a.id is not None
    }
    reviews = _reviews(session, list(answers))
    scores = {(r.answer_id, r.reviewer_id): r.score for r in reviews}
    names = {u.id: u.display_name for u in session.exec(
        select(User).where(col(User.id).in_({r.reviewer_id for r in reviews}))).all()}
    by_reviewer: dict[int, list[float]] = {}
    for r in reviews:
        by_reviewer.setdefault(r.reviewer_id, []).append(r.score)
    stats = [ReviewerStat(names.get(rid, "?"), len(v), sum(v) / len(v),
                          (max(v) - min(v)) if len(v) > 1 else 0.0) for rid, v in by_reviewer.items()]
    splits = []
    for d in disagreements(scores, limit=limit):
        prompt, answer = answers[cast(int, d.answer)]
        splits.append(SplitAnswer(prompt, answer.text, d.spread,
                                  {names.get(cast(int, k), "?"): v for k, v in d.scores.items()}))
    double = sum(1 for n in Counter(a for a, _ in scores).values() if n >= 2)
    gaps = suggestion_gaps(session=session, paper_id=paper_id, embedder=embedder) if embedder else []
    return Calibration(krippendorff_alpha(scores), krippendorff_alpha(normalise_by_reviewer(scores)), double,
                       sorted(stats, key=lambda s: -s.reviews), splits,
                       sum(abs(s - r) for s, r in gaps) / len(gaps) if gaps else None, len(gaps))
