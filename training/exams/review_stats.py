"""Reviewer statistics: per-reviewer normalisation and inter-reviewer agreement."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import TypeVar

import numpy as np

A = TypeVar("A", bound=Hashable)
R = TypeVar("R", bound=Hashable)

#: A reviewer needs this many scores before their scale is estimated (fewer: scores kept as given).
MIN_REVIEWS_TO_NORMALISE = 3
#: Below this standard deviation a reviewer's scores carry no order to rescale.
MIN_SPREAD = 1e-6


def normalise_by_reviewer(
    scores: Mapping[tuple[A, R], float], *, min_reviews: int = MIN_REVIEWS_TO_NORMALISE,
) -> dict[tuple[A, R], float]:
    """Rescale each reviewer's scores to the panel's mean and spread (linear equating).

    A harsh and a lenient reviewer who order the answers alike end up giving alike scores:
    each reviewer's scores are standardised with their own mean and standard deviation, then
    mapped onto the panel's scale (mean of the reviewers' means, mean of their spreads) and
    clipped to [0, 1]. Reviewers with fewer than ``min_reviews`` scores, or none spread, keep
    their raw scores: one score says nothing about a reviewer's scale.

    Args:
        scores: score in [0, 1] per (answer, reviewer).
        min_reviews: scores a reviewer needs before being rescaled.

    Returns:
        The normalised score per (answer, reviewer), same keys.
    """
    by_reviewer: dict[R, list[float]] = defaultdict(list)
    for (_, reviewer), score in scores.items():
        by_reviewer[reviewer].append(score)
    stats = {
        r: (float(np.mean(v)), float(np.std(v)))
        for r, v in by_reviewer.items()
        if len(v) >= min_reviews and float(np.std(v)) > MIN_SPREAD
    }
    if not stats:
        return dict(scores)
    panel_mean = float(np.mean([m for m, _ in stats.values()]))
    panel_spread = float(np.mean([s for _, s in stats.values()]))
    normalised: dict[tuple[A, R], float] = {}
    for key, score in scores.items():
        reviewer = key[1]
        if reviewer in stats:
            mean, spread = stats[reviewer]
            score = panel_mean + (score - mean) / spread * panel_spread
        normalised[key] = min(1.0, max(0.0, score))
    return normalised


def krippendorff_alpha(scores: Mapping[tuple[A, R], float]) -> float | None:
    """Krippendorff's alpha (interval metric) of the reviewers' scores; 1 = perfect agreement.

    Only answers with at least two reviews count. Returns None when there are none, or when
    every pairable score is identical (agreement is then undefined, not perfect).
    """
    by_answer: dict[A, list[float]] = defaultdict(list)
    for (answer, _), score in scores.items():
        by_answer[answer].append(score)
    units = [v for v in by_answer.values() if len(v) >= 2]
    values = [x for v in units for x in v]
    n = len(values)
    if not units or n < 2:
        return None
    observed = sum(
        sum((a - b) ** 2 for a, b in combinations(v, 2)) * 2 / (len(v) - 1) for v in units
    ) / n
    arr = np.asarray(values)
    expected = float(((arr[:, None] - arr[None, :]) ** 2).sum()) / (n * (n - 1))
    if expected <= 0:
        return None
    return 1.0 - observed / expected


@dataclass(frozen=True)
class Disagreement:
    """An answer the reviewers scored far apart."""

    answer: Hashable
    spread: float
    scores: dict[Hashable, float]


def disagreements(scores: Mapping[tuple[A, R], float], *, limit: int = 10) -> list[Disagreement]:
    """Answers with two or more reviews, the widest spread (max − min) first."""
    by_answer: dict[A, dict[Hashable, float]] = defaultdict(dict)
    for (answer, reviewer), score in scores.items():
        by_answer[answer][reviewer] = score
    found = [
        Disagreement(answer, max(v.values()) - min(v.values()), v)
        for answer, v in by_answer.items()
        if len(v) >= 2
    ]
    found.sort(key=lambda d: -d.spread)
    return found[:limit]
