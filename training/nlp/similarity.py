"""Semantic similarity of short Chinese texts: the cosine of their embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.nlp.embeddings import Embedder


def similarity_scores(
    pairs: Sequence[tuple[str, str]], *, embedder: Embedder, show_progress: bool = False,
) -> list[float]:
    """Cosine similarity of each pair.

    Args:
        pairs: (a, b) texts.
        embedder: encoder with cache; every distinct text is embedded once.
        show_progress: draw a progress bar on stderr while encoding.

    Returns:
        One float per pair, higher = more similar (e5 cosines bunch high: ~0.8 is unrelated).
    """
    if not pairs:
        return []
    texts = [t for pair in pairs for t in pair]
    vectors = embedder.embed(texts, show_progress=show_progress)
    a, b = vectors[0::2], vectors[1::2]
    return [float(x) for x in np.einsum("ij,ij->i", a, b)]
