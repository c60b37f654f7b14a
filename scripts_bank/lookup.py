"""Live script lookup: semantic similarity fused with jieba/BM25 keywords (``scripts_bank.bm25``).

Fusion (measured in ``bench/lookup.py`` on AFQMC and BQ, see ``bench/README.md``): per query,
the cosine of every bank question is standardised over the bank (z-score) and the BM25 keyword
score is divided by the best BM25 score of that query; the fused score is
``w * z(cosine) + (1 - w) * bm25 / max(bm25)`` with ``w`` = ``semantic_weight``. Standardising
the cosine makes the keyword bonus independent of how tightly a model bunches its cosines
(e5's lie within a few hundredths of each other), which plain min-max fusion is not.

Large banks (``scripts_bank.vectors.PARTITION_FROM`` entries and more) are searched per query
over candidates: the entries of the nearest semantic lists plus the best keyword matches
(``KEYWORD_CANDIDATES``); the z-score and the BM25 maximum stay bank-wide and exact.
``bench/lookup_scale.py`` measures how often that changes the top 10 against a full scan.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scripts_bank.bm25 import KeywordIndex
from scripts_bank.vectors import Indices, SemanticIndex
from training.nlp.embeddings import Embedder
from training.nlp.keywords import keywords

Matrix = npt.NDArray[np.float32]
#: Queries scored together: bounds the dense (queries x bank) matrices in memory.
QUERY_CHUNK = 256
#: Best keyword matches always scored in a partitioned search, wherever their vectors lie.
KEYWORD_CANDIDATES = 256
#: A filtered search over at most this many entries scans them all, even in a partitioned bank.
EXACT_FILTER_LIMIT = 20_000
#: Query vectors kept per index: the lookup page reruns the same query on every widget change.
QUERY_CACHE_SIZE = 256


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
        show_progress: bool = False, semantic: SemanticIndex | None = None,
        keyword_index: KeywordIndex | None = None,
    ) -> None:
        """Index ``entries``; ``semantic`` and ``keyword_index`` are prebuilt parts (a persisted index)."""
        if not 0 <= semantic_weight <= 1:
            raise ValueError("semantic_weight must lie in [0, 1]")
        self.entries = list(entries)
        self.embedder = embedder
        self.semantic_weight = semantic_weight
        self._position = {e.id: i for i, e in enumerate(self.entries)}
        if semantic is None:
            # The question alone is embedded: what the agent pastes is the customer's question.
            vectors = (embedder.embed([e.question for e in self.entries], show_progress=show_progress)
                       if self.entries else np.zeros((0, 0), np.float32))
            semantic = SemanticIndex.build(vectors)
        if keyword_index is None:
            keyword_index = KeywordIndex([entry_tokens(e) for e in self.entries])
        if len(semantic) != len(self.entries) or keyword_index.counts.shape[0] != len(self.entries):
            raise ValueError("index parts do not match the entries")
        self.semantic = semantic
        self.keyword_index = keyword_index
        self._query_vectors: OrderedDict[str, Matrix] = OrderedDict()
        self._query_lock = threading.Lock()

    def _mask(self, only: Collection[str] | None) -> npt.NDArray[np.bool_] | None:
        if only is None:
            return None
        mask = np.zeros(len(self.entries), dtype=bool)
        mask[[self._position[i] for i in only if i in self._position]] = True
        return mask

    def embed_queries(self, queries: Sequence[str], *, show_progress: bool = False) -> Matrix:
        """Query vectors: one live query skips the embedding store (a DB round trip) for a small LRU."""
        if len(queries) > 1:
            return self.embedder.embed(list(queries), show_progress=show_progress)
        query = queries[0]
        with self._query_lock:  # sessions share the index: their threads share this LRU
            cached = self._query_vectors.get(query)
            if cached is not None:
                self._query_vectors.move_to_end(query)
        if cached is None:
            encode_query = getattr(self.embedder.encoder, "encode_query", None)
            # The lean path (training.nlp.encoder.query) where the encoder has one: same vector.
            cached = encode_query(query) if encode_query else self.embedder.encoder.encode([query])[0]
            with self._query_lock:
                self._query_vectors[query] = cached
                self._query_vectors.move_to_end(query)
                if len(self._query_vectors) > QUERY_CACHE_SIZE:
                    self._query_vectors.popitem(last=False)
        return cached[None, :]

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
        query_vecs = self.embed_queries(queries, show_progress=show_progress)
        tokens = [keywords(q) for q in queries]
        if self.semantic.partition is not None:
            return [self._search_candidates(v, t, k, mask) for v, t in zip(query_vecs, tokens, strict=True)]
        results: list[list[Hit]] = []
        for part in _chunks(len(queries), QUERY_CHUNK):
            cosines = self.semantic.all_cosines(query_vecs[part])
            bm25 = self.keyword_index.scores(tokens[part])
            fused = fuse(cosines, bm25, self.semantic_weight)
            if mask is not None:
                fused[:, ~mask] = -np.inf
            allowed = len(self.entries) if mask is None else int(mask.sum())
            for row in range(fused.shape[0]):
                results.append(self._top(fused[row], cosines[row], bm25[row], min(k, allowed)))
        return results

    def _search_candidates(
        self, query: Matrix, tokens: list[str], k: int, mask: npt.NDArray[np.bool_] | None,
    ) -> list[Hit]:
        """One query against a partitioned bank: nearest lists plus the best keyword matches."""
        bm25 = self.keyword_index.query_scores(tokens)
        allowed = len(self.entries) if mask is None else int(mask.sum())
        k = min(k, allowed)
        small_filter = mask is not None and allowed <= EXACT_FILTER_LIMIT
        positions, cosines = np.zeros(0, np.int64), np.zeros(0, np.float32)
        if not small_filter:
            positions, cosines = self.semantic.probe(query)
            matched = np.flatnonzero(bm25)
            if len(matched) > KEYWORD_CANDIDATES:
                best_matches = np.argpartition(-bm25[matched], KEYWORD_CANDIDATES - 1)
                matched = matched[best_matches[:KEYWORD_CANDIDATES]]
            seen = np.zeros(len(self.entries), dtype=bool)
            seen[positions] = True
            extra = matched[~seen[matched]]
            positions = np.concatenate([positions, extra])
            cosines = np.concatenate([cosines, self.semantic.cosines(query, extra)])
            if mask is not None:
                positions, cosines = positions[mask[positions]], cosines[mask[positions]]
        if small_filter or len(positions) < k:
            # A small filtered set, or too few candidates: score every allowed entry.
            positions = np.flatnonzero(mask) if mask is not None else np.arange(len(self.entries))
            cosines = self.semantic.cosines(query, positions)
        mean, std = self.semantic.cosine_stats(query)
        best = float(bm25.max())
        keyword = bm25[positions]
        relative = keyword / best if best > 0 else np.zeros_like(keyword)
        w = self.semantic_weight
        fused: Matrix = (w * (cosines - mean) / std + (1 - w) * relative).astype(np.float32)
        order = self._order(fused, positions, k)
        return [Hit(self.entries[positions[i]].id, float(fused[i]), float(cosines[i]), float(keyword[i]))
                for i in order]

    @staticmethod
    def _order(fused: Matrix, positions: Indices, k: int) -> Indices:
        """Indices of the ``k`` best of ``fused``, best first, ties in bank order (``positions``)."""
        if k < len(fused):
            candidates = np.argpartition(-fused, k - 1)[:k]
            # Keep every entry tied with the k-th best, so ties still break in bank order.
            candidates = np.union1d(candidates, np.flatnonzero(fused >= fused[candidates].min()))
        else:
            candidates = np.arange(len(fused))
        order: Indices = candidates[np.lexsort((positions[candidates], -fused[candidates]))][:k]
        return order

    def _top(self, fused: Matrix, semantic: Matrix, keyword: Matrix, k: int) -> list[Hit]:
        order = self._order(fused, np.arange(len(fused)), k)
        return [Hit(self.entries[i].id, float(fused[i]), float(semantic[i]), float(keyword[i]))
                for i in order]
