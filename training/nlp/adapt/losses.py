"""The two training losses every adaptation variant uses, on already-computed embeddings.

- ``ranking_loss``: in-batch softmax ranking (multiple-negatives ranking). Row ``i`` of the
  anchors should pick candidate ``i``; every other candidate is a negative, except a copy of the
  same text (another anchor's positive that is my positive is not a negative for me).
- ``cosent_loss``: CoSENT, the pairwise order of scaled cosines against graded labels.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any


def ranking_loss(anchors: Any, candidates: Any, keys: Sequence[Hashable], scale: float) -> Any:
    """Cross-entropy of each anchor over the candidates; ``keys`` name each candidate's text.

    Args:
        anchors: (B, d) normalised embeddings; anchor ``i``'s positive is candidate ``i``.
        candidates: (C, d) normalised embeddings, C >= B (positives first, then hard negatives).
        keys: one identity per candidate (a text, or a (text, prompt) pair); equal keys are copies.
        scale: the inverse temperature applied to the cosines.
    """
    import torch
    import torch.nn.functional as f

    size = int(anchors.shape[0])
    index: dict[Hashable, int] = {}
    ids = torch.tensor([index.setdefault(k, len(index)) for k in keys])
    same = (ids[None, :] == ids[:size, None]) & ~torch.eye(size, len(keys), dtype=torch.bool)
    logits = (anchors @ candidates.T * scale).masked_fill(same, float("-inf"))
    return f.cross_entropy(logits, torch.arange(size))


def cosent_loss(cosines: Any, labels: Sequence[float]) -> Any:
    """CoSENT: ``cosines`` (already scaled) penalised where their order contradicts ``labels``."""
    import torch

    target = torch.tensor(list(labels))
    diff = cosines[None, :] - cosines[:, None]  # [i, j] = cos_j - cos_i, penalised where label_i > label_j
    mask = target[:, None] > target[None, :]
    if not bool(mask.any()):
        return (cosines * 0).sum()
    return torch.logsumexp(torch.cat([torch.zeros(1), diff[mask]]), dim=0)
