"""The lean query path: one short query embedded without ``SentenceTransformer.encode``.

A live lookup embeds one query of a few words. ``SentenceTransformer.encode`` spends about as
long around the model as in it (sorting, batching, feature dicts, device moves), and the torch
forward itself is the slowest of the backends measured on this 2-core machine
(``bench/lookup_scale.py``). ``QueryEncoder`` does only what one query needs: the folder's fast
tokenizer (the ``tokenizers`` library on its ``tokenizer.json``, no ``transformers``), the prompt,
then one forward of the model, pooled and normalised:

- ``"onnx"`` (used when the folder's ONNX export is current, ``training.nlp.encoder.onnx``): the
  **fp32** export, one intra-op thread. It traces the same weights, pooling and normalisation,
  so its vectors equal torch's to ~1e-7 (tested to 1e-5): it serves the *torch* model's cache id,
  the bank's vectors stay valid. Loading it imports neither torch nor transformers.
- ``"torch"``: the loaded ``SentenceTransformer``'s transformer under ``torch.inference_mode()``,
  mean pooling over the attention mask and L2 normalisation (the same vectors to ~1e-6).

Queries are cut at ``MAX_QUERY_TOKENS`` tokens (``bench/lookup_scale.py`` measures how long real
queries are); anything shorter gets the vector ``Encoder.encode`` gives (to ~1e-7).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
#: Tokens a query is cut at (special tokens included); the index questions keep the model's 512.
#: Real queries are far shorter (``bench/lookup_scale.py``: held-out questions 13 tokens median, 42
#: at most; none of 20,000 over 41); the cut bounds a pasted chat: 400 characters cost ~29 ms
#: at 64 tokens, ~57 ms at 128, ~92 ms uncut (1 thread, load ~3).
MAX_QUERY_TOKENS = 64
#: Intra-op threads of the query forward: one short query gains nothing from a second thread,
#: and on shared cores a spinning second thread stalls (``bench/lookup_scale.py``).
QUERY_THREADS = 1


def read_prompts(folder: Path) -> tuple[dict[str, str], str | None]:
    """(prompts, default prompt name) of a sentence-transformers folder, read from its JSON."""
    try:
        config = json.loads((Path(folder) / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, None
    prompts = config.get("prompts") or {}
    return {str(k): str(v) for k, v in prompts.items()}, config.get("default_prompt_name")


def load_tokenizer(path: Path, max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


class QueryEncoder:
    """One query -> one L2-normalised float32 vector, as ``Encoder.encode([query])[0]`` gives it."""

    def __init__(self, tokenizer: Any, forward: Callable[[npt.NDArray[np.int64]], Vector], prefix: str,
                 backend: str) -> None:
        self._tokenizer = tokenizer
        self._forward = forward
        self.prefix = prefix
        #: "onnx" (the fp32 export) or "torch"
        self.backend = backend

    def token_ids(self, query: str) -> list[int]:
        """Token ids of ``query`` with the prompt, special tokens and the length cut."""
        ids: list[int] = self._tokenizer.encode(self.prefix + query).ids
        return ids

    def encode(self, query: str) -> Vector:
        """The normalised embedding of one query."""
        ids = np.asarray([self.token_ids(query)], dtype=np.int64)
        vector = np.asarray(self._forward(ids), dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        out: Vector = vector / max(norm, 1e-12)
        return out


def torch_query_encoder(model: Any, *, max_tokens: int = MAX_QUERY_TOKENS) -> QueryEncoder | None:
    """A loaded plain ``SentenceTransformer`` (Transformer + mean Pooling [+ Normalize]) as a query
    encoder, or None for any other pipeline (a Router, CLS pooling, dense layers …)."""
    import torch

    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    pooling = modules[1]
    if getattr(pooling, "pooling_mode", "mean") != "mean" and not getattr(pooling, "pooling_mode_mean_tokens",
                                                                         False):
        return None
    backend_tokenizer = getattr(model.tokenizer, "backend_tokenizer", None)
    if backend_tokenizer is None:
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(backend_tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=min(max_tokens, int(model.max_seq_length)))
    auto_model = modules[0].auto_model

    def forward(ids: npt.NDArray[np.int64]) -> Vector:
        tensor = torch.from_numpy(ids)
        with torch.inference_mode():
            hidden = auto_model(input_ids=tensor, attention_mask=torch.ones_like(tensor)).last_hidden_state
        pooled: Vector = hidden[0].mean(dim=0).numpy()
        return pooled

    name = model.default_prompt_name
    prefix = str(model.prompts.get(name, "")) if name else ""
    return QueryEncoder(tokenizer, forward, prefix, "torch")
