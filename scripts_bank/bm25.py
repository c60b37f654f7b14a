"""Okapi BM25 keyword scores over jieba tokens, kept as one sparse matrix (the lookup's keyword half)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from scripts_bank.vectors import Matrix


def term_counts(documents: Sequence[Sequence[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    """(documents x terms) counts; new terms are appended to ``vocabulary`` in place."""
    rows: list[int] = []
    cols: list[int] = []
    for row, doc in enumerate(documents):
        for token in doc:
            rows.append(row)
            cols.append(vocabulary.setdefault(token, len(vocabulary)))
    counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                               shape=(len(documents), len(vocabulary)))
    counts.sum_duplicates()
    return counts


class KeywordIndex:
    """Okapi BM25 over jieba tokens as one sparse matrix, so a batch of queries is one product."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        vocabulary: dict[str, int] = {}
        counts = term_counts(documents, vocabulary)
        self._setup(vocabulary, counts, k1, b)

    @classmethod
    def from_counts(cls, terms: Sequence[str], counts: sparse.csr_matrix, *, k1: float = 1.5,
                    b: float = 0.75) -> KeywordIndex:
        """Index of precomputed (documents x terms) counts, ``terms`` naming the columns in order."""
        if counts.shape[1] != len(terms):
            raise ValueError(f"{counts.shape[1]} count columns for {len(terms)} terms")
        index = cls.__new__(cls)
        index._setup({t: i for i, t in enumerate(terms)}, sparse.csr_matrix(counts), k1, b)
        return index

    def _setup(self, vocabulary: dict[str, int], counts: sparse.csr_matrix, k1: float, b: float) -> None:
        self.vocabulary = vocabulary
        #: (documents x terms) raw counts: what is persisted and reused when the bank changes.
        self.counts = counts
        n, n_terms = counts.shape
        df = np.bincount(counts.indices, minlength=n_terms).astype(np.float64)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        lengths = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
        avg = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
        coo = counts.tocoo()
        norm = k1 * (1 - b + b * lengths[coo.row] / avg)
        weights = coo.data * (k1 + 1) / (coo.data + norm) * idf[coo.col]
        # (terms x documents): a query's terms are a few rows, their sum every document's score.
        self._weights = sparse.csr_matrix((weights, (coo.col, coo.row)), shape=(n_terms, n))
        self._n = n

    def _columns(self, query: Sequence[str]) -> list[int]:
        return [c for c in (self.vocabulary.get(t) for t in set(query)) if c is not None]

    def scores(self, queries: Sequence[Sequence[str]]) -> Matrix:
        """BM25 of every document for each tokenised query (each distinct term counts once)."""
        out = np.zeros((len(queries), self._n), dtype=np.float32)
        for row, query in enumerate(queries):
            out[row] = self.query_scores(query)
        return out

    def query_scores(self, query: Sequence[str]) -> Matrix:
        """BM25 of every document for one tokenised query; costs only the query terms' postings."""
        postings = self._weights[self._columns(query)]
        return np.bincount(postings.indices, weights=postings.data, minlength=self._n).astype(np.float32)
