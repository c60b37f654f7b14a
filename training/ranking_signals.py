"""The numeric signals behind answer ranking: group standing, lexical relevance, agreement."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from training.embeddings import Vectors

#: Below this spread of values inside a group, differences are treated as noise.
MIN_SPREAD = 0.02


def standing(values: Vectors) -> Vectors:
    """Map raw values to (0, 1) by their standing inside the group (model-agnostic)."""
    if len(values) < 2:
        return np.full(len(values), 0.5, dtype=np.float32)
    spread = max(float(values.std()), MIN_SPREAD)
    z = (values - values.mean()) / spread
    out: Vectors = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    return out


def _bigrams(text: str) -> Counter[str]:
    t = "".join(text.split())
    return Counter(t[i : i + 2] for i in range(len(t) - 1)) if len(t) > 1 else Counter(t)


def lexical_relevance(answers: Sequence[str], turn: str) -> Vectors:
    """Character-bigram TF-IDF cosine of each answer to the customer's turn.

    Args:
        answers: the group's answers.
        turn: the customer turn with its context, as one text.

    Returns:
        One cosine per answer. IDF is fitted on this group's texts only, so a group scores the
        same alone or in a batch; bigrams every answer shares (亲/您好) weigh little.
    """
    docs = [_bigrams(a) for a in answers]
    query = _bigrams(turn)
    df: Counter[str] = Counter()
    for d in [*docs, query]:
        df.update(d.keys())
    n = len(docs) + 1

    def unit(c: Counter[str]) -> dict[str, float]:
        v = {g: cnt * (math.log((1 + n) / (1 + df[g])) + 1.0) for g, cnt in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {g: x / norm for g, x in v.items()}

    q = unit(query)
    return np.array([sum(q.get(g, 0.0) * x for g, x in unit(d).items()) for d in docs],
                    dtype=np.float32)


def centred_agreement(vectors: Vectors, relevance: Vectors) -> tuple[Vectors, Vectors]:
    """How strongly each answer is backed by a relevant answer that says the same specific thing.

    Args:
        vectors: L2-normalised answer embeddings (at least 3 rows).
        relevance: each answer's relevance standing in (0, 1).

    Returns:
        ``(agreement, partner_cosine)``: agreement in [0, 1] is the best cosine to another
        answer after removing the group centroid (the shared, generic direction), times that
        partner's relevance; an incoherent group (replies to other chats) thus gets small
        values instead of rewarding generic replies. ``partner_cosine`` is the centred cosine.
    """
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)
    sims = np.clip(centred @ centred.T, 0.0, None)
    np.fill_diagonal(sims, 0.0)
    backed = sims * relevance.astype(np.float64)[None, :]
    best = backed.argmax(axis=1)
    rows = np.arange(len(vectors))
    return backed[rows, best].astype(np.float32), sims[rows, best].astype(np.float32)
