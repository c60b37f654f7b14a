"""Adaptation variant (b) of issue 19: train only the top transformer layers, on cached states.

The frozen word embeddings and lower layers run once over every training text; their output
token states are kept (float16, unpadded). Training then runs only the top ``top`` layers and the
mean pooling on those states, so a step costs roughly ``top / 12`` of a full fine-tuning step.
Losses as ``training.nlp.adapt.finetune`` (in-batch ranking, CoSENT). The trained layers are
written back into the model, which is saved as an ordinary sentence-transformers folder; unlike
the projection adapter (``training.nlp.adapt.adapter``) its embeddings differ from the base in
every text, so a switch or an evaluation re-encodes everything.

Measured against the adapter and full fine-tuning by ``bench/adapt.py --variant top-layers``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from training.nlp.adapt.adapter import AdapterStats, Key
from training.nlp.adapt.data import QUERY, AdaptData, RankExample, epoch_batches
from training.nlp.adapt.losses import cosent_loss, ranking_loss
from training.nlp.adapt.threads import training_threads

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TopLayersConfig:
    """Knobs of a top-layers run."""

    top: int = 2
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    max_seq_length: int = 128
    scale: float = 20.0
    pair_weight: float = 0.1
    budget_seconds: float = 600.0
    seed: int = 20240611
    threads: int | None = None


def _parts(model: Any) -> tuple[Any, Any, list[Any]]:
    auto = model[0].auto_model
    return auto, auto.embeddings, list(auto.encoder.layer)


def _mask(auto: Any, hidden: Any, attention: Any) -> Any:
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=auto.config, inputs_embeds=hidden, attention_mask=attention)


def lower_states(
    model: Any, keys: Sequence[Key], config: TopLayersConfig, progress: Progress | None = None,
) -> list[Any]:
    """Token states after the frozen lower layers for every (text, prompt), float16, unpadded."""
    import torch

    auto, embeddings, layers = _parts(model)
    prompts = getattr(model, "prompts", None) or {}
    out: list[Any] = [None] * len(keys)
    order = sorted(range(len(keys)), key=lambda i: len(keys[i][0]))  # little padding per batch
    with torch.no_grad():
        for start in range(0, len(order), 64):
            idx = order[start : start + 64]
            texts = [prompts.get(keys[i][1], "") + keys[i][0] for i in idx]
            enc = model.tokenizer(texts, padding=True, truncation=True, max_length=config.max_seq_length,
                                  return_tensors="pt")
            hidden = embeddings(input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids"))
            mask = _mask(auto, hidden, enc["attention_mask"])
            for layer in layers[: len(layers) - config.top]:
                hidden = layer(hidden, attention_mask=mask)
                hidden = hidden[0] if isinstance(hidden, tuple) else hidden
            lengths = enc["attention_mask"].sum(dim=1).tolist()
            for row, i in enumerate(idx):
                out[i] = hidden[row, : int(lengths[row])].to(torch.float16).clone()
            if progress is not None:
                done = min(len(order), start + 64)
                progress(done / len(order), f"正在计算训练文本的中间结果：{done}/{len(order)}")
    return out


def _top_embed(model: Any, states: list[Any], top: int) -> Any:
    """Pooled, normalised embeddings of cached lower states through the trainable top layers."""
    import torch
    import torch.nn.functional as f

    auto, _, layers = _parts(model)
    longest = max(int(s.shape[0]) for s in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[1])
    attention = torch.zeros(len(states), longest, dtype=torch.long)
    for i, s in enumerate(states):
        hidden[i, : s.shape[0]] = s.float()
        attention[i, : s.shape[0]] = 1
    mask = _mask(auto, hidden, attention)
    for layer in layers[len(layers) - top :]:
        hidden = layer(hidden, attention_mask=mask)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    weights = attention.unsqueeze(-1).float()
    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return f.normalize(pooled, dim=-1)


def train_top_layers(
    model: Any, states: list[Any], rows: dict[Key, int], data: AdaptData, config: TopLayersConfig,
    progress: Progress | None = None,
) -> AdapterStats:
    """Train the top ``config.top`` layers of ``model`` in place on cached lower ``states``."""
    import torch

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    _, _, layers = _parts(model)
    params = [p for layer in layers[len(layers) - config.top :] for p in layer.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    stats = AdapterStats(items_per_epoch=len(data))
    threads_before = torch.get_num_threads()
    stats.threads = training_threads(config.threads)
    torch.set_num_threads(stats.threads)

    def embed(keys: list[Key]) -> Any:
        return _top_embed(model, [states[rows[k]] for k in keys], config.top)

    def rank_loss(batch: list[RankExample]) -> Any:
        anchors = embed([(e.anchor, QUERY) for e in batch])
        keys = [(e.positive, e.positive_prompt) for e in batch] + \
            [(e.negative, e.positive_prompt) for e in batch if e.negative]
        return ranking_loss(anchors, embed(keys), keys, config.scale)

    def pair_loss(batch: list[Any]) -> Any:
        cos = (embed([(p.a, QUERY) for p in batch]) * embed([(p.b, p.b_prompt) for p in batch])).sum(-1)
        return cosent_loss(cos * config.scale, [p.score for p in batch])

    model.train()
    start = time.perf_counter()
    try:
        for epoch in range(config.epochs):
            batches = epoch_batches(data, config.batch_size, rng)
            total = 0.0
            for n, (kind, batch) in enumerate(batches):
                if time.perf_counter() - start > config.budget_seconds:
                    stats.stopped_by_budget = True
                    break
                loss = rank_loss(batch) if kind == "rank" else config.pair_weight * pair_loss(batch)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                total += float(loss.detach())
                stats.steps += 1
                if progress is not None and n % 20 == 0:
                    progress((epoch + n / len(batches)) / config.epochs,
                             f"训练中：第 {epoch + 1}/{config.epochs} 轮，第 {n + 1}/{len(batches)} 步")
            stats.loss_by_epoch.append(round(total / max(1, stats.steps), 4))
            if stats.stopped_by_budget:
                break
            stats.epochs = epoch + 1
    finally:
        torch.set_num_threads(threads_before)
        model.eval()
    stats.seconds = round(time.perf_counter() - start, 1)
    return stats

