"""Live script lookup: semantic similarity fused with jieba/BM25 keywords."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.embeddings import Embedder, Vectors
from training.keywords import BM25Index, keywords


@dataclass(frozen=True)
class BankEntry:
    """One approved script as the index sees it."""

    id: str
    question: str
    answer: str


@dataclass(frozen=True)
class Hit:
    """A lookup result with the signals behind its rank."""

    id: str
    score: float
    semantic: float
    keyword: float


def _minmax(values: Vectors) -> Vectors:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.zeros_like(values)
    return (values - low) / (high - low)


class ScriptIndex:
    """Searchable bank of scripts; built once, queried many times."""

    def __init__(
        self, entries: Sequence[BankEntry], *, embedder: Embedder, semantic_weight: float = 0.7,
        show_progress: bool = False,
    ) -> None:
        self.entries = list(entries)
        self.embedder = embedder
        self.semantic_weight = semantic_weight
        questions = [e.question for e in self.entries]
        self._vectors = (embedder.embed(questions, show_progress=show_progress)
                         if self.entries else np.zeros((0, 0), np.float32))
        # Questions count twice: the customer's wording matters more than the reply's.
        self._bm25 = BM25Index([keywords(e.question) * 2 + keywords(e.answer)
                                for e in self.entries])

    def search(
        self, queries: Sequence[str], *, k: int = 10, show_progress: bool = False,
    ) -> list[list[Hit]]:
        """Best bank entries for each query.

        Args:
            queries: what agents typed (usually the customer's words).
            k: at most this many hits per query.
            show_progress: draw a progress bar on stderr while encoding the queries.

        Returns:
            One list of hits per query, best first. The score is a convex combination of
            the min-max normalised cosine and BM25 scores over the bank.
        """
        if not self.entries or not queries:
            return [[] for _ in queries]
        query_vecs = self.embedder.embed(list(queries), show_progress=show_progress)
        cosines = query_vecs @ self._vectors.T
        results: list[list[Hit]] = []
        for qi, query in enumerate(queries):
            semantic = cosines[qi]
            bm25 = np.asarray(self._bm25.scores(keywords(query)), dtype=np.float32)
            w = self.semantic_weight
            fused = w * _minmax(semantic) + (1 - w) * _minmax(bm25)
            order = np.argsort(-fused, kind="stable")[:k]
            results.append([
                Hit(self.entries[i].id, float(fused[i]), float(semantic[i]), float(bm25[i]))
                for i in order
            ])
        return results
