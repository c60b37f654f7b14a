"""The numeric signals behind answer ranking: group standing, lexical relevance, agreement."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from training.nlp.embeddings import Vectors

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


@dataclass(frozen=True)
class BigramIdf:
    """Character-bigram document frequencies over one batch of texts, weighted as BM25's IDF."""

    df: Counter[str]
    n_docs: int

    @classmethod
    def fit(cls, texts: Iterable[str]) -> BigramIdf:
        """Count in how many of ``texts`` each bigram occurs (blank texts are skipped)."""
        df: Counter[str] = Counter()
        n = 0
        for text in texts:
            if text.strip():
                df.update(_bigrams(text).keys())
                n += 1
        return cls(df, n)

    def weight(self, gram: str) -> float:
        """``ln(1 + (N - df + 0.5) / (df + 0.5))``: near 0 for a bigram in almost every text."""
        d = self.df.get(gram, 0)
        return math.log(1.0 + (self.n_docs - d + 0.5) / (d + 0.5))


def lexical_relevance(answers: Sequence[str], turn: str, idf: BigramIdf) -> Vectors:
    """Character-bigram TF-IDF cosine of each answer to the customer's turn.

    Args:
        answers: the group's answers.
        turn: the customer turn with its context, as one text.
        idf: bigram IDF fitted on the batch (every answer, context line and question of the
            groups ranked together), so bigrams common across the batch (亲/您好) weigh ~0.

    Returns:
        One cosine per answer, in [0, 1].
    """

    def unit(c: Counter[str]) -> dict[str, float]:
        v = {g: cnt * idf.weight(g) for g, cnt in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {g: x / norm for g, x in v.items()}

    q = unit(_bigrams(turn))
    return np.array([sum(q.get(g, 0.0) * x for g, x in unit(_bigrams(a)).items())
                     for a in answers], dtype=np.float32)


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
