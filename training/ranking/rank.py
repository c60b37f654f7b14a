"""Ranking agents' answers to one customer turn: relevance, agreement, reference, reviews, lint.

The formula was chosen on bench/rank_search.py (ECD Taobao, JDDC 2019, JDDC 2018 dev halves):
- relevance = 0.7 x semantic + 0.3 x lexical standing. Semantic = mean standing of the answer's
  cosine (e5 "passage: ") to the question with its last 1 and last 3 context turns ("query: ");
  lexical = char-bigram TF-IDF cosine to the question with all its context, BM25 IDF fitted
  over the whole batch (every group of one ``rank_answers`` call: a CLI file, an exam paper),
  so scores depend on the batch they are ranked in;
- agreement = nearest other answer after removing the group centroid, times that answer's
  relevance (plain mean cosine rewarded generic replies: ECD R10@1 0.06, below random);
- final = weighted mean of the signals present - lint penalties, clipped to [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from training.core.config import Settings
from training.nlp.embeddings import Embedder, Vectors
from training.ranking.fusion import Fusion, fusion_of
from training.ranking.lint import DEFAULT_RULES, LintFinding, LintRule, lint_answer
from training.ranking.signals import BigramIdf, centred_agreement, lexical_relevance, standing

#: Context turns before the question for the two semantic relevance views.
CONTEXT_TURNS = (1, 3)
#: Share of the lexical (char-bigram) view in relevance.
LEXICAL_SHARE = 0.3
#: Mean reviewer score from which an answer the crowd disagrees with is a 亮点.
HIGHLIGHT_REVIEW = 0.8
#: Agreement standing at or below which an answer "differs from the crowd".
HIGHLIGHT_AGREEMENT = 0.35
ANSWER_PROMPT = "passage"


@dataclass(frozen=True)
class ChatTurn:
    """One line of chat context."""

    role: str
    text: str


@dataclass(frozen=True)
class RankGroup:
    """One exam question (a customer turn in its context) and every agent's answer."""

    question: str
    answers: Sequence[str]
    context: Sequence[ChatTurn] = ()
    reference: str | None = None
    reviews: Sequence[Sequence[float] | None] | None = None


@dataclass(frozen=True)
class RankWeights:
    """Relative weights of the four signals (normalised over the signals present)."""

    agreement: float = 0.35
    relevance: float = 0.35
    reference: float = 0.25
    reviews: float = 0.40

    @classmethod
    def from_settings(cls, settings: Settings) -> RankWeights:
        """Weights configured through ``HUASHU_RANK_WEIGHT_*``."""
        return cls(settings.rank_weight_agreement, settings.rank_weight_relevance,
                   settings.rank_weight_reference, settings.rank_weight_reviews)


@dataclass
class AnswerScore:
    """An answer's final score, its signal values, lint findings and the reasons shown."""

    score: float
    signals: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    findings: list[LintFinding] = field(default_factory=list)
    highlight: bool = False


WEIGHTED = ("agreement", "relevance", "reference", "reviews")


def _turn_text(group: RankGroup, turns: int | None) -> str:
    """The customer's turn preceded by its latest ``turns`` context lines (None = all)."""
    chosen = group.context if turns is None else group.context[-turns:] if turns else ()
    return " ".join([*(t.text for t in chosen if t.text.strip()), group.question])


#: Plain-language level of a standing (share of the group below this answer), as trainers read it.
_LEVELS = ("低（不如同题多数回答）", "中（与同题多数回答相当）", "高（好于同题多数回答）")
#: How reasons were worded before they were put in plain words (still stored on older answers).
_LEGACY_LEVELS = {"低于组内多数": _LEVELS[0], "接近组内平均": _LEVELS[1], "高于组内多数": _LEVELS[2]}
_LEGACY_REASON = re.compile(
    r"(相关度|一致度|接近度)(低于组内多数|接近组内平均|高于组内多数)(（[^（）]*余弦[^（）]*）)?")


def _standing(value: float) -> str:
    if value >= 0.65:
        return _LEVELS[2]
    if value <= 0.35:
        return _LEVELS[0]
    return _LEVELS[1]


def plain_reason(reason: str) -> str:
    """A stored reason in today's plain wording (older answers kept cosines and standings in the text)."""
    return _LEGACY_REASON.sub(lambda m: f"{m[1]}：{_LEGACY_LEVELS[m[2]]}", reason)


@dataclass
class _GroupSignals:
    """Per-answer signal arrays of one group (live answers only are meaningful)."""

    values: dict[str, Vectors] = field(default_factory=dict)


def _signals(group: RankGroup, live: np.ndarray, answer_vecs: Vectors, turn_vecs: Vectors,
             reference_vec: Vectors | None, idf: BigramIdf, fusion: Fusion | None = None) -> _GroupSignals:
    n, out = len(group.answers), _GroupSignals()
    idx = np.flatnonzero(live)

    def spread(name: str, values: Vectors) -> None:
        full = np.zeros(n, dtype=np.float32)
        full[idx] = values
        out.values[name] = full

    vecs = answer_vecs[idx]
    cosines = vecs @ turn_vecs.T  # (live answers, context views)
    semantic = np.mean([standing(cosines[:, j]) for j in range(cosines.shape[1])], axis=0)
    lexical = lexical_relevance([group.answers[int(i)] for i in idx], _turn_text(group, None), idf)
    spread("relevance_semantic", semantic.astype(np.float32))
    spread("relevance_lexical", standing(lexical))
    # For a learned relevance (training.ranking.fusion): the answer's length standing.
    lengths = np.log1p([len(group.answers[int(i)]) for i in idx]).astype(np.float32)
    spread("length_standing", standing(lengths))
    if fusion is None:
        relevance = ((1 - LEXICAL_SHARE) * semantic + LEXICAL_SHARE * standing(lexical))
    else:  # the model's learned mix of the same standings
        relevance = np.array([fusion.relevance({k: float(v[int(i)]) for k, v in out.values.items()})
                              for i in idx], dtype=np.float32)
    spread("relevance", relevance.astype(np.float32))
    if len(idx) >= 3:
        agreement, _ = centred_agreement(vecs, relevance.astype(np.float32))
        spread("agreement", agreement)
        spread("agreement_standing", standing(agreement))
    if reference_vec is not None:
        ref = (vecs @ reference_vec).astype(np.float32)
        spread("reference", standing(ref))
    return out


def _reasons(parts: dict[str, float], agreement: float | None, review_count: int) -> list[str]:
    """Why an answer ranks where it does, in words (levels relative to the group, no raw cosines)."""
    reasons = [f"与顾客问题的相关度：{_standing(parts['relevance'])}"]
    if agreement is not None:
        reasons.append(f"与其他客服回答的一致度：{_standing(agreement)}")
    if "reference" in parts:
        reasons.append(f"与现行话术的接近度：{_standing(parts['reference'])}")
    if "reviews" in parts:
        reasons.append(f"培训师评分均值 {parts['reviews']:.2f}（满分 1，{review_count} 人评分）")
    return reasons


def _score_group(group: RankGroup, answer_vecs: Vectors, turn_vecs: Vectors,
                 reference_vec: Vectors | None, idf: BigramIdf, weights: RankWeights,
                 rules: Sequence[LintRule], fusion: Fusion | None = None) -> list[AnswerScore]:
    n = len(group.answers)
    live = np.array([bool(a.strip()) for a in group.answers], dtype=bool)
    sig = _signals(group, live, answer_vecs, turn_vecs, reference_vec, idf, fusion) if live.any() else None
    results: list[AnswerScore] = []
    for i in range(n):
        findings = lint_answer(group.answers[i], group.question, rules)
        if not live[i] or sig is None:
            results.append(AnswerScore(0.0, {}, ["空白回答，得分为 0。"], findings))
            continue
        parts = {name: float(sig.values[name][i]) for name in WEIGHTED if name in sig.values}
        reviews = group.reviews[i] if group.reviews is not None and i < len(group.reviews) else None
        if reviews:
            parts["reviews"] = float(np.mean(reviews))
        agreement = float(sig.values["agreement_standing"][i]) if "agreement_standing" in sig.values \
            else None
        reasons = _reasons(parts, agreement, len(reviews or []))
        highlight = ("agreement_standing" in sig.values and "reviews" in parts
                     and parts["reviews"] >= HIGHLIGHT_REVIEW
                     and float(sig.values["agreement_standing"][i]) <= HIGHLIGHT_AGREEMENT)
        used = {k: v for k, v in parts.items() if not (highlight and k == "agreement")}
        if highlight:
            reasons.append("亮点：培训师评分高，但与多数回答不同（与众不同的优秀回答），一致度不计入得分")
        weight_of = {k: getattr(weights, k) for k in used}
        if fusion is not None:
            reasons.insert(1, "相关度按本店数据学到的比重计算（意思、用词、长短）")
        total_weight = sum(weight_of.values())
        score = sum(weight_of[k] * v for k, v in used.items()) / total_weight \
            if total_weight > 0 else 0.5
        penalty = sum(f.penalty for f in findings)
        reasons += [f"扣分 {f.penalty:.2f}：{f.reason}" for f in findings]
        signals = {**parts, **{k: float(v[i]) for k, v in sig.values.items() if k not in parts}}
        signals["lint"] = -penalty
        final = float(min(max(score - penalty, 0.0), 1.0))
        results.append(AnswerScore(final if np.isfinite(final) else 0.0, signals, reasons,
                                   findings, highlight))
    return results


def rank_answers(
    groups: Sequence[RankGroup], *, embedder: Embedder, weights: RankWeights,
    rules: Sequence[LintRule] | None = None, show_progress: bool = False,
    fusion: Fusion | None | bool = True,
) -> list[list[AnswerScore]]:
    """Score every answer of every group as the best-practice reply to its customer turn.

    Args:
        groups: questions with their context, answers, optional reference script and reviews
            (reviewer scores already normalised per reviewer by the caller). The groups form
            one batch: the lexical view's IDF is fitted over all their answers, context lines
            and questions, so a group's scores depend on the groups ranked with it (rank an
            exam paper's questions together; a single group is its own batch).
        embedder: encoder with cache; the distinct answers and references (e5 "passage") and
            turns ("query") of all groups are embedded in two calls (see :func:`rank_texts`).
        weights: relative weight of agreement, relevance, reference and reviews.
        rules: lint phrase rules; None = ``training.ranking.lint.DEFAULT_RULES``.
        show_progress: draw a progress bar on stderr while encoding.
        fusion: the learned relevance (``training.ranking.fusion``); True (default) = the one
            stored with the embedder's model folder, if any; False/None = the fixed 0.7/0.3 mix
            of meaning and wording. Agreement, reference, reviews and lint keep their weights.

    Returns:
        For each group, one AnswerScore per answer in input order; higher = better, in [0, 1].
        Blank answers score 0. ``signals`` holds every signal and its parts, ``signals["lint"]``
        the (negative) lint penalty; ``highlight`` marks a 亮点 (high reviews, unlike the crowd),
        whose agreement is left out of its weighted mean.
    """
    active_rules = DEFAULT_RULES if rules is None else rules
    learned = fusion_of(getattr(embedder.encoder, "folder", None)) if fusion is True else fusion or None
    passages, queries = rank_texts(groups)
    if not groups:
        return []
    # Batch-wide IDF: a bigram half the paper's answers use says little about relevance.
    idf = BigramIdf.fit([*(a for g in groups for a in g.answers),
                         *(t.text for g in groups for t in g.context), *(g.question for g in groups)])
    # One encode call per prompt over every distinct text of the batch: sentence-transformers
    # sorts a call's texts by length, so big calls pad little and pay the call overhead once.
    answer_space = embedder.embed(passages, show_progress=show_progress, prompt=ANSWER_PROMPT)
    turn_space = embedder.embed(queries, show_progress=show_progress)
    passage_row = {t: i for i, t in enumerate(passages)}
    query_row = {t: i for i, t in enumerate(queries)}
    dim = max(answer_space.shape[1], turn_space.shape[1])
    results: list[list[AnswerScore]] = []
    for group in groups:
        # Blank answers are never embedded: their (zero) rows are masked out as not live.
        answer_vecs = np.zeros((len(group.answers), dim), dtype=np.float32)
        for i, answer in enumerate(group.answers):
            if answer.strip():
                answer_vecs[i] = answer_space[passage_row[answer]]
        turns = turn_space[[query_row[_turn_text(group, k)] for k in CONTEXT_TURNS]]
        reference = group.reference if group.reference and group.reference.strip() else None
        results.append(_score_group(
            group, answer_vecs, turns,
            None if reference is None else answer_space[passage_row[reference]],
            idf, weights, active_rules, learned))
    return results


def rank_texts(groups: Sequence[RankGroup]) -> tuple[list[str], list[str]]:
    """The distinct texts :func:`rank_answers` embeds for ``groups``, in first-seen order.

    Args:
        groups: the batch, as given to :func:`rank_answers`.

    Returns:
        ``(passages, queries)``: the non-blank answers and reference scripts (embedded with
        the e5 "passage" prompt), and each question with its last 1 and 3 context turns
        (embedded as queries). Blank answers and absent references are not embedded.
    """
    passages: dict[str, None] = {}
    queries: dict[str, None] = {}
    for group in groups:
        passages.update((a, None) for a in group.answers if a.strip())
        if group.reference and group.reference.strip():
            passages[group.reference] = None
        queries.update((_turn_text(group, k), None) for k in CONTEXT_TURNS)
    return list(passages), list(queries)
