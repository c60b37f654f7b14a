"""The one answer scoring the app and ``huashu rank`` share: the ranking, with absolute scores
where the team's approved script or graded answers give a yardstick.

In a group with a reference script (or variants) and/or reviewed answers, every unreviewed
answer's score is its absolute score (``training.ranking.absolute``), so a lone answer's score
means the same as in a crowd; reviewed answers and groups with neither keep the ranking's
relative score (``training.ranking.rank``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from training.nlp.embeddings import Embedder
from training.ranking.absolute import Suggestion, Variant, group_variants, suggest_scores
from training.ranking.lint import LintRule
from training.ranking.rank import AnswerScore, RankGroup, RankWeights, rank_answers


@dataclass(frozen=True)
class ScoredBatch:
    """Per group and answer: the score shown (ranking or absolute) and the absolute suggestion."""

    scores: list[list[AnswerScore]]
    suggestions: list[list[Suggestion | None]]


def _reviewed(group: RankGroup, i: int) -> bool:
    return bool(group.reviews is not None and i < len(group.reviews) and group.reviews[i])


def score_answers(
    groups: Sequence[RankGroup], *, embedder: Embedder, weights: RankWeights,
    rules: Sequence[LintRule] | None = None, variants: Sequence[Sequence[Variant]] | None = None,
    show_progress: bool = False,
) -> ScoredBatch:
    """Rank every group's answers, then give unreviewed answers of grounded groups their absolute score.

    Args:
        groups: the batch, as for :func:`training.ranking.rank.rank_answers`.
        embedder: encoder with cache.
        weights: the ranking's signal weights.
        rules: lint phrase rules; None = the shipped defaults.
        variants: per group, every approved wording; None = each group's ``reference``.
        show_progress: draw a progress bar on stderr while encoding.

    Returns:
        The scores (absolute for unreviewed answers of groups with an approved wording or a
        reviewed answer, with the suggestion's reasons; the ranking's otherwise) and the
        suggestion of every non-blank answer.
    """
    ranked = rank_answers(groups, embedder=embedder, weights=weights, rules=rules,
                          show_progress=show_progress)
    suggestions = suggest_scores(groups, embedder=embedder, rules=rules, variants=variants)
    wordings = group_variants(groups, variants)
    out: list[list[AnswerScore]] = []
    for group, vs, row, suggested in zip(groups, wordings, ranked, suggestions, strict=True):
        grounded = bool(vs) or any(_reviewed(group, i) for i in range(len(group.answers)))
        new_row = []
        for i, (result, s) in enumerate(zip(row, suggested, strict=True)):
            if grounded and s is not None and not _reviewed(group, i):
                result = replace(result, score=s.score, signals={**result.signals, "absolute": s.score},
                                 reasons=["建议分（不与其他考生的回答比较）", *s.reasons])
            elif s is not None:
                result = replace(result, signals={**result.signals, "absolute": s.score})
            new_row.append(result)
        out.append(new_row)
    return ScoredBatch(out, suggestions)
