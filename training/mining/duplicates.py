"""Near-duplicate questions already in the bank, offered to the trainer for merging.

Clusters of different imports, or split by the leader clustering (each member must be close to
its leader, so two leaders may be close to each other), can ask the same thing: 「今天下单啥时候
能发」 and 「什么时候发货」. Nothing is merged here; the 问题库 page shows the pairs and merges
what the trainer confirms (``training.mining.question_bank.merge_clusters``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from training.auth.permissions import STAFF, require_role
from training.mining.bank import group_of
from training.mining.mine import DEFAULT_THRESHOLD
from training.mining.text import embedding_text
from training.models import MinedQuestion, User
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import model_threshold

_BLOCK = 512


@dataclass(frozen=True)
class MergeCandidate:
    """Two visible clusters whose questions are as close as questions mining merges."""

    first: MinedQuestion  # the more frequent one, which a merge keeps
    second: MinedQuestion
    similarity: float


def merge_candidates(
    *, session: Session, actor: User | None, embedder: Embedder, threshold: float | None = None,
    limit: int = 20,
) -> list[MergeCandidate]:
    """Pairs of visible clusters that look like one question, most similar first.

    Args:
        embedder: encoder plus cache.
        threshold: minimum cosine of the two questions; ``None`` means the threshold that merges
            questions within an import (``training.mining.mine.DEFAULT_THRESHOLD``) on the embedder's
            scale. Categories must be compatible, as in mining (其他 goes with any).
        limit: at most this many pairs; each cluster appears in at most one of them, so merging
            one pair never makes another stale.

    Returns:
        Candidate pairs, by similarity (descending).
    """
    require_role(actor, *STAFF)
    clusters = list(session.exec(
        select(MinedQuestion).where(col(MinedQuestion.hidden).is_(False))
        .order_by(col(MinedQuestion.frequency).desc(), col(MinedQuestion.id))).all())
    if len(clusters) < 2:
        return []
    if threshold is None:
        threshold = model_threshold(embedder.model_id, DEFAULT_THRESHOLD)
    vectors = embedder.embed([embedding_text(c.question) for c in clusters])
    groups = np.array([group_of(c.category) for c in clusters])
    pairs: list[tuple[float, int, int]] = []
    for start in range(0, len(clusters), _BLOCK):  # memory: a block of rows, not n x n
        sims = vectors[start:start + _BLOCK] @ vectors.T
        rows = groups[start:start + _BLOCK, None]
        compatible = (rows == groups[None, :]) | (rows < 0) | (groups[None, :] < 0)
        later = np.arange(len(clusters))[None, :] > np.arange(start, start + len(sims))[:, None]
        for i, j in zip(*np.nonzero(compatible & later & (sims >= threshold)), strict=True):
            pairs.append((float(sims[i, j]), start + int(i), int(j)))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used: set[int] = set()
    out: list[MergeCandidate] = []
    for similarity, i, j in pairs:
        if i in used or j in used:
            continue
        used.update((i, j))
        out.append(MergeCandidate(clusters[i], clusters[j], round(similarity, 3)))
        if len(out) >= limit:
            break
    return out
