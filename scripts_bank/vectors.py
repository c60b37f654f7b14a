"""Cosine search over the bank's question vectors: exact for small banks, partitioned for large ones.

One query against 100,000 float32 vectors of 384 dimensions reads 150 MB: on a shared 2-core
machine that is 25-50 ms of memory traffic, the whole latency budget of a live lookup
(``bench/lookup_scale.py``). Large banks are therefore split into about sqrt(n) lists by spherical
k-means, stored list after list so one list is one contiguous block, and a query scans only the
lists whose centroids are nearest (an inverted-file index). The bank-wide mean and spread of a
query's cosines, which the fusion needs, stay exact without a full scan: they follow from the
mean vector and covariance matrix of the bank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
Indices = npt.NDArray[np.int64]
#: Banks with at least this many entries are partitioned; below it a full scan costs < ~3 ms.
PARTITION_FROM = 20_000
#: Share of the lists a query scans (measured in ``bench/lookup_scale.py``).
PROBE_SHARE = 0.08
_KMEANS_ROUNDS = 10
_KMEANS_SAMPLE_PER_LIST = 64
_BLOCK = 8192


@dataclass(frozen=True)
class Partition:
    """Inverted lists: centroids and, per list, a contiguous range of the stored vectors."""

    centroids: Matrix
    offsets: Indices  # list i holds stored rows offsets[i]:offsets[i + 1]
    rows: Indices  # stored row -> bank position


def _nearest(vectors: Matrix, centroids: Matrix) -> Indices:
    """Index of the most similar centroid of every vector (blockwise, bounded memory)."""
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), _BLOCK):
        out[start : start + _BLOCK] = np.argmax(vectors[start : start + _BLOCK] @ centroids.T, axis=1)
    return out


def spherical_kmeans(vectors: Matrix, n_lists: int, *, seed: int = 0) -> Matrix:
    """Unit-length centroids of ``n_lists`` clusters of ``vectors`` (trained on a fixed-seed sample).

    Args:
        vectors: L2-normalised rows.
        n_lists: number of clusters (at most the number of rows).
        seed: the sample and the initial centroids depend on it alone, so a bank gets the same
            partition every time it is built.

    Returns:
        ``(n_lists, dim)`` float32 centroids.
    """
    rng = np.random.default_rng(seed)
    n = len(vectors)
    sample = vectors[np.sort(rng.choice(n, min(n, n_lists * _KMEANS_SAMPLE_PER_LIST), replace=False))]
    centroids = sample[rng.choice(len(sample), n_lists, replace=False)].copy()
    for _ in range(_KMEANS_ROUNDS):
        labels = _nearest(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, sample)
        empty = np.bincount(labels, minlength=n_lists) == 0
        # An empty cluster restarts from a random sample point instead of dying out.
        sums[empty] = sample[rng.choice(len(sample), int(empty.sum()))]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(centroids, dtype=np.float32)


class SemanticIndex:
    """The bank's question vectors with exact bank-wide cosine statistics and optional lists."""

    def __init__(self, vectors: Matrix, mean: npt.NDArray[np.float64],
                 covariance: npt.NDArray[np.float64], partition: Partition | None = None) -> None:
        # Stored in list order when partitioned; ``position`` maps a bank position back.
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.mean = mean
        self.covariance = covariance
        self.partition = partition
        self.position: Indices | None = None
        if partition is not None:
            self.position = np.empty(len(partition.rows), dtype=np.int64)
            self.position[partition.rows] = np.arange(len(partition.rows))

    def __len__(self) -> int:
        return len(self.vectors)

    @classmethod
    def build(cls, vectors: Matrix, *, centroids: Matrix | None = None,
              partition_from: int | None = None) -> SemanticIndex:
        """Index of bank-ordered ``vectors``; banks of ``partition_from`` rows or more get lists.

        Args:
            vectors: one L2-normalised row per bank entry, in bank order.
            centroids: lists of an earlier build to reuse (k-means is skipped); ignored for
                banks too small to partition.
            partition_from: smallest bank that is partitioned (default ``PARTITION_FROM``).

        Returns:
            The index, vectors in list order when partitioned.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(vectors)
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        mean = vectors.astype(np.float64).mean(axis=0) if n else np.zeros(dim)
        covariance = np.zeros((dim, dim))
        # Centred first: cosines of e5 sit within a few hundredths of their mean, so
        # E[cos^2] - E[cos]^2 would lose the variance to cancellation.
        centre = mean.astype(np.float32)
        for start in range(0, n, _BLOCK):
            block = vectors[start : start + _BLOCK] - centre
            covariance += (block.T @ block).astype(np.float64)
        covariance /= max(n, 1)
        if n < max(PARTITION_FROM if partition_from is None else partition_from, 1):
            return cls(vectors, mean, covariance)
        if centroids is None or centroids.shape[1] != dim:
            centroids = spherical_kmeans(vectors, max(1, round(math.sqrt(n))))
        labels = _nearest(vectors, centroids)
        rows = np.argsort(labels, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=len(centroids)))])
        return cls(vectors[rows], mean, covariance, Partition(centroids, offsets.astype(np.int64), rows))

    def cosine_stats(self, query: Matrix) -> tuple[float, float]:
        """Mean and standard deviation of the query's cosines over the whole bank (exact)."""
        mean = float(self.mean @ query)
        variance = float(query @ self.covariance @ query)
        return mean, math.sqrt(variance) if variance > 1e-18 else 1.0

    def all_cosines(self, queries: Matrix) -> Matrix:
        """Cosines of every bank entry for each query row, in bank order."""
        cosines: Matrix = queries @ self.vectors.T
        if self.partition is None:
            return cosines
        out = np.empty_like(cosines)
        out[:, self.partition.rows] = cosines
        return out

    def cosines(self, query: Matrix, entries: Indices) -> Matrix:
        """Cosines of the given bank positions."""
        rows = entries if self.position is None else self.position[entries]
        out: Matrix = self.vectors[rows] @ query
        return out

    def probe(self, query: Matrix, share: float | None = None) -> tuple[Indices, Matrix]:
        """Bank positions and cosines of the entries in the lists nearest to ``query``.

        Args:
            query: one L2-normalised vector.
            share: fraction of the lists scanned, at least one (default ``PROBE_SHARE``).

        Returns:
            ``(positions, cosines)``; every entry when the index is not partitioned.
        """
        if self.partition is None:
            return np.arange(len(self.vectors)), self.vectors @ query
        part = self.partition
        share = PROBE_SHARE if share is None else share
        n_probe = min(len(part.centroids), max(1, math.ceil(share * len(part.centroids))))
        nearest = np.argpartition(-(part.centroids @ query), n_probe - 1)[:n_probe]
        spans = [(int(part.offsets[i]), int(part.offsets[i + 1])) for i in np.sort(nearest)]
        cosines = np.concatenate([self.vectors[a:b] @ query for a, b in spans])
        positions = np.concatenate([part.rows[a:b] for a, b in spans])
        return positions, cosines
