"""Live script lookup: semantic similarity fused with jieba/BM25 keywords.

Fusion (measured in ``bench/lookup.py`` on AFQMC and BQ, see ``bench/README.md``): per query,
the cosine of every bank question is standardised over the bank (z-score) and the BM25 keyword
score is divided by the best BM25 score of that query; the fused score is
``w * z(cosine) + (1 - w) * bm25 / max(bm25)`` with ``w`` = ``semantic_weight``. Standardising
the cosine makes the keyword bonus independent of how tightly a model bunches its cosines
(e5's lie within a few hundredths of each other), which plain min-max fusion is not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from training.embeddings import Embedder
from training.keywords import keywords

Matrix = npt.NDArray[np.float32]
#: Queries scored together: bounds the dense (queries x bank) matrices in memory.
QUERY_CHUNK = 256


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


def entry_tokens(entry: BankEntry) -> list[str]:
    """Keyword tokens of an entry: the question counts twice, the customer's wording matters most."""
    return keywords(entry.question) * 2 + keywords(entry.answer)


class KeywordIndex:
    """Okapi BM25 over jieba tokens as one sparse matrix, so a batch of queries is one product."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for row, doc in enumerate(documents):
            for token in doc:
                rows.append(row)
                cols.append(self.vocabulary.setdefault(token, len(self.vocabulary)))
        shape = (len(documents), len(self.vocabulary))
        tf = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=shape).tocsr()
        tf.sum_duplicates()
        n = shape[0]
        df = np.bincount(tf.indices, minlength=shape[1]).astype(np.float64)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avg = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
        coo = tf.tocoo()
        norm = k1 * (1 - b + b * lengths[coo.row] / avg)
        weights = coo.data * (k1 + 1) / (coo.data + norm) * idf[coo.col]
        # (vocabulary x documents): a query row times this gives every document's score.
        self._weights = sparse.csr_matrix((weights, (coo.col, coo.row)), shape=(shape[1], n))

    def scores(self, queries: Sequence[Sequence[str]]) -> Matrix:
        """BM25 of every document for each tokenised query (each distinct term counts once)."""
        rows: list[int] = []
        cols: list[int] = []
        for row, query in enumerate(queries):
            for term in set(query):
                col = self.vocabulary.get(term)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
        q = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                              shape=(len(queries), self._weights.shape[0]))
        return np.asarray((q @ self._weights).todense(), dtype=np.float32)


def _standardise(values: Matrix) -> Matrix:
    """Row-wise z-scores; a row without spread becomes zeros."""
    std = values.std(axis=1, keepdims=True)
    std[std < 1e-9] = 1.0
    out: Matrix = (values - values.mean(axis=1, keepdims=True)) / std
    return out


def _relative(values: Matrix) -> Matrix:
    """Row-wise share of the row's best score (0 where nothing matched)."""
    best = values.max(axis=1, keepdims=True)
    best[best <= 0] = 1.0
    out: Matrix = values / best
    return out


def fuse(semantic: Matrix, keyword: Matrix, semantic_weight: float) -> Matrix:
    """Fused scores of each query row (see the module docstring).

    Args:
        semantic: cosines, one row per query, one column per bank entry.
        keyword: BM25 scores of the same shape.
        semantic_weight: weight of the semantic signal in [0, 1]; the keyword one gets the rest.

    Returns:
        ``w * z(semantic) + (1 - w) * keyword / rowmax(keyword)``, same shape.
    """
    w = semantic_weight
    out: Matrix = w * _standardise(semantic) + (1 - w) * _relative(keyword)
    return out


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class ScriptIndex:
    """Searchable bank of scripts; built once, queried many times."""

    def __init__(
        self, entries: Sequence[BankEntry], *, embedder: Embedder, semantic_weight: float = 0.7,
        show_progress: bool = False,
    ) -> None:
        if not 0 <= semantic_weight <= 1:
            raise ValueError("semantic_weight must lie in [0, 1]")
        self.entries = list(entries)
        self.embedder = embedder
        self.semantic_weight = semantic_weight
        self._position = {e.id: i for i, e in enumerate(self.entries)}
        # The question alone is embedded: what the agent pastes is the customer's question.
        self._vectors = (embedder.embed([e.question for e in self.entries], show_progress=show_progress)
                         if self.entries else np.zeros((0, 0), np.float32))
        self._keywords = KeywordIndex([entry_tokens(e) for e in self.entries])

    def _mask(self, only: Collection[str] | None) -> npt.NDArray[np.bool_] | None:
        if only is None:
            return None
        mask = np.zeros(len(self.entries), dtype=bool)
        mask[[self._position[i] for i in only if i in self._position]] = True
        return mask

    def search(
        self, queries: Sequence[str], *, k: int = 10, show_progress: bool = False,
        only: Collection[str] | None = None,
    ) -> list[list[Hit]]:
        """Best bank entries for each query.

        Args:
            queries: what agents typed (usually the customer's words).
            k: at most this many hits per query.
            show_progress: draw a progress bar on stderr while encoding the queries.
            only: when given, hits are restricted to these entry ids (unknown ids are ignored);
                scores are still normalised over the whole bank, so they do not depend on it.

        Returns:
            One list of hits per query, best first, ties in bank order. ``score`` is the fused
            score (see :func:`fuse`), ``semantic`` the cosine, ``keyword`` the raw BM25 score.
        """
        mask = self._mask(only)
        if not self.entries or not queries or k < 1 or (mask is not None and not mask.any()):
            return [[] for _ in queries]
        query_vecs = self.embedder.embed(list(queries), show_progress=show_progress)
        results: list[list[Hit]] = []
        for part in _chunks(len(queries), QUERY_CHUNK):
            cosines = query_vecs[part] @ self._vectors.T
            bm25 = self._keywords.scores([keywords(q) for q in queries[part]])
            fused = fuse(cosines, bm25, self.semantic_weight)
            if mask is not None:
                fused[:, ~mask] = -np.inf
            allowed = len(self.entries) if mask is None else int(mask.sum())
            for row in range(fused.shape[0]):
                results.append(self._top(fused[row], cosines[row], bm25[row], min(k, allowed)))
        return results

    def _top(self, fused: Matrix, semantic: Matrix, keyword: Matrix, k: int) -> list[Hit]:
        if k < len(fused):
            candidates = np.argpartition(-fused, k - 1)[:k]
            # Keep every entry tied with the k-th best, so ties still break in bank order.
            candidates = np.union1d(candidates, np.flatnonzero(fused >= fused[candidates].min()))
        else:
            candidates = np.arange(len(fused))
        order = candidates[np.lexsort((candidates, -fused[candidates]))][:k]
        return [Hit(self.entries[i].id, float(fused[i]), float(semantic[i]), float(keyword[i]))
                for i in order]
