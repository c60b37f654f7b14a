"""One adaptation run: held-out figures before, fine-tuning, figures after, calibration, save."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from training.nlp.adapt.adapter import AdapterConfig
from training.nlp.adapt.data import AdaptData
from training.nlp.adapt.evaluation import (
    calibration_texts,
    duration,
    encode,
    evaluate,
    load_trainable,
    log_step,
    model_card,
    pair_cosines,
)
from training.nlp.adapt.finetune import Progress, TrainConfig, fine_tune, save_model
from training.nlp.adapt.top_layers import TopLayersConfig
from training.nlp.embeddings import EmbeddingStore
from training.nlp.model_versions import calibration_table

__all__ = ["encode", "evaluate", "load_trainable", "run_adaptation"]


def run_adaptation(
    *, base_model: str, train: AdaptData, held: AdaptData, target: Path,
    config: TrainConfig | AdapterConfig | TopLayersConfig, version_id: str | None = None,
    progress: Progress | None = None, extra: dict[str, Any] | None = None,
    store: EmbeddingStore | None = None,
) -> dict[str, Any]:
    """Evaluate ``base_model`` on ``held``, adapt it on ``train``, evaluate again, save to ``target``.

    An ``AdapterConfig`` trains a projection adapter on cached features
    (``training.nlp.adapt.run_adapter``, the default of ``huashu adapt``; ``store`` caches the
    base's vectors); a ``TrainConfig`` fine-tunes every layer (``training.nlp.adapt.finetune``).

    Args:
        base_model: the model to start from (``embedded`` = the shipped encoder, or a name/folder).
        train: what to learn from; held: never trained on, evaluated before and after.
        target: folder to write the new sentence-transformers model into (replaced atomically).
        config: time budget and training knobs.
        version_id: id written to the model card (default: a timestamp).
        progress: (fraction, message) callback; stderr gets the same lines.
        extra: more fields for the model card (e.g. where the training data came from).

    Returns:
        The model card: id, base model, counts, before/after figures, training stats, calibration.
    """
    if isinstance(config, TopLayersConfig):
        from training.nlp.adapt.run_top_layers import run_top_layers

        return run_top_layers(base_model=base_model, train=train, held=held, target=target, config=config,
                              version_id=version_id, progress=progress, extra=extra)
    if isinstance(config, AdapterConfig):
        from training.nlp.adapt.run_adapter import run_adapter

        return run_adapter(base_model=base_model, train=train, held=held, target=target, config=config,
                           store=store, version_id=version_id, progress=progress, extra=extra)
    started = time.perf_counter()
    if len(train) == 0:
        raise ValueError("no training data")
    log_step(progress, 0.0, "正在加载训练起点的模型")
    model = load_trainable(base_model)
    full_length = model.max_seq_length
    # Evaluate at the training length: at e5's 512 tokens, batch 64, the process peaked at 6.9 GB.
    model.max_seq_length = min(full_length or config.max_seq_length, config.max_seq_length)
    texts = calibration_texts(held if len(held) else train)
    log_step(progress, 0.02, f"训练前测评：用 {len(held.examples)} 个不参加训练的问题、"
                         f"{len(held.pairs)} 对评分打分")
    before = evaluate(model, held) if len(held) else {}
    base_cos = pair_cosines(model, texts) if len(texts) > 2 else np.zeros(0)

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(0.1 + 0.8 * fraction, message)

    log_step(progress, 0.1, f"开始训练：{len(train.examples)} 个问答样本、{len(train.pairs)} 对评分，"
                        f"最长 {duration(config.budget_seconds)}")
    stats = fine_tune(model, train, config, step)
    log_step(progress, 0.9, f"训练结束（用时 {duration(stats.seconds)}），正在测评训练后的模型")
    after = evaluate(model, held) if len(held) else {}
    calibration = calibration_table(base_cos, pair_cosines(model, texts)) if base_cos.size else {}
    model.max_seq_length = full_length
    card = model_card(version_id=version_id, base_model=base_model, train=train, held=held, before=before,
                      after=after, training=stats.as_dict(), config=config, calibration=calibration,
                      started=started, extra=extra)
    save_model(model, target, card)
    log_step(progress, 1.0, "新版本已保存")
    return card
