"""Embeddings computed once per (model, text): a cache in the app's DB or on disk for the CLI."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from training.models import EmbeddingCache

Vectors = npt.NDArray[np.float32]


class TextEncoder(Protocol):
    """What the cache needs of an encoder (``training.nlp.encoder.encoder.Encoder`` satisfies it)."""

    model_id: str

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
    ) -> Vectors: ...


class PromptTextEncoder(TextEncoder, Protocol):
    """An encoder that can embed with a named prompt (e5's "query: " / "passage: ")."""

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
        prompt_name: str | None = None,
    ) -> Vectors: ...


class EmbeddingStore(Protocol):
    """Persistent map (model id, text hash) -> vector."""

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, Vectors]: ...

    def put_many(self, model_id: str, vectors: dict[str, Vectors]) -> None: ...


def text_hash(text: str) -> str:
    """Stable key of a text for the cache."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DbEmbeddingStore:
    """The app's cache: the ``embeddingcache`` table of the configured database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, Vectors]:
        """Cached vectors for those of ``hashes`` that are present."""
        found: dict[str, Vectors] = {}
        with Session(self._engine) as session:
            for chunk in _chunks(hashes, 500):
                rows = session.exec(
                    select(EmbeddingCache).where(
                        EmbeddingCache.model_id == model_id, col(EmbeddingCache.text_hash).in_(chunk)
                    )
                ).all()
                for row in rows:
                    found[row.text_hash] = np.frombuffer(row.vector, dtype=np.float32)
        return found

    def put_many(self, model_id: str, vectors: dict[str, Vectors]) -> None:
        """Store vectors; a key another process stored meanwhile is left as it is."""
        with Session(self._engine) as session:
            present = set(self.get_many(model_id, list(vectors)))
            for key, vec in vectors.items():
                if key not in present:
                    session.add(EmbeddingCache(model_id=model_id, text_hash=key, dim=len(vec),
                                               vector=np.asarray(vec, np.float32).tobytes()))
            try:
                session.commit()
            except Exception:  # noqa: BLE001 - a concurrent writer won the race; the cache is optional
                session.rollback()


class DiskEmbeddingStore:
    """The CLI's cache: one SQLite file under the data dir (WAL, safe under concurrent runs)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn, conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embedding (model_id TEXT, text_hash TEXT, vector BLOB,"
                " PRIMARY KEY (model_id, text_hash))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30)

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, Vectors]:
        """Cached vectors for those of ``hashes`` that are present."""
        found: dict[str, Vectors] = {}
        with closing(self._connect()) as conn:
            for chunk in _chunks(hashes, 500):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT text_hash, vector FROM embedding WHERE model_id = ? "
                    f"AND text_hash IN ({marks})", (model_id, *chunk),
                ).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model_id: str, vectors: dict[str, Vectors]) -> None:
        """Store vectors (INSERT OR IGNORE, so concurrent runs never conflict)."""
        with closing(self._connect()) as conn, conn:
            conn.executemany(
                "INSERT OR IGNORE INTO embedding VALUES (?, ?, ?)",
                [(model_id, k, np.asarray(v, np.float32).tobytes()) for k, v in vectors.items()],
            )


class Embedder:
    """Encoder plus cache: embeds each distinct text once and remembers it."""

    def __init__(self, encoder: TextEncoder, store: EmbeddingStore | None = None) -> None:
        self.encoder = encoder
        self.store = store

    @property
    def model_id(self) -> str:
        """Id of the underlying model (part of every cache key)."""
        return self.encoder.model_id

    def embed(
        self, texts: Sequence[str], *, show_progress: bool = False, prompt: str | None = None,
    ) -> Vectors:
        """L2-normalised embeddings of ``texts`` (one row each, in order).

        ``prompt`` asks a ``PromptTextEncoder`` for a named prompt (e.g. "passage"); those
        vectors are cached under ``<model id>#<prompt>`` so they never mix with the default ones.
        An encoder with a ``base`` (``training.nlp.encoder.adapter.AdapterEncoder``) caches its
        base's vectors under the base's id and maps them on every call (a matrix product).
        """
        base = getattr(self.encoder, "base", None)
        if base is not None:  # a projection adapter: the base's (cached) vectors, then its map
            vectors = Embedder(base, self.store).embed(texts, show_progress=show_progress, prompt=prompt)
            return cast(Vectors, self.encoder.apply_head(vectors, prompt))  # type: ignore[attr-defined]
        unique = list(dict.fromkeys(texts))
        keys = {t: text_hash(t) for t in unique}
        cache_id = self.model_id if prompt is None else f"{self.model_id}#{prompt}"
        cached = self.store.get_many(cache_id, list(keys.values())) if self.store else {}
        missing = [t for t in unique if keys[t] not in cached]
        if missing:
            if prompt is None:
                fresh = self.encoder.encode(missing, show_progress=show_progress)
            else:
                encoder = cast(PromptTextEncoder, self.encoder)
                fresh = encoder.encode(missing, show_progress=show_progress, prompt_name=prompt)
            new = {keys[t]: fresh[i] for i, t in enumerate(missing)}
            if self.store is not None:
                self.store.put_many(cache_id, new)
            cached.update(new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([cached[keys[t]] for t in texts]).astype(np.float32, copy=False)

    def __call__(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        return self.embed(texts, show_progress=show_progress)
