"""``load_encoder``: the process-wide encoder of a model, on the configured backend.

Sits on top of the encoder package: it picks ONNX Runtime (``training.nlp.encoder.onnx``) or torch
(``sentence_transformers``, imported only when needed) and the embedded or a named/local model.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from training.core.config import EMBEDDED_MODEL, get_settings
from training.nlp.encoder.adapter import ADAPTER_FILE, AdapterEncoder, Heads, adapter_card
from training.nlp.encoder.embedded import embedded_model_dir, embedded_model_id
from training.nlp.encoder.encoder import Encoder, load_sentence_transformer
from training.nlp.encoder.model_ids import backend_model_id, local_model_id
from training.nlp.encoder.onnx import load_onnx_encoder, onnx_query_encoder
from training.nlp.encoder.query import read_prompts, torch_query_encoder

#: Single queries of the torch default go through the lean path (``training.nlp.encoder.query``).
LEAN_QUERIES = True


def _embedded_torch_encoder(folder: Path) -> Encoder:
    """The embedded model on torch; its queries through the lean path, torch loaded only if needed.

    With a current ONNX export in the folder, single queries run on its fp32 graph (the torch
    model's vectors, ~1e-7) and torch is imported on the first batch ``encode``; without one,
    torch loads now and queries take the lean torch forward.
    """
    query = onnx_query_encoder(folder) if LEAN_QUERIES else None
    if query is None:
        st = load_sentence_transformer(folder)
        return Encoder(st, embedded_model_id(), query=torch_query_encoder(st) if LEAN_QUERIES else None)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    prompts, _ = read_prompts(folder)
    return Encoder.lazy(lambda: load_sentence_transformer(folder), embedded_model_id(),
                        dim=int(config["hidden_size"]), prompts=prompts, query=query)


@functools.cache
def load_encoder(model: str | None = None, backend: str | None = None) -> Encoder | AdapterEncoder:
    """The process-wide encoder for ``model`` (default: the configured one), loaded once.

    ``backend`` defaults to the setting ``encoder_backend``; "onnx" / "onnx-int8" run a local
    model folder (the embedded one included) with ONNX Runtime, see ``training.nlp.encoder.onnx``.
    A projection-adapter folder over the embedded encoder (``training.nlp.encoder.adapter``) runs
    as that encoder plus its maps, so it shares the embedded encoder's cached vectors.
    """
    if model is None or backend is None:
        # Recurse so that load_encoder() and load_encoder(<configured name>) share one instance.
        settings = get_settings()
        return load_encoder(model or settings.model, backend or settings.encoder_backend)
    adapter = adapter_card(Path(model)) if model != EMBEDDED_MODEL else None
    if adapter is not None:
        if adapter["base"] == EMBEDDED_MODEL and adapter.get("base_model_id") == embedded_model_id():
            heads = Heads.load(Path(model) / ADAPTER_FILE)
            return AdapterEncoder(load_encoder(EMBEDDED_MODEL, backend), heads,
                                  backend_model_id(local_model_id(model), backend), Path(model))
        backend = "torch"  # over another base: its sentence-transformers folder, Router included
    if backend != "torch":
        onnx = load_onnx_encoder(model, backend)
        if onnx is not None:  # None: not a local folder, so torch loads it
            return onnx
    if model == EMBEDDED_MODEL:
        return _embedded_torch_encoder(embedded_model_dir(get_settings().cache_dir))
    from sentence_transformers import SentenceTransformer

    local = Path(model) if Path(model).is_dir() else None
    return Encoder(SentenceTransformer(model), local_model_id(model), local)
