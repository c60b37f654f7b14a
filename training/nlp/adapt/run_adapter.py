"""One adapter run: cache the frozen encoder's features, figures before, train the maps, after, save.

The held-out figures before and after come from the same cached features (the base's, and the
base's through the trained maps), so an adapter run encodes every text exactly once. The saved
folder is a sentence-transformers model with a query/document Router
(``training.nlp.encoder.adapter.build_router_model``) plus the maps and a card naming the base,
which ``load_encoder`` runs as the base encoder plus two matrix products.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.core.config import EMBEDDED_MODEL
from training.nlp.adapt.adapter import AdapterConfig, Progress, embed_features, feature_keys, train_adapter
from training.nlp.adapt.data import PASSAGE, QUERY, AdaptData
from training.nlp.adapt.evaluation import (
    calibration_texts,
    evaluate_with,
    load_trainable,
    log_step,
    model_card,
)
from training.nlp.adapt.finetune import save_model
from training.nlp.embeddings import EmbeddingStore
from training.nlp.encoder.adapter import ADAPTER_FILE, AdapterEncoder, Heads, adapter_card, build_router_model
from training.nlp.encoder.load import load_encoder
from training.nlp.model_versions import calibration_table


def adapter_base(model: str) -> str:
    """What an adapter of ``model`` is built on: an adapter folder's own base, else ``model``."""
    card = adapter_card(Path(model)) if model != EMBEDDED_MODEL else None
    return str(card["base"]) if card else model


def run_adapter(
    *, base_model: str, train: AdaptData, held: AdaptData, target: Path, config: AdapterConfig,
    store: EmbeddingStore | None = None, version_id: str | None = None,
    progress: Progress | None = None, extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a projection adapter over ``base_model`` on ``train``; evaluate on ``held``; save.

    Args:
        base_model: ``embedded`` (the shipped encoder) or a name/folder; an adapter folder
            stands for its base (a new adapter starts from the identity).
        train, held: what to learn from; never trained on, evaluated before and after.
        target: folder of the new model (replaced atomically).
        config: epochs, batch size, learning rate, time budget of the training loop.
        store: where the base's vectors are cached (the app's database, or the CLI's file), so
            a second run and the app after a switch reuse them; None = no cache.
        version_id, progress, extra: as ``training.nlp.adapt.run.run_adaptation``.

    Returns:
        The model card (also written to the folder).
    """
    from training.nlp.embeddings import Embedder

    started = time.perf_counter()
    if len(train) == 0:
        raise ValueError("no training data")
    base = adapter_base(base_model)
    log_step(progress, 0.0, "正在加载训练起点的模型")
    encoder = load_encoder(base, "torch")
    if isinstance(encoder, AdapterEncoder):  # pragma: no cover - adapter_base resolved it already
        encoder = encoder.base
    embedder = Embedder(encoder, store)
    keys = feature_keys(train, held)
    # The cosine calibration needs many texts, not labels: the adapter's maps apply to any base
    # vector, so held-out and training texts both serve (a few dozen held-out texts mapped the
    # lookup thresholds badly on small shops).
    calib = calibration_texts(AdaptData(held.examples + train.examples, held.pairs + train.pairs))
    keys += [(t, QUERY) for t in calib if (t, QUERY) not in set(keys)]
    t0 = time.perf_counter()

    def embed(texts: Sequence[str], prompt: str) -> np.ndarray:
        return embedder.embed(list(texts), prompt=None if prompt == QUERY else PASSAGE)

    def step(fraction: float, message: str) -> None:
        quiet = fraction < 1.0 and int(fraction * 20) % 5 != 0  # stderr every ~25 %
        log_step(progress, 0.02 + 0.6 * fraction, message, quiet=quiet)

    rows, features = embed_features(embed, keys, step)
    embed_seconds = time.perf_counter() - t0
    identity = Heads.identity(features.shape[1])

    def encoder_of(heads: Heads) -> Any:
        def encode(texts: Sequence[str], prompt: str) -> np.ndarray:
            side = "document" if prompt == PASSAGE else "query"
            return heads.apply(features[[rows[(t, prompt)] for t in texts]], side)
        return encode

    before = evaluate_with(encoder_of(identity), held) if len(held) else {}
    log_step(progress, 0.65, f"开始训练：{len(train.examples)} 个问答样本、{len(train.pairs)} 对评分，"
                             f"{config.epochs} 轮")
    every = max(1, config.epochs // 5)  # stderr gets about five of the epochs' lines
    heads, stats = train_adapter(features, rows, train, config, lambda f, m: log_step(
        progress, 0.65 + 0.25 * f, m, quiet=round(f * config.epochs) % every != 0))
    stats.texts_embedded, stats.embed_seconds = len(keys), round(embed_seconds, 1)
    after = evaluate_with(encoder_of(heads), held) if len(held) else {}
    calibration: dict[str, list[float]] = {}
    if len(calib) > 2:
        upper = np.triu_indices(len(calib), k=1)
        base_vecs, new_vecs = encoder_of(identity)(calib, QUERY), encoder_of(heads)(calib, QUERY)
        calibration = calibration_table((base_vecs @ base_vecs.T)[upper], (new_vecs @ new_vecs.T)[upper])
    log_step(progress, 0.92, "正在保存新版本")
    card = model_card(version_id=version_id, base_model=base, train=train, held=held, before=before,
                      after=after, training=stats.as_dict(), config=config, calibration=calibration,
                      started=started, extra=extra, method="adapter",
                      adapter={"base": base, "base_model_id": encoder.model_id})
    model = build_router_model(load_trainable(base), heads)
    save_model(model, target, card, extra=lambda folder: heads.save(folder / ADAPTER_FILE))
    log_step(progress, 1.0, "新版本已保存")
    return card
