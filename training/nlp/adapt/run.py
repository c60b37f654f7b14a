"""One adaptation run: held-out figures before, fine-tuning, figures after, calibration, save."""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from training.core.clock import team_now
from training.core.config import EMBEDDED_MODEL, get_settings
from training.nlp.adapt.data import QUERY, AdaptData
from training.nlp.adapt.finetune import Progress, TrainConfig, fine_tune, save_model
from training.nlp.encoder.embedded import embedded_model_dir
from training.nlp.encoder.encoder import load_sentence_transformer
from training.nlp.model_versions import calibration_table

#: Most distinct candidates a held-out anchor is ranked among (keeps evaluation ~linear).
MAX_CANDIDATES = 3000
#: Held-out texts whose all-pairs cosines calibrate thresholds (n·(n−1)/2 pairs).
CALIBRATION_TEXTS = 400


def load_trainable(model: str) -> Any:
    """A fresh ``SentenceTransformer`` of ``model`` (the shipped encoder's rebuilt folder for it)."""
    if model == EMBEDDED_MODEL:
        return load_sentence_transformer(embedded_model_dir(get_settings().cache_dir))
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model, device="cpu")


def encode(model: Any, texts: Sequence[str], prompt: str) -> np.ndarray:
    """L2-normalised embeddings with the model's ``prompt`` prefix (no default prompt added)."""
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    prefix = (getattr(model, "prompts", None) or {}).get(prompt, "")
    out = model.encode([prefix + t for t in texts], prompt="", batch_size=64, convert_to_numpy=True,
                       normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


def encode_mixed(model: Any, texts: Sequence[str], prompts: Sequence[str]) -> np.ndarray:
    """Embeddings of ``texts``, each with its own prompt (one encode call per prompt)."""
    rows: dict[str, list[int]] = {}
    for i, prompt in enumerate(prompts):
        rows.setdefault(prompt, []).append(i)
    out: np.ndarray | None = None
    for prompt, idx in rows.items():
        vecs = encode(model, [texts[i] for i in idx], prompt)
        if out is None:
            out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
    return out if out is not None else np.zeros((0, 1), dtype=np.float32)


def evaluate(model: Any, data: AdaptData, seed: int = 20240611) -> dict[str, float]:
    """Held-out figures: ranking R@1/MRR of each anchor's positive, Spearman of scored pairs.

    Each anchor ranks every distinct positive and negative of the held-out examples (at most
    ``MAX_CANDIDATES``, its own always included); ties count against it.
    """
    out: dict[str, float] = {}
    examples = data.examples
    if examples:
        prompt_of = {e.positive: e.positive_prompt for e in examples}
        prompt_of.update({e.negative: e.positive_prompt for e in examples if e.negative})
        cands = list(prompt_of)
        if len(cands) > MAX_CANDIDATES:
            keep = set(random.Random(seed).sample(cands, MAX_CANDIDATES))
            examples = [e for e in examples if e.positive in keep]
            cands = [c for c in cands if c in keep]
        index = {c: i for i, c in enumerate(cands)}
        sims = encode(model, [e.anchor for e in examples], QUERY) @ \
            encode_mixed(model, cands, [prompt_of[c] for c in cands]).T
        own = sims[np.arange(len(examples)), [index[e.positive] for e in examples]]
        ranks = (sims >= own[:, None]).sum(axis=1)  # ties count against the anchor
        out["rank_r1"] = round(float(np.mean(ranks == 1)), 4)
        out["rank_mrr"] = round(float(np.mean(1.0 / ranks)), 4)
        out["rank_anchors"] = float(len(examples))
    if data.pairs:
        a = encode(model, [p.a for p in data.pairs], QUERY)
        b = encode_mixed(model, [p.b for p in data.pairs], [p.b_prompt for p in data.pairs])
        labels = np.asarray([p.score for p in data.pairs])
        rho = spearmanr((a * b).sum(axis=1), labels).statistic if len(set(labels)) > 1 else 0.0
        out["pairs_spearman"] = round(float(rho), 4)
        out["pairs"] = float(len(data.pairs))
    return out


def calibration_texts(data: AdaptData, seed: int = 20240611) -> list[str]:
    """Held-out question-like texts (anchors, paraphrases) for the cosine calibration."""
    texts = list(dict.fromkeys([e.anchor for e in data.examples] + [p.a for p in data.pairs]
                               + [p.b for p in data.pairs if p.b_prompt == QUERY]))
    return random.Random(seed).sample(texts, min(CALIBRATION_TEXTS, len(texts)))


def pair_cosines(model: Any, texts: list[str]) -> np.ndarray:
    """Cosines of every pair of ``texts`` (upper triangle)."""
    vecs = encode(model, texts, QUERY)
    upper = np.triu_indices(len(texts), k=1)
    return np.asarray((vecs @ vecs.T)[upper])


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} 分钟" if seconds >= 60 else f"{seconds:.0f} 秒"


def _log(progress: Progress | None, fraction: float, message: str) -> None:
    """Print a step for the CLI and pass it to ``progress`` (trainers read it on the model page)."""
    print(f"[adapt] {message}", file=sys.stderr, flush=True)
    if progress is not None:
        progress(fraction, message)


def run_adaptation(
    *, base_model: str, train: AdaptData, held: AdaptData, target: Path, config: TrainConfig,
    version_id: str | None = None, progress: Progress | None = None, extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate ``base_model`` on ``held``, fine-tune on ``train``, evaluate again, save to ``target``.

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
    started = time.perf_counter()
    if len(train) == 0:
        raise ValueError("no training data")
    _log(progress, 0.0, "正在加载训练起点的模型")
    model = load_trainable(base_model)
    full_length = model.max_seq_length
    # Evaluate at the training length: at e5's 512 tokens, batch 64, the process peaked at 6.9 GB.
    model.max_seq_length = min(full_length or config.max_seq_length, config.max_seq_length)
    texts = calibration_texts(held if len(held) else train)
    _log(progress, 0.02, f"训练前测评：用 {len(held.examples)} 个不参加训练的问题、"
                         f"{len(held.pairs)} 对评分打分")
    before = evaluate(model, held) if len(held) else {}
    base_cos = pair_cosines(model, texts) if len(texts) > 2 else np.zeros(0)

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(0.1 + 0.8 * fraction, message)

    _log(progress, 0.1, f"开始训练：{len(train.examples)} 个问答样本、{len(train.pairs)} 对评分，"
                        f"最长 {_duration(config.budget_seconds)}")
    stats = fine_tune(model, train, config, step)
    _log(progress, 0.9, f"训练结束（用时 {_duration(stats.seconds)}），正在测评训练后的模型")
    after = evaluate(model, held) if len(held) else {}
    calibration = calibration_table(base_cos, pair_cosines(model, texts)) if base_cos.size else {}
    model.max_seq_length = full_length
    now = dt.datetime.now(dt.UTC)
    card: dict[str, Any] = {
        "id": version_id or team_now(now).strftime("adapted-%Y%m%d-%H%M%S"),
        "base_model": base_model,
        "created_at": now.isoformat(timespec="seconds"),
        "train": {"examples": len(train.examples), "pairs": len(train.pairs)},
        "held_out": {"examples": len(held.examples), "pairs": len(held.pairs)},
        "before": before,
        "after": after,
        "training": stats.as_dict(),
        "config": dict(config.__dict__),
        "calibration": calibration,
        "seconds": round(time.perf_counter() - started, 1),
        **(extra or {}),
    }
    save_model(model, target, card)
    _log(progress, 1.0, "新版本已保存")
    return card
