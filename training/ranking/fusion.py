"""A learned relevance: how the ranking signals of meaning, wording and length are mixed.

The shipped formula (``training.ranking.rank``) takes relevance = 0.7 x meaning + 0.3 x wording
(standings within the group). The best mix differs by shop and task, so ``huashu adapt`` fits one
on the shop's labels (``training.ops.adapt_platform``: approved scripts and best-reviewed answers
against replies to other turns; ``make bench-adapt``: real replies against replies to other
chats) and writes it into the model folder as ``FUSION_FILE``. Whenever that model is loaded, the
app and ``huashu rank --model DIR`` take relevance = the learned mix of those standings, on the
fixed formula's scale (``Fusion.relevance``); agreement, the script's closeness, reviews and lint
keep their configured weights (a fit on one-good-reply turns cannot learn what agreement among
several good replies is worth: fitted on every signal, it dropped agreement and JDDC 2019 MAP fell
from 0.72 to 0.64). A model without the file keeps the shipped mix.

The fit is pairwise: a logistic regression on the feature differences of (better, worse) answers
of the same customer turn (a RankNet-style objective; the signals are standings within a group,
so only differences carry information), then a one-dimensional logistic on the fused value for
an output in (0, 1) (``score``, the probability the answer is the good reply).
"""

from __future__ import annotations

import functools
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: File in a model folder holding its fusion.
FUSION_FILE = "huashu_fusion.json"
#: Signals the fusion reads (names as in ``AnswerScore.signals``), in order; absent ones read 0.5.
#: All are standings in (0, 1) within the group, so a learned mix stays on the fixed formula's scale.
FEATURES = ("relevance_semantic", "relevance_lexical", "length_standing")
#: Fewest (better, worse) pairs a fit needs; below it the shipped formula stays.
MIN_PAIRS = 40


@dataclass(frozen=True)
class Fusion:
    """``p = sigmoid(scale * (w · features) + offset)``."""

    weights: tuple[float, ...]
    scale: float
    offset: float
    pairs: int
    source: str

    def logit(self, signals: Mapping[str, float]) -> float:
        """The linear part ``w · features``."""
        return float(sum(w * x for w, x in zip(self.weights, _vector(signals), strict=True)))

    def relevance(self, signals: Mapping[str, float]) -> float:
        """The learned relevance in [0, 1]: the standings mixed by the weights' shares, a standing
        whose weight is negative counted as ``1 - standing`` (the fixed formula is the special case
        0.7 meaning + 0.3 wording). Orders answers exactly as :meth:`logit` does."""
        total = sum(abs(w) for w in self.weights)
        if total == 0:
            return 0.5
        return float(sum(abs(w) * (x if w >= 0 else 1.0 - x)
                         for w, x in zip(self.weights, _vector(signals), strict=True)) / total)

    def score(self, signals: Mapping[str, float]) -> float:
        """The fused value in (0, 1): how likely these signals belong to the good reply."""
        return 1.0 / (1.0 + math.exp(-(self.scale * self.logit(signals) + self.offset)))

    def as_dict(self) -> dict[str, Any]:
        """What ``FUSION_FILE`` holds."""
        return {"features": list(FEATURES), "weights": list(self.weights), "scale": self.scale,
                "offset": self.offset, "pairs": self.pairs, "source": self.source}

    def save(self, folder: Path) -> None:
        """Write ``FUSION_FILE`` into ``folder``."""
        (folder / FUSION_FILE).write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=1),
                                          encoding="utf-8")


def _vector(signals: Mapping[str, float]) -> list[float]:
    return [float(signals.get(name, 0.5)) for name in FEATURES]


def fit_fusion(
    groups: Sequence[Sequence[tuple[Mapping[str, float], float]]], *, source: str, seed: int = 20240611,
    max_pairs_per_group: int = 20,
) -> Fusion | None:
    """Fit the fusion on labelled groups: per group, (signals, label) of each answer.

    Args:
        groups: answers of one customer turn each, with a label in [0, 1] (1 = the real or
            approved reply / a well-reviewed answer); only pairs with different labels count.
        source: where the labels came from (kept in the file, shown on the model page).
        max_pairs_per_group: pairs drawn per group at most (a big group does not dominate).

    Returns:
        The fusion, or None with fewer than ``MIN_PAIRS`` pairs.
    """
    from sklearn.linear_model import LogisticRegression

    rng = random.Random(seed)
    diffs: list[list[float]] = []
    for group in groups:
        pairs = [(a, b) for a in group for b in group if a[1] > b[1]]
        rng.shuffle(pairs)
        for (better, _), (worse, _) in pairs[:max_pairs_per_group]:
            diffs.append([x - y for x, y in zip(_vector(better), _vector(worse), strict=True)])
    if len(diffs) < MIN_PAIRS:
        return None
    x = np.asarray(diffs + [[-v for v in d] for d in diffs])
    y = np.asarray([1] * len(diffs) + [0] * len(diffs))
    pairwise = LogisticRegression(fit_intercept=False, C=1.0, max_iter=1000).fit(x, y)
    weights = pairwise.coef_[0]
    fused = np.asarray([float(weights @ _vector(s)) for g in groups for s, _ in g])
    labels = np.asarray([label >= 0.5 for g in groups for _, label in g])
    scale, offset = 1.0, 0.0
    if labels.any() and not labels.all():
        pointwise = LogisticRegression(C=1.0, max_iter=1000).fit(fused[:, None], labels)
        scale, offset = float(pointwise.coef_[0][0]), float(pointwise.intercept_[0])
    return Fusion(tuple(round(float(w), 6) for w in weights), round(scale, 6), round(offset, 6),
                  len(diffs), source)


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> Fusion | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if list(data["features"]) != list(FEATURES):
            return None  # written for other signals: the shipped formula is safer than a misread
        return Fusion(tuple(float(w) for w in data["weights"]), float(data["scale"]),
                      float(data["offset"]), int(data.get("pairs", 0)), str(data.get("source", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fusion_of(folder: Path | None) -> Fusion | None:
    """The fusion stored in a model ``folder`` (re-read when the file changes), or None."""
    if folder is None:
        return None
    path = folder / FUSION_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _read(str(path), mtime)
