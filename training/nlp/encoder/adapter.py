"""A projection adapter: the frozen encoder, then one linear map per side (query / answer).

``huashu adapt`` (``training.nlp.adapt.adapter``) trains two 384 x 384 maps on cached embeddings
of the shop's texts: one for the query side (customer turns, questions; e5 "query: ") and one for
the answer side (replies, scripts; e5 "passage: "). The saved folder is a standard
sentence-transformers model: the base modules, then a ``Router`` whose "query" and "document"
routes each hold a ``Dense`` layer, then ``Normalize`` (``build_router_model``), so any
sentence-transformers user can load it with ``encode_query`` / ``encode_document``.

Huashu itself runs it faster: the folder's card names the base (the embedded encoder), and
``AdapterEncoder`` embeds with that base (torch or ONNX, cached per text under the base's id by
``training.nlp.embeddings.Embedder``) and applies the maps in numpy, so switching to an adapted
model re-encodes nothing. ``ADAPTER_FILE`` holds the same maps as the Router's Dense layers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.nlp.encoder.model_ids import MODEL_CARD

#: The maps of both sides, beside the Router copy (numpy arrays ``query_w``, ``query_b``, ...).
ADAPTER_FILE = "huashu_adapter.npz"
#: Prompts embedded with the answer-side map; every other prompt (and none) takes the query side.
ANSWER_PROMPTS = frozenset({"passage", "document"})

Vectors = npt.NDArray[np.float32]


def side_of(prompt_name: str | None) -> str:
    """``"document"`` for answer-side prompts, else ``"query"`` (symmetric comparisons included)."""
    return "document" if prompt_name in ANSWER_PROMPTS else "query"


@dataclass(frozen=True)
class Heads:
    """The two linear maps: ``y = normalise(x @ w + b)`` with ``w`` (dim, dim), ``b`` (dim,)."""

    query_w: Vectors
    query_b: Vectors
    document_w: Vectors
    document_b: Vectors

    @classmethod
    def identity(cls, dim: int) -> Heads:
        """Maps that change nothing (the base model's embeddings)."""
        eye, zero = np.eye(dim, dtype=np.float32), np.zeros(dim, dtype=np.float32)
        return cls(eye, zero, eye.copy(), zero.copy())

    def apply(self, vectors: Vectors, side: str) -> Vectors:
        """Map base embeddings (rows) through ``side``'s head and L2-normalise."""
        w, b = (self.document_w, self.document_b) if side == "document" else (self.query_w, self.query_b)
        out = vectors.astype(np.float32, copy=False) @ w + b
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(out / norms, dtype=np.float32)

    def save(self, path: Path) -> None:
        """Write the maps to ``path`` (npz)."""
        np.savez(path, query_w=self.query_w, query_b=self.query_b,
                 document_w=self.document_w, document_b=self.document_b)

    @classmethod
    def load(cls, path: Path) -> Heads:
        """Read maps written by :meth:`save`."""
        with np.load(path) as z:
            return cls(*(np.asarray(z[k], dtype=np.float32)
                         for k in ("query_w", "query_b", "document_w", "document_b")))


def adapter_card(folder: Path) -> dict[str, Any] | None:
    """The ``adapter`` part of a model folder's card (base model and its id), or None."""
    card = folder / MODEL_CARD
    if not (folder / ADAPTER_FILE).is_file() or not card.is_file():
        return None
    try:
        adapter = json.loads(card.read_text(encoding="utf-8")).get("adapter")
    except (OSError, ValueError):
        return None
    return adapter if isinstance(adapter, dict) and adapter.get("base") else None


class AdapterEncoder:
    """The base encoder followed by the folder's maps; ``base`` lets the cache reuse its vectors."""

    def __init__(self, base: Any, heads: Heads, model_id: str, folder: Path | None = None) -> None:
        self.base = base
        self.folder = folder
        self.heads = heads
        self.model_id = model_id
        self.dim: int = int(heads.query_w.shape[1])
        self.sentence_transformer = getattr(base, "sentence_transformer", None)

    def apply_head(self, vectors: Vectors, prompt_name: str | None) -> Vectors:
        """Base embeddings (embedded with ``prompt_name``) mapped to this model's space."""
        if len(vectors) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.heads.apply(vectors, side_of(prompt_name))

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
        prompt_name: str | None = None,
    ) -> Vectors:
        """Embed ``texts`` with the base, then this model's map of their side."""
        base = self.base.encode(texts, batch_size=batch_size, show_progress=show_progress,
                                prompt_name=prompt_name)
        return self.apply_head(base, prompt_name)


def build_router_model(base_model: Any, heads: Heads) -> Any:
    """A sentence-transformers model: ``base_model``'s modules, a query/document Router of Dense
    layers holding ``heads``, then Normalize (what :class:`AdapterEncoder` computes)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Router

    dim = int(heads.query_w.shape[0])

    def dense(w: Vectors, b: Vectors) -> Any:
        layer = Dense(dim, dim, bias=True, activation_function=torch.nn.Identity())
        with torch.no_grad():
            layer.linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            layer.linear.bias.copy_(torch.from_numpy(b))
        return layer

    router = Router({"query": [dense(heads.query_w, heads.query_b)],
                     "document": [dense(heads.document_w, heads.document_b)]}, default_route="query")
    modules = list(base_model)
    if not isinstance(modules[-1], Normalize):
        modules.append(Normalize())
    model = SentenceTransformer(modules=[*modules, router, Normalize()], device="cpu",
                                prompts=dict(getattr(base_model, "prompts", None) or {}))
    model.max_seq_length = base_model.max_seq_length
    return model
