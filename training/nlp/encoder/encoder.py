"""The loaded sentence encoder: a model producing L2-normalised float32 embeddings.

``Encoder`` wraps a ``SentenceTransformer`` (torch) or an ``OnnxSentenceModel``
(``training.nlp.encoder.onnx``); ``training.nlp.encoder.load.load_encoder`` picks and caches one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.nlp.encoder.query import QueryEncoder


class Encoder:
    """A loaded sentence encoder producing L2-normalised float32 embeddings.

    ``model`` may be given as a loader (``Encoder.lazy``): the torch model is then loaded on the
    first batch ``encode``, while single queries go through ``query`` (a lean
    ``training.nlp.encoder.query.QueryEncoder``) without importing torch at all.
    """

    def __init__(self, model: Any, model_id: str, folder: Path | None = None, *,
                 query: QueryEncoder | None = None) -> None:
        self._model = model
        self._loader: Callable[[], Any] | None = None
        self._lock = threading.Lock()
        self.model_id: str = model_id
        #: the local model folder (what else is stored with the model, e.g. a learned fusion)
        self.folder = folder
        #: lean single-query path (None: ``encode_query`` uses ``encode``)
        self.query = query
        if model is not None:
            self._describe(model)

    @classmethod
    def lazy(cls, loader: Callable[[], Any], model_id: str, *, dim: int, prompts: dict[str, str],
             query: QueryEncoder | None, folder: Path | None = None) -> Encoder:
        """An encoder whose model ``loader()`` runs on the first batch ``encode`` (thread-safe).

        ``dim`` and ``prompts`` must be what the loaded model will report (read from its folder);
        once loaded, the model's own description replaces them.
        """
        encoder = cls(None, model_id, folder, query=query)
        encoder._loader = loader
        encoder.dim = dim
        encoder._prompts = frozenset(prompts)
        encoder._prompt_name = "query" if "query" in prompts else None
        encoder._routed = False
        return encoder

    def _describe(self, model: Any) -> None:
        # get_embedding_dimension is the sentence-transformers 6 name of the v5 method
        get_dim = getattr(model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else model.get_sentence_embedding_dimension()
        if dim is None:
            raise ValueError(f"{self.model_id}: embedding dimension unknown")
        self.dim: int = int(dim)
        prompts = getattr(model, "prompts", None) or {}
        self._prompts: frozenset[str] = frozenset(prompts)
        # e5-style models want "query: " on both sides of a symmetric comparison.
        self._prompt_name: str | None = "query" if "query" in prompts else None
        # A query/document Router (a projection adapter's folder) picks its route by ``task``.
        self._routed = hasattr(model, "__iter__") and any(type(m).__name__ == "Router" for m in model)

    @property
    def loaded(self) -> bool:
        """Whether the (torch) model is in memory."""
        return self._model is not None

    @property
    def sentence_transformer(self) -> Any:
        """The underlying ``SentenceTransformer`` (loaded now if it was lazy)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    assert self._loader is not None
                    model = self._loader()
                    dim = self.dim
                    self._describe(model)
                    if self.dim != dim:
                        raise ValueError(f"{self.model_id}: the loaded model is not the one described")
                    self._model = model
        return self._model

    def encode_query(self, query: str) -> npt.NDArray[np.float32]:
        """One query's vector: ``encode([query])[0]`` (to ~1e-6), through the lean path if there is one."""
        if self.query is not None:
            return self.query.encode(query)
        vector: npt.NDArray[np.float32] = self.encode([query])[0]
        return vector

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
        model = self.sentence_transformer
        # SentenceTransformer.encode already sorts by length so batches carry little padding.
        routing = {"task": "document" if prompt_name in ("passage", "document") else "query"} \
            if self._routed else {}
        out = model.encode(
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
