"""Domain adaptation: fine-tune the sentence encoder on the shop's own pairs, on the CPU.

Two kinds of training data (``training.nlp.adapt.data``), mixed batch by batch:
- ranking examples (anchor, positive[, negative]): a customer question and its approved script,
  a paraphrase and its cluster's question, a turn and a well-reviewed answer (with a poorly
  reviewed answer to the same turn as the hard negative). Loss: in-batch softmax ranking
  (multiple-negatives ranking), copies of the same positive text masked out as negatives;
- scored pairs (a, b, score in [0, 1]): graded similarity. Loss: CoSENT (pairwise order of the
  scaled cosines), which suits Chinese STS data.

Texts carry the model's own prompts exactly as the app embeds them (e5: "query: " for questions
and turns, "passage: " for replies), so training and use see the same inputs. The word-embedding
matrix (96 M of e5-small's 118 M weights) stays frozen: it keeps multilingual coverage and makes
a step ~3x cheaper on 2 cores.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.nlp.adapt.data import QUERY, AdaptData, RankExample, ScoredPair, epoch_batches
from training.nlp.adapt.losses import cosent_loss, ranking_loss
from training.nlp.adapt.threads import training_threads
from training.nlp.encoder.model_ids import MODEL_CARD

#: Progress callback: (fraction done in [0, 1], message).
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of one fine-tuning run (defaults measured on bench/adapt.py)."""

    budget_seconds: float = 1200.0
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_share: float = 0.05
    max_seq_length: int = 128
    scale: float = 20.0
    freeze_embeddings: bool = True
    seed: int = 20240611
    #: torch threads while training; None = all cores if they are idle, else 1 (see ``busy_cores``)
    threads: int | None = None


@dataclass
class TrainStats:
    """What a run did."""

    steps: int = 0
    planned_steps: int = 0
    examples_seen: int = 0
    pairs_seen: int = 0
    seconds: float = 0.0
    stopped_by_budget: bool = False
    mean_loss_first: float | None = None
    mean_loss_last: float | None = None
    threads: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for the model card)."""
        return dict(self.__dict__)

def _prefix(model: Any, prompt: str) -> str:
    return str((getattr(model, "prompts", None) or {}).get(prompt, ""))


#: One epoch's batches (kept under its old name for the tests).
_batches = epoch_batches


def _embed(model: Any, texts: list[str]) -> Any:
    import torch.nn.functional as f

    features = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
    return f.normalize(model(dict(features))["sentence_embedding"], dim=-1)


def _rank_loss(model: Any, batch: list[RankExample], scale: float) -> Any:
    query = _prefix(model, QUERY)
    anchors = _embed(model, [query + e.anchor for e in batch])
    with_negative = [e for e in batch if e.negative]
    cand_texts = [e.positive for e in batch] + [e.negative or "" for e in with_negative]
    prompts = [e.positive_prompt for e in batch] + [e.positive_prompt for e in with_negative]
    cands = _embed(model, [_prefix(model, p) + t for p, t in zip(prompts, cand_texts, strict=True)])
    return ranking_loss(anchors, cands, cand_texts, scale)


def _pair_loss(model: Any, batch: list[ScoredPair], scale: float) -> Any:
    a = _embed(model, [_prefix(model, QUERY) + p.a for p in batch])
    b = _embed(model, [_prefix(model, p.b_prompt) + p.b for p in batch])
    return cosent_loss((a * b).sum(-1) * scale, [p.score for p in batch])


def fine_tune(
    model: Any, data: AdaptData, config: TrainConfig, progress: Progress | None = None,
) -> TrainStats:
    """Fine-tune ``model`` (a ``SentenceTransformer``) in place on ``data``.

    Args:
        model: the sentence-transformers model to train (a fresh copy, not the app's encoder).
        data: ranking examples and scored pairs.
        config: budget, batch size, learning rate, ...
        progress: called with (fraction, message) every step.

    Returns:
        Steps, items seen, seconds, whether the time budget cut the run, and the mean loss of
        the first and last 10% of steps.
    """
    import torch

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    epochs = max(1, math.ceil(config.epochs))
    batches = [b for _ in range(epochs) for b in _batches(data, config.batch_size, rng)]
    batches = batches[: max(1, round(len(batches) / epochs * config.epochs))] if batches else []
    stats = TrainStats(planned_steps=len(batches))
    if not batches:
        return stats
    model.max_seq_length = config.max_seq_length
    word_embeddings = model[0].auto_model.get_input_embeddings() if hasattr(model[0], "auto_model") else None
    if config.freeze_embeddings and word_embeddings is not None:
        word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    threads_before = torch.get_num_threads()
    stats.threads = training_threads(config.threads)
    torch.set_num_threads(stats.threads)
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    total = len(batches)
    warmup = max(1, int(total * config.warmup_share))
    losses: list[float] = []
    model.train()
    start = time.perf_counter()
    try:
        for step, (kind, batch) in enumerate(batches):
            elapsed = time.perf_counter() - start
            if step >= 5 and step % 5 == 0:  # re-plan the schedule from the step time so far
                fit = int(config.budget_seconds / (elapsed / step))
                total = max(step + 1, min(len(batches), fit))
                if step == 5:
                    warmup = max(1, min(warmup, int(total * config.warmup_share)))
            if step >= total or elapsed > config.budget_seconds:
                stats.stopped_by_budget = step < len(batches)
                break
            decay = max(0.0, (total - step) / max(1, total - warmup))
            lr_share = (step + 1) / warmup if step < warmup else decay
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * lr_share
            loss_fn = _rank_loss if kind == "rank" else _pair_loss
            loss = loss_fn(model, batch, config.scale)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            stats.steps += 1
            if kind == "rank":
                stats.examples_seen += len(batch)
            else:
                stats.pairs_seen += len(batch)
            if progress is not None:
                progress(min(1.0, (step + 1) / total), f"训练中：第 {step + 1}/{total} 步")
    finally:
        torch.set_num_threads(threads_before)
        model.eval()
        if word_embeddings is not None:
            word_embeddings.weight.requires_grad_(True)
    stats.seconds = round(time.perf_counter() - start, 1)
    tenth = max(1, len(losses) // 10)
    if losses:
        stats.mean_loss_first = round(float(np.mean(losses[:tenth])), 4)
        stats.mean_loss_last = round(float(np.mean(losses[-tenth:])), 4)
    return stats


def save_model(
    model: Any, target: Path, card: dict[str, Any], extra: Callable[[Path], None] | None = None,
) -> None:
    """Save ``model`` with its card into ``target`` atomically (a half-written folder never shows).

    ``extra(folder)`` writes more files into the folder before it appears (an adapter's maps).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save(str(tmp))
        if extra is not None:
            extra(tmp)
        (tmp / MODEL_CARD).write_text(json.dumps(card, ensure_ascii=False, indent=1), encoding="utf-8")
        old = target.with_name(f".{target.name}-old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
