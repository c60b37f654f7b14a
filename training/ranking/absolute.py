"""An answer's absolute score (建议分): judged against what the team approved and graded, never
against the other candidates' unreviewed answers.

For one answer to one customer turn:

1. **Default** = ``sigmoid(b + w · features)`` with coefficients fitted on JDDC-2019 dev
   (``bench/absolute.py``: one human reply of a turn as the approved script, the turn's other
   human replies = 1, replies from other sessions = 0; cross-validated over random splits). With
   an approved script (and its variants and older approved versions) the features are: closeness
   to the closest variant, the share of its key points the answer carries, their character-bigram
   overlap, and relevance to the customer's turn. Without one, relevance alone (a weaker guide,
   said so in the reasons). Cosines are read on the shipped encoder's scale
   (:func:`base_scale`), so an adapted model's lower cosines mean the same thing.
2. **The shop's own scale**: with ≥ 30 reviewed answers in the batch whose scores spread, an
   isotonic fit on them (``training.ranking.calibration``).
3. **Graded neighbours** (similarity-based scoring, Bexte et al.): the reviewed answers to the
   same question, weighted by similarity, pull the suggestion toward their mean score, the more
   so the closer the nearest one is. An answer's own reviews never count for it.
4. Minus lint penalties, clipped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.nlp.embeddings import Embedder, Vectors
from training.nlp.model_versions import model_threshold
from training.ranking.calibration import Logistic, shop_calibration
from training.ranking.key_points import key_points
from training.ranking.lint import DEFAULT_RULES, LintRule, lint_answer
from training.ranking.rank import ANSWER_PROMPT, RankGroup
from training.ranking.suggestion import Neighbour, Suggestion, Variant, bigram_overlap, explain

__all__ = ["Neighbour", "Suggestion", "Variant", "base_scale", "bigram_overlap", "suggest_scores"]

#: Cosines (shipped-encoder scale) enter the fits as ``(cosine - CENTRE) / UNIT``.
COSINE_CENTRE, COSINE_UNIT = 0.85, 0.05
#: Fitted by ``bench/absolute.py --fit-all`` on every JDDC-2019 dev turn (cross-validated
#: figures in bench/RESULTS.md); the intercept is shifted by ln(980/269) so the default assumes
#: as many real replies as others (JDDC pairs 1.4 human replies with 7 strangers' per turn).
#: With an approved script:
GROUNDED = Logistic(
    ("reference", "coverage", "overlap", "relevance", "relevance_wide", "reference_relevance",
     "answer_length", "reference_length", "reference_x_length"),
    (1.152, 2.433, 2.331, 0.622, 0.638, -0.780, -0.416, 0.076, 0.068), -1.148)
#: Without one (no script, no graded answers): relevance to the customer's turn only.
UNGROUNDED = Logistic(("relevance", "relevance_wide"), (0.585, 0.721), -0.633)
#: Graded neighbours: the nearest ``KNN_K`` count, weighted ``exp((cosine - 1) / KNN_TAU)``;
#: their pull grows from 0 at cosine ``KNN_FLOOR`` to ``KNN_MAX`` at ``KNN_FULL`` and beyond.
KNN_K, KNN_TAU, KNN_FLOOR, KNN_FULL, KNN_MAX = 5, 0.02, 0.85, 0.97, 0.8
_ANCHORS = np.linspace(0.5, 1.0, 51)


def base_scale(model_id: str, cosines: Vectors) -> Vectors:
    """Cosines of ``model_id`` read on the shipped encoder's scale (inverse of ``model_threshold``).

    Args:
        model_id: the embedder's model id (an adapted version carries a calibration table).
        cosines: raw cosines of that model.

    Returns:
        The shipped-encoder cosines with the same quantile; unchanged for the shipped encoder.
    """
    mapped = np.array([model_threshold(model_id, float(a)) for a in _ANCHORS])
    if np.allclose(mapped, _ANCHORS):
        return cosines
    mapped = np.maximum.accumulate(mapped)
    keep = np.concatenate([[True], np.diff(mapped) > 0])
    out: Vectors = np.interp(cosines, mapped[keep], _ANCHORS[keep]).astype(np.float32)
    return out


def _unit(cosine: float) -> float:
    return (cosine - COSINE_CENTRE) / COSINE_UNIT


def turn_text(group: RankGroup, turns: int = 1) -> str:
    """The customer's turn with the ``turns`` context lines before it (embedded as an e5 query)."""
    return " ".join([*(t.text for t in group.context[-turns:] if t.text.strip()), group.question])


@dataclass
class _Embedded:
    passages: dict[str, Vectors]
    queries: dict[str, Vectors]


def _embed(groups: Sequence[RankGroup], variants: Sequence[Sequence[Variant]], embedder: Embedder,
           show_progress: bool) -> _Embedded:
    passages = list(dict.fromkeys(
        [*(a for g in groups for a in g.answers if a.strip()), *(v.plain for vs in variants for v in vs)]))
    queries = list(dict.fromkeys(turn_text(g, k) for g in groups for k in (1, 3)))
    p = embedder.embed(passages, show_progress=show_progress, prompt=ANSWER_PROMPT) if passages else None
    q = embedder.embed(queries, show_progress=show_progress)
    return _Embedded({t: p[i] for i, t in enumerate(passages)} if p is not None else {},
                     {t: q[i] for i, t in enumerate(queries)})


def group_variants(groups: Sequence[RankGroup],
                   variants: Sequence[Sequence[Variant]] | None) -> list[list[Variant]]:
    """Each group's approved wordings: those given, else its ``reference`` as the current script."""
    out = []
    for i, group in enumerate(groups):
        given = [v for v in (variants[i] if variants is not None else ()) if v.text.strip()]
        if not given and group.reference and group.reference.strip():
            given = [Variant(group.reference)]
        out.append(given)
    return out


def _features(
    answer: str, vec: Vectors, turn_vecs: Vectors, variants: list[Variant], variant_vecs: Vectors | None,
    model_id: str,
) -> tuple[dict[str, float], Variant | None, list[str]]:
    """The default's inputs: cosines in units around the shipped scale, shares, log lengths."""
    relevance = base_scale(model_id, (turn_vecs @ vec).astype(np.float32))
    features = {"relevance": _unit(float(relevance[0])), "relevance_wide": _unit(float(relevance[1]))}
    if not variants or variant_vecs is None:
        return features, None, []
    cosines = base_scale(model_id, (variant_vecs @ vec).astype(np.float32))
    best = int(np.argmax(cosines))
    closest = variants[best]
    points = key_points(closest.text, answer)
    overlap = bigram_overlap(answer, closest.plain)
    total = len(points.covered) + len(points.missed)
    reference_length = float(np.log1p(len(closest.plain.strip())))
    # How on-topic the script itself is, and how long: a short all-purpose script (好的/请问还有…)
    # makes closeness to it weak evidence, which the fit learns from these two.
    script_turn = np.array([variant_vecs[best] @ turn_vecs[0]], dtype=np.float32)
    reference_relevance = base_scale(model_id, script_turn)
    features.update(reference=_unit(float(cosines[best])), overlap=overlap,
                    coverage=len(points.covered) / total if total else overlap,
                    reference_relevance=_unit(float(reference_relevance[0])),
                    answer_length=float(np.log1p(len(answer.strip()))), reference_length=reference_length,
                    reference_x_length=_unit(float(cosines[best])) * reference_length)
    return features, closest, points.missed


def _neighbours(i: int, group: RankGroup, vecs: dict[str, Vectors], vec: Vectors,
                model_id: str) -> list[Neighbour]:
    graded = [(j, a, float(np.mean(r))) for j, (a, r) in enumerate(zip(
        group.answers, group.reviews or [None] * len(group.answers), strict=False)) if r and j != i]
    if not graded:
        return []
    cosines = base_scale(model_id, np.array([vecs[a] @ vec for _, a, _ in graded], dtype=np.float32))
    order = np.argsort(-cosines, kind="stable")[:KNN_K]
    return [Neighbour(graded[k][1], graded[k][2], float(cosines[k])) for k in order]


def _knn(neighbours: list[Neighbour]) -> tuple[float | None, float]:
    """Similarity-weighted mean score of the graded neighbours, and how much it may pull."""
    if not neighbours:
        return None, 0.0
    sims = np.array([n.closeness for n in neighbours])
    weights = np.exp((sims - 1.0) / KNN_TAU)
    estimate = float(np.dot(weights, [n.score for n in neighbours]) / weights.sum())
    pull = KNN_MAX * float(np.clip((sims.max() - KNN_FLOOR) / (KNN_FULL - KNN_FLOOR), 0.0, 1.0))
    return estimate, pull


def _default(features: dict[str, float]) -> float:
    model = GROUNDED if "reference" in features else UNGROUNDED
    row = np.array([[features[name] for name in model.names]])
    return float(model.predict(row)[0])


def suggest_scores(
    groups: Sequence[RankGroup], *, embedder: Embedder, rules: Sequence[LintRule] | None = None,
    variants: Sequence[Sequence[Variant]] | None = None, show_progress: bool = False,
) -> list[list[Suggestion | None]]:
    """The absolute score (建议分) of every answer, each judged on its own.

    Args:
        groups: questions with their context and answers; ``reference`` is the current approved
            script (used when ``variants`` gives none) and ``reviews`` the reviewers' scores in
            [0, 1] of the answers already graded (they become the graded neighbours).
        embedder: the active encoder with its cache.
        rules: lint phrase rules; None = the shipped defaults.
        variants: per group, every approved wording (current script, other variants, older
            approved versions); None = each group's ``reference``.
        show_progress: draw a progress bar on stderr while encoding.

    Returns:
        Per group, one Suggestion per answer (None for a blank answer). A score never depends on
        another unreviewed answer; reviewed answers are scored without their own reviews.
    """
    active_rules = DEFAULT_RULES if rules is None else rules
    wordings = group_variants(groups, variants)
    space = _embed(groups, wordings, embedder, show_progress)
    model_id = embedder.model_id
    out: list[list[Suggestion | None]] = []
    for group, vs in zip(groups, wordings, strict=True):
        turn_vecs = np.stack([space.queries[turn_text(group, k)] for k in (1, 3)])
        variant_vecs = np.stack([space.passages[v.plain] for v in vs]) if vs else None
        row: list[Suggestion | None] = []
        for answer in group.answers:
            if not answer.strip():
                row.append(None)
                continue
            features, closest, missed = _features(answer, space.passages[answer], turn_vecs, vs,
                                                  variant_vecs, model_id)
            row.append(Suggestion(0.0, _default(features), closest_variant=closest, missed=missed,
                                  features=features))
        out.append(row)
    reviewed = [(s.default, float(np.mean(r))) for g, row in zip(groups, out, strict=True)
                for s, r in zip(row, g.reviews or [None] * len(row), strict=False) if s is not None and r]
    shop = shop_calibration([d for d, _ in reviewed], [m for _, m in reviewed])
    for group, vs, row in zip(groups, wordings, out, strict=True):
        for i, s in enumerate(row):
            if s is None:
                continue
            base = float(shop.predict([s.default])[0]) if shop is not None else s.default
            s.neighbours = _neighbours(i, group, space.passages, space.passages[group.answers[i]], model_id)
            s.neighbour_estimate, pull = _knn(s.neighbours)
            knn = s.neighbour_estimate
            blended = base if knn is None else (1 - pull) * base + pull * knn
            findings = lint_answer(group.answers[i], group.question, active_rules)
            penalty = sum(f.penalty for f in findings)
            s.score = float(np.clip(blended - penalty, 0.0, 1.0))
            graded_others = any(r for j, r in enumerate(group.reviews or []) if j != i)
            explain(s, grounded=bool(vs) or graded_others, shop_fitted=shop is not None,
                    reference_cosine=s.features.get("reference", 0.0) * COSINE_UNIT + COSINE_CENTRE,
                    penalties=[(f.penalty, f.reason) for f in findings])
    return out
