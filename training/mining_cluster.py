"""Grouping embedded questions: weighted leader clustering on cosine similarity.

Every cluster is a star around a leader: each member is at least ``threshold`` similar to its
leader. Unlike single linkage this cannot chain ("发货" → "发票" → "退票" through intermediate
questions), and it needs only blocks of the similarity matrix, O(n²·d) time and O(n·block)
memory, instead of agglomerative clustering's full matrix and merge loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
_BLOCK = 512  # rows of the similarity matrix held at once (512 x 5,000 floats = 10 MB)


def _report(progress: Callable[[float], None] | None, fraction: float) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0))


def leader_clusters(
    vectors: Vectors,
    weights: Sequence[int],
    threshold: float,
    *,
    compatible: Sequence[int] | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[int]:
    """Cluster label (the index of its leader) for each row of L2-normalised ``vectors``.

    Leaders are chosen greedily by weighted density: the row whose neighbourhood (cosine >=
    ``threshold``) holds the most question turns leads first and takes every unassigned neighbour;
    then each member moves to the leader it is most similar to. Ties go to the lower index, so
    the result depends only on the input order.

    Args:
        vectors: one L2-normalised row per distinct question text.
        weights: how many question turns each row stands for.
        threshold: minimum cosine between a member and its leader.
        compatible: optional group id per row (e.g. the question's category): a row joins only
            a leader of its own group, except that a row of group ``-1`` (no group) may join
            any leader; a leader of group ``-1`` takes only rows of that group.
        progress: called with the fraction done (0..1).

    Returns:
        For each row, the index of the row that leads its cluster.
    """
    n = len(vectors)
    if n == 0:
        return []
    w = np.asarray(weights, dtype=np.float64)
    groups = None if compatible is None else np.asarray(compatible, dtype=np.int64)
    neighbours: list[npt.NDArray[np.int64]] = []
    density = np.empty(n, dtype=np.float64)
    steps = 2 * ((n + _BLOCK - 1) // _BLOCK)
    for step, start in enumerate(range(0, n, _BLOCK)):
        sims = vectors[start : start + _BLOCK] @ vectors.T
        mask = sims >= threshold
        if groups is not None:  # block rows as leaders, every row as a member
            mask &= _joinable(groups, groups[start : start + _BLOCK]).T
        for row in range(mask.shape[0]):
            idx = np.flatnonzero(mask[row])
            neighbours.append(idx)
            density[start + row] = w[idx].sum()
        _report(progress, (step + 1) / steps)

    # Densest first; equal density: the more frequent text, then the earlier one.
    order = np.lexsort((np.arange(n), -w, -density))
    leader_of = np.full(n, -1, dtype=np.int64)
    leaders: list[int] = []
    for i in order:
        if leader_of[i] >= 0:
            continue
        leaders.append(int(i))
        members = neighbours[i][leader_of[neighbours[i]] < 0]
        leader_of[members] = i
        leader_of[i] = i

    # Reassignment: a row taken by an early leader may be closer to a later one.
    lead = np.asarray(leaders, dtype=np.int64)
    lead_vectors = vectors[lead]
    is_leader = np.zeros(n, dtype=bool)
    is_leader[lead] = True
    for step, start in enumerate(range(0, n, _BLOCK), start=steps // 2):
        sims = vectors[start : start + _BLOCK] @ lead_vectors.T
        if groups is not None:
            sims = np.where(_joinable(groups[start : start + _BLOCK], groups[lead]), sims, -2.0)
        best = lead[np.argmax(sims, axis=1)]  # argmax: first maximum, i.e. the earliest leader
        rows = np.arange(start, min(start + _BLOCK, n))
        moved = ~is_leader[rows] & (sims.max(axis=1) >= threshold)
        leader_of[rows[moved]] = best[moved]
        _report(progress, (step + 1) / steps)
    return [int(x) for x in leader_of]


def _joinable(members: npt.NDArray[np.int64], leaders: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """``[i, j]``: may a row of group ``members[i]`` join a leader of group ``leaders[j]``."""
    ok: npt.NDArray[np.bool_] = (members[:, None] == leaders[None, :]) | (members[:, None] < 0)
    return ok


def centrality(vectors: Vectors, weights: Sequence[int]) -> npt.NDArray[np.float64]:
    """Weighted mean cosine of each row to all rows (itself included) of one cluster."""
    w = np.asarray(weights, dtype=np.float64)
    sims = (vectors @ vectors.T).astype(np.float64)
    return np.asarray(sims @ w / w.sum(), dtype=np.float64)
