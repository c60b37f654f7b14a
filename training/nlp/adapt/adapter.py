"""Adaptation on cached features: a projection adapter trained on frozen-encoder embeddings.

Every training text is embedded once by the frozen encoder (and cached per text, so a second
run or the app reuses the vectors); then two linear maps, one for the query side and one for
the answer side (``training.nlp.encoder.adapter.Heads``), are trained for many epochs on those
vectors. An epoch over 22,000 items takes about a second on 2 cores, against ~12 s for one step
of 32 when every transformer layer is fine-tuned (``training.nlp.adapt.finetune``).

Losses, as in ``finetune``: in-batch softmax ranking (multiple-negatives ranking, copies of the
same positive masked out, hard negatives added as extra candidates) for ranking examples, and
CoSENT for scored pairs. The maps start at the identity and are pulled back toward it
(``identity_decay``), so an adapter trained on little data stays close to the base model.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.nlp.adapt.data import PASSAGE, QUERY, AdaptData, RankExample, epoch_batches
from training.nlp.adapt.losses import cosent_loss, ranking_loss
from training.nlp.adapt.threads import training_threads
from training.nlp.encoder.adapter import Heads

#: Progress callback: (fraction done in [0, 1], message).
Progress = Callable[[float, str], None]
#: (text, prompt) -> row of the feature matrix.
Key = tuple[str, str]
#: Texts embedded per call while caching features (one progress step each).
EMBED_CHUNK = 512


@dataclass(frozen=True)
class AdapterConfig:
    """Knobs of one adapter run (defaults chosen on held-out slices of the training sources)."""

    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 2e-4
    rank_scale: float = 50.0
    pair_scale: float = 20.0
    identity_decay: float = 1e-3
    #: weight of a scored-pair batch's CoSENT loss against a ranking batch's (its sum over all
    #: ordered pairs of a batch is several times larger and would swamp the ranking examples)
    pair_weight: float = 0.1
    budget_seconds: float = 600.0
    seed: int = 20240611
    threads: int | None = None


@dataclass
class AdapterStats:
    """What a run did (for the model card)."""

    texts_embedded: int = 0
    embed_seconds: float = 0.0
    epochs: int = 0
    steps: int = 0
    seconds: float = 0.0
    items_per_epoch: int = 0
    stopped_by_budget: bool = False
    loss_by_epoch: list[float] = field(default_factory=list)
    threads: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for the model card)."""
        return dict(self.__dict__)


def feature_keys(*datasets: AdaptData) -> list[Key]:
    """Every (text, prompt) the datasets embed, in first-seen order."""
    keys: dict[Key, None] = {}
    for data in datasets:
        for e in data.examples:
            keys[(e.anchor, QUERY)] = None
            keys[(e.positive, e.positive_prompt)] = None
            if e.negative:
                keys[(e.negative, e.positive_prompt)] = None
        for p in data.pairs:
            keys[(p.a, QUERY)] = None
            keys[(p.b, p.b_prompt)] = None
    return list(keys)


def embed_features(
    embed: Callable[[Sequence[str], str], np.ndarray], keys: Sequence[Key],
    progress: Progress | None = None,
) -> tuple[dict[Key, int], np.ndarray]:
    """Embed every key once with ``embed(texts, prompt)``; returns (row of each key, matrix)."""
    rows = {k: i for i, k in enumerate(keys)}
    matrix: np.ndarray | None = None
    done = 0
    for prompt in (QUERY, PASSAGE):
        idx = [i for i, (_, p) in enumerate(keys) if p == prompt]
        for start in range(0, len(idx), EMBED_CHUNK):
            chunk = idx[start : start + EMBED_CHUNK]
            vecs = embed([keys[i][0] for i in chunk], prompt)
            if matrix is None:
                matrix = np.zeros((len(keys), vecs.shape[1]), dtype=np.float32)
            matrix[chunk] = vecs
            done += len(chunk)
            if progress is not None:
                progress(done / max(1, len(keys)), f"正在计算训练文本的向量：{done}/{len(keys)}")
    return rows, matrix if matrix is not None else np.zeros((0, 1), dtype=np.float32)


class _Maps:
    """The trainable maps (torch), with the identity as starting point."""

    def __init__(self, dim: int) -> None:
        import torch

        self.eye = torch.eye(dim)
        self.qw = torch.nn.Parameter(torch.eye(dim))
        self.qb = torch.nn.Parameter(torch.zeros(dim))
        self.dw = torch.nn.Parameter(torch.eye(dim))
        self.db = torch.nn.Parameter(torch.zeros(dim))

    def params(self) -> list[Any]:
        return [self.qw, self.qb, self.dw, self.db]

    def __call__(self, x: Any, prompt: str) -> Any:
        import torch.nn.functional as f

        w, b = (self.dw, self.db) if prompt == PASSAGE else (self.qw, self.qb)
        return f.normalize(x @ w + b, dim=-1)

    def decay(self) -> Any:
        return ((self.qw - self.eye) ** 2).sum() + ((self.dw - self.eye) ** 2).sum()

    def heads(self) -> Heads:
        def arr(t: Any) -> np.ndarray:
            return np.asarray(t.detach().numpy(), dtype=np.float32)

        return Heads(arr(self.qw), arr(self.qb), arr(self.dw), arr(self.db))


def train_adapter(
    features: np.ndarray, rows: dict[Key, int], data: AdaptData, config: AdapterConfig,
    progress: Progress | None = None,
) -> tuple[Heads, AdapterStats]:
    """Train the query and answer maps on cached ``features`` of ``data``'s texts.

    Args:
        features: base embeddings, one row per (text, prompt) key.
        rows: key -> row of ``features`` (every text of ``data`` must be present).
        data: ranking examples and scored pairs.
        config: epochs, batch size, learning rate, scales, time budget.
        progress: (fraction, message) after every epoch.

    Returns:
        The trained maps and what the run did (epochs completed, loss per epoch, seconds).
    """
    import torch

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    maps = _Maps(int(x.shape[1]))
    optimizer = torch.optim.Adam(maps.params(), lr=config.learning_rate)
    stats = AdapterStats(items_per_epoch=len(data))
    threads_before = torch.get_num_threads()
    stats.threads = training_threads(config.threads)
    torch.set_num_threads(stats.threads)
    start = time.perf_counter()

    def mapped(keys: list[Key]) -> Any:
        """Rows of ``keys`` through the map of each key's side."""
        idx = x[[rows[k] for k in keys]]
        answer_side = torch.tensor([p == PASSAGE for _, p in keys])[:, None]
        return torch.where(answer_side, maps(idx, PASSAGE), maps(idx, QUERY))

    def rank_loss(batch: list[RankExample]) -> Any:
        anchors = maps(x[[rows[(e.anchor, QUERY)] for e in batch]], QUERY)
        keys = [(e.positive, e.positive_prompt) for e in batch] + \
            [(e.negative, e.positive_prompt) for e in batch if e.negative]
        return ranking_loss(anchors, mapped(keys), keys, config.rank_scale)

    def pair_loss(batch: list[Any]) -> Any:
        a = maps(x[[rows[(p.a, QUERY)] for p in batch]], QUERY)
        b = mapped([(p.b, p.b_prompt) for p in batch])
        return cosent_loss((a * b).sum(-1) * config.pair_scale, [p.score for p in batch])

    try:
        for epoch in range(config.epochs):
            batches = epoch_batches(data, config.batch_size, rng)
            total = 0.0
            for kind, batch in batches:
                loss = rank_loss(batch) if kind == "rank" else config.pair_weight * pair_loss(batch)
                loss = loss + config.identity_decay * maps.decay()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
                stats.steps += 1
            stats.epochs = epoch + 1
            stats.loss_by_epoch.append(round(total / max(1, len(batches)), 4))
            elapsed = time.perf_counter() - start
            if progress is not None:
                progress(stats.epochs / config.epochs,
                         f"训练中：第 {stats.epochs}/{config.epochs} 轮，损失 {stats.loss_by_epoch[-1]:.3f}")
            if elapsed / stats.epochs * (stats.epochs + 1) > config.budget_seconds \
                    and stats.epochs < config.epochs:
                stats.stopped_by_budget = True
                break
    finally:
        torch.set_num_threads(threads_before)
    stats.seconds = round(time.perf_counter() - start, 1)
    if not all(math.isfinite(v) for v in stats.loss_by_epoch):
        raise ValueError("adapter training diverged")
    return maps.heads(), stats
