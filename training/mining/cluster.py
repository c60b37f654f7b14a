"""Grouping embedded questions: weighted leader clustering on cosine similarity.

Every cluster is a star around a leader: each member is at least ``threshold`` similar to its
leader. Unlike single linkage this cannot chain ("发货" → "发票" → "退票" through intermediate
questions). Similarities are computed block by block and only between rows that may join each
other (same category, or an uncategorised member), and only the pairs above the threshold are
kept, so memory grows with the neighbours found, not with n². The reassignment step reuses those
pairs instead of comparing every row with every leader again.

The comparisons stay O(n²) in the distinct questions of a bucket: a k-means cell search (compare a
row only with its nearest cells) was tried and measured on the 16x JD log (``bench/scale.py``):
slower than the exact blocks and lost 10-11 % of the pairs (ARI 0.51-0.62 against exact): e5's
vectors sit in a narrow cone where a cosine of 0.92 is not far from the typical one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
_BLOCK = 512  # rows of the similarity matrix held at once (512 x 5,000 floats = 10 MB)


def _report(progress: Callable[[float], None] | None, fraction: float) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0))


@dataclass(frozen=True)
class Neighbourhoods:
    """Pairs (leader row, member row, cosine) with cosine >= threshold, as CSR over leader rows.

    Row ``i``'s members are ``members[start[i]:start[i + 1]]`` (ascending), with ``cosines`` alike.
    """

    start: npt.NDArray[np.int64]
    members: npt.NDArray[np.int64]
    cosines: Vectors

    def of(self, row: int) -> npt.NDArray[np.int64]:
        """The rows ``row`` may take as a leader (itself included)."""
        return self.members[self.start[row] : self.start[row + 1]]


def _buckets(groups: npt.NDArray[np.int64] | None, n: int) -> list[tuple[npt.NDArray[np.int64],
                                                                      npt.NDArray[np.int64]]]:
    """(leader rows, member rows) of each group: its own rows, plus group -1's as members."""
    if groups is None:
        everything = np.arange(n, dtype=np.int64)
        return [(everything, everything)]
    loose = np.flatnonzero(groups < 0)
    out = []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        out.append((rows, rows if g < 0 else np.union1d(rows, loose)))
    return out


def neighbourhoods(
    vectors: Vectors,
    threshold: float,
    *,
    compatible: Sequence[int] | None = None,
    block: int = _BLOCK,
    progress: Callable[[float], None] | None = None,
) -> Neighbourhoods:
    """Every (leader, member) pair with cosine >= ``threshold`` that may join (see ``leader_clusters``).

    Args:
        vectors: L2-normalised rows.
        threshold: minimum cosine.
        compatible: optional group id per row, as in :func:`leader_clusters`.
        block: leader rows compared at once (bounds memory to ``block`` x bucket size).
        progress: called with the fraction done (0..1).

    Returns:
        The pairs, each leader's members in ascending order.
    """
    n = len(vectors)
    groups = None if compatible is None else np.asarray(compatible, dtype=np.int64)
    buckets = _buckets(groups, n)
    total = sum(len(rows) for rows, _ in buckets) or 1
    leaders: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)]
    members: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)]
    cosines: list[Vectors] = [np.zeros(0, np.float32)]
    done = 0
    for rows, columns in buckets:
        for lead, member, cosine in _exact_pairs(vectors, rows, columns, threshold, block):
            leaders.append(lead)
            members.append(member)
            cosines.append(cosine.astype(np.float32, copy=False))
        done += len(rows)
        _report(progress, done / total)
    lead, member = np.concatenate(leaders), np.concatenate(members)
    order = np.lexsort((member, lead))
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(lead, minlength=n), out=start[1:])
    return Neighbourhoods(start, member[order], np.concatenate(cosines)[order])


_Pairs = Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Vectors]]


def _exact_pairs(vectors: Vectors, rows: npt.NDArray[np.int64], columns: npt.NDArray[np.int64],
                 threshold: float, block: int) -> _Pairs:
    """Pairs of one bucket from its full similarity matrix, ``block`` rows at a time."""
    column_vectors = vectors[columns]
    for a in range(0, len(rows), block):
        chunk = rows[a : a + block]
        sims = vectors[chunk] @ column_vectors.T
        r, c = np.nonzero(sims >= threshold)
        yield chunk[r], columns[c], sims[r, c]


def leader_clusters(
    vectors: Vectors,
    weights: Sequence[int],
    threshold: float,
    *,
    compatible: Sequence[int] | None = None,
    block: int = _BLOCK,
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
        block: rows compared at once (memory, not results).
        progress: called with the fraction done (0..1).

    Returns:
        For each row, the index of the row that leads its cluster.
    """
    n = len(vectors)
    if n == 0:
        return []
    w = np.asarray(weights, dtype=np.float64)
    hood = neighbourhoods(vectors, threshold, compatible=compatible, block=block,
                          progress=None if progress is None else (lambda f: progress(0.95 * f)))
    pair_leader = np.repeat(np.arange(n, dtype=np.int64), np.diff(hood.start))
    density = np.bincount(pair_leader, weights=w[hood.members], minlength=n)

    # Densest first; equal density: the more frequent text, then the earlier one.
    order = np.lexsort((np.arange(n), -w, -density))
    leader_of = np.full(n, -1, dtype=np.int64)
    for i in order:
        if leader_of[i] >= 0:
            continue
        taken = hood.of(int(i))
        leader_of[taken[leader_of[taken] < 0]] = i
        leader_of[i] = i
    _reassign(leader_of, hood, pair_leader, order)
    _report(progress, 1.0)
    return [int(x) for x in leader_of]


def _reassign(leader_of: npt.NDArray[np.int64], hood: Neighbourhoods,
              pair_leader: npt.NDArray[np.int64], order: npt.NDArray[np.int64]) -> None:
    """Move each member to its most similar compatible leader (ties: the earlier-chosen leader).

    A row taken by an early leader may be closer to a later one. The candidates are exactly the
    leaders whose neighbourhood holds the row, so the pairs found before are all that is needed.
    """
    n = len(leader_of)
    is_leader = leader_of == np.arange(n)
    rank = np.full(n, n, dtype=np.int64)
    chosen = order[is_leader[order]]  # leaders in the order they were chosen
    rank[chosen] = np.arange(len(chosen))
    keep = is_leader[pair_leader] & ~is_leader[hood.members]
    member, leader, cosine = hood.members[keep], pair_leader[keep], hood.cosines[keep]
    best = np.lexsort((rank[leader], -cosine, member))  # per member: highest cosine, then rank
    first = np.ones(len(best), dtype=bool)
    first[1:] = member[best][1:] != member[best][:-1]
    leader_of[member[best][first]] = leader[best][first]


def centrality(vectors: Vectors, weights: Sequence[int]) -> npt.NDArray[np.float64]:
    """Weighted mean cosine of each row to all rows (itself included) of one cluster."""
    w = np.asarray(weights, dtype=np.float64)
    sims = (vectors @ vectors.T).astype(np.float64)
    return np.asarray(sims @ w / w.sum(), dtype=np.float64)
