"""The loaded sentence encoder: a model producing L2-normalised float32 embeddings.

``Encoder`` wraps a ``SentenceTransformer`` (torch) or an ``OnnxSentenceModel``
(``training.nlp.encoder.onnx``); ``training.nlp.encoder.load.load_encoder`` picks and caches one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


class Encoder:
    """A loaded sentence encoder producing L2-normalised float32 embeddings."""

    def __init__(self, model: Any, model_id: str, folder: Path | None = None) -> None:
        self._model = model
        self.model_id: str = model_id
        #: the local model folder (what else is stored with the model, e.g. a learned fusion)
        self.folder = folder
        # get_embedding_dimension is the sentence-transformers 6 name of the v5 method
        get_dim = getattr(model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else model.get_sentence_embedding_dimension()
        if dim is None:
            raise ValueError(f"{model_id}: embedding dimension unknown")
        self.dim: int = int(dim)
        prompts = getattr(model, "prompts", None) or {}
        self._prompts: frozenset[str] = frozenset(prompts)
        # e5-style models want "query: " on both sides of a symmetric comparison.
        self._prompt_name: str | None = "query" if "query" in prompts else None
        # A query/document Router (a projection adapter's folder) picks its route by ``task``.
        self._routed = hasattr(model, "__iter__") and any(type(m).__name__ == "Router" for m in model)

    @property
    def sentence_transformer(self) -> Any:
        """The underlying ``SentenceTransformer``."""
        return self._model

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
        prompt_name: str | None = None,
    ) -> npt.NDArray[np.float32]:
        """Embed ``texts`` as L2-normalised rows (shape ``(len(texts), dim)``).

        ``prompt_name`` picks another of the model's prompts (e5: "passage" for the answer side
        of an asymmetric comparison); a model without that prompt uses its default.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not a single string")
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        # SentenceTransformer.encode already sorts by length so batches carry little padding.
        routing = {"task": "document" if prompt_name in ("passage", "document") else "query"} \
            if self._routed else {}
        out = self._model.encode(
            items,
            **routing,
            prompt_name=prompt_name if prompt_name in self._prompts else self._prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide load-time chatter that is noise for a local, known folder.

    transformers draws a "Loading weights" bar, and sentence-transformers logs a warning that a
    default prompt is set, which we did on purpose. Both would land on the CLI's stderr.
    """
    import logging

    from transformers.utils import logging as hf_logging_module

    hf_logging: Any = hf_logging_module  # its toggles are untyped
    st_logger = logging.getLogger("sentence_transformers.base.model")
    level = st_logger.level
    bar = hf_logging.is_progress_bar_enabled()
    st_logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        st_logger.setLevel(level)
        if bar:
            hf_logging.enable_progress_bar()


def load_sentence_transformer(folder: Path) -> Any:
    """A ``SentenceTransformer`` of the local model ``folder`` on the CPU, loaded quietly."""
    from sentence_transformers import SentenceTransformer

    with _quiet_loading():
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
