"""The embedding cache: each (model, text) is encoded once, in the DB or on disk."""

from __future__ import annotations

from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from training.models import EmbeddingCache
from training.nlp.embeddings import DbEmbeddingStore, DiskEmbeddingStore, Embedder, Vectors


class CountingEncoder:
    """A fake encoder: deterministic vectors, counts what it was asked to encode."""

    model_id = "fake-model"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> Vectors:
        self.seen.extend(texts)
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=8) for t in texts]
        matrix = np.array(rows, dtype=np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_embedder_encodes_each_distinct_text_once(engine: Engine) -> None:
    encoder = CountingEncoder()
    embedder = Embedder(encoder, DbEmbeddingStore(engine))
    first = embedder.embed(["甲", "乙", "甲"])
    assert encoder.seen == ["甲", "乙"]
    assert np.allclose(first[0], first[2])
    again = Embedder(CountingEncoder(), DbEmbeddingStore(engine))
    second = again.embed(["乙", "丙"])
    assert again.encoder.seen == ["丙"]  # type: ignore[attr-defined]
    assert np.allclose(second[0], first[1])
    with Session(engine) as session:
        rows = session.exec(select(EmbeddingCache)).all()
    assert {r.model_id for r in rows} == {"fake-model"} and len(rows) == 3


def _fill(path: str, start: int) -> None:
    store = DiskEmbeddingStore(Path(path))
    Embedder(CountingEncoder(), store).embed([f"文本{i}" for i in range(start, start + 200)])


def test_disk_store_survives_concurrent_writers(tmp_path: Path) -> None:
    path = str(tmp_path / "cache.sqlite")
    ctx = get_context("spawn")
    workers = [ctx.Process(target=_fill, args=(path, s)) for s in (0, 100, 50)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    encoder = CountingEncoder()
    Embedder(encoder, DiskEmbeddingStore(Path(path))).embed([f"文本{i}" for i in range(300)])
    assert encoder.seen == []
