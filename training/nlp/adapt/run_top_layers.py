"""One top-layers run (issue 19 variant (b)): cache lower states, train the top layers, evaluate, save."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from training.nlp.adapt.adapter import feature_keys
from training.nlp.adapt.data import AdaptData
from training.nlp.adapt.evaluation import evaluate, load_trainable, log_step, model_card
from training.nlp.adapt.finetune import Progress, save_model
from training.nlp.adapt.top_layers import TopLayersConfig, lower_states, train_top_layers


def run_top_layers(
    *, base_model: str, train: AdaptData, held: AdaptData, target: Path, config: TopLayersConfig,
    version_id: str | None = None, progress: Progress | None = None, extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the top layers of ``base_model`` on ``train`` (cached lower states); evaluate; save."""
    started = time.perf_counter()
    log_step(progress, 0.0, "正在加载训练起点的模型")
    model = load_trainable(base_model)
    full_length = model.max_seq_length
    model.max_seq_length = config.max_seq_length
    before = evaluate(model, held) if len(held) else {}
    keys = feature_keys(train)
    t0 = time.perf_counter()
    states = lower_states(model, keys, config, lambda f, m: log_step(
        progress, 0.05 + 0.4 * f, m, quiet=f < 1.0 and int(f * 20) % 5 != 0))
    cache_seconds = time.perf_counter() - t0
    stats = train_top_layers(model, states, {k: i for i, k in enumerate(keys)}, train, config,
                             lambda f, m: log_step(progress, 0.45 + 0.45 * f, m))
    stats.texts_embedded, stats.embed_seconds = len(keys), round(cache_seconds, 1)
    after = evaluate(model, held) if len(held) else {}
    model.max_seq_length = full_length
    card = model_card(version_id=version_id, base_model=base_model, train=train, held=held, before=before,
                      after=after, training=stats.as_dict(), config=config, calibration={},
                      started=started, extra=extra, method="top-layers")
    save_model(model, target, card)
    log_step(progress, 1.0, "新版本已保存")
    return card
