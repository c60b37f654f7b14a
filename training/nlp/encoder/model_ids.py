"""Ids of encoder models: the cache key every embedding is stored under.

A local folder's id changes with its weights (its ``huashu adapt`` version, else a fingerprint),
and a model run by ONNX Runtime gets its own id, so cached embeddings never mix across weights
or backends. The embedded encoder's id is ``training.nlp.encoder.embedded.embedded_model_id``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

#: File in a model folder saved by ``huashu adapt`` naming that model version.
MODEL_CARD = "huashu_model.json"


def local_model_id(model: str) -> str:
    """Cache id of ``model``: a local folder gets its version id or a content fingerprint.

    A folder can be overwritten with other weights under the same path (``bench/out/adapted-model``
    is rewritten by every ``make bench-adapt``); the id must change with it, or cached embeddings
    of the old weights would be served for the new ones. Names the library resolves stay as is.
    """
    folder = Path(model)
    if not folder.is_dir():
        return model
    card = folder / MODEL_CARD
    with contextlib.suppress(OSError, ValueError, TypeError):
        version = json.loads(card.read_text(encoding="utf-8")).get("id")
        if isinstance(version, str) and version:
            return f"{folder.resolve()}@{version}"
    digest = hashlib.sha256()
    for weights in sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return f"{folder.resolve()}@{digest.hexdigest()[:12]}"


def backend_model_id(base_id: str, backend: str) -> str:
    """Cache id of a model run by ``backend``: differs per backend, so caches never mix."""
    return base_id if backend == "torch" else f"{base_id}#{backend}"
