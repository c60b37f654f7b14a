"""Held-out figures of a model before and after adaptation, and the helpers both runs share."""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from training.core.config import EMBEDDED_MODEL, get_settings
from training.nlp.adapt.data import QUERY, AdaptData
from training.nlp.adapt.finetune import Progress
from training.nlp.encoder.embedded import embedded_model_dir
from training.nlp.encoder.encoder import load_sentence_transformer

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


def evaluate(model: Any, data: AdaptData, seed: int = 20240611) -> dict[str, float]:
    """Held-out figures of a ``SentenceTransformer`` (see :func:`evaluate_with`)."""
    return evaluate_with(lambda texts, prompt: encode(model, texts, prompt), data, seed)


def evaluate_with(
    embed: Callable[[Sequence[str], str], np.ndarray], data: AdaptData, seed: int = 20240611,
) -> dict[str, float]:
    """Held-out figures: ranking R@1/MRR of each anchor's positive, Spearman of scored pairs.

    ``embed(texts, prompt)`` gives L2-normalised rows. Each anchor ranks every distinct positive
    and negative of the held-out examples (at most ``MAX_CANDIDATES``, its own always included);
    ties count against it.
    """
    def mixed(texts: Sequence[str], prompts: Sequence[str]) -> np.ndarray:
        rows: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            rows.setdefault(prompt, []).append(i)
        out: np.ndarray | None = None
        for prompt, idx in rows.items():
            vecs = embed([texts[i] for i in idx], prompt)
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
        return out if out is not None else np.zeros((0, 1), dtype=np.float32)

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
        sims = embed([e.anchor for e in examples], QUERY) @ mixed(cands, [prompt_of[c] for c in cands]).T
        own = sims[np.arange(len(examples)), [index[e.positive] for e in examples]]
        ranks = (sims >= own[:, None]).sum(axis=1)  # ties count against the anchor
        out["rank_r1"] = round(float(np.mean(ranks == 1)), 4)
        out["rank_mrr"] = round(float(np.mean(1.0 / ranks)), 4)
        out["rank_anchors"] = float(len(examples))
    if data.pairs:
        a = embed([p.a for p in data.pairs], QUERY)
        b = mixed([p.b for p in data.pairs], [p.b_prompt for p in data.pairs])
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


def duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} 分钟" if seconds >= 60 else f"{seconds:.0f} 秒"


def log_step(progress: Progress | None, fraction: float, message: str, *, quiet: bool = False) -> None:
    """Print a step for the CLI (unless ``quiet``) and pass it to ``progress`` (the model page)."""
    if not quiet:
        print(f"[adapt] {message}", file=sys.stderr, flush=True)
    if progress is not None:
        progress(fraction, message)




def model_card(
    *, version_id: str | None, base_model: str, train: AdaptData, held: AdaptData, before: dict[str, float],
    after: dict[str, float], training: dict[str, Any], config: Any, calibration: dict[str, list[float]],
    started: float, extra: dict[str, Any] | None = None, **fields: Any,
) -> dict[str, Any]:
    """The card saved with an adapted model (``MODEL_CARD``): id, base, counts, figures, training."""
    from training.core.clock import team_now

    now = dt.datetime.now(dt.UTC)
    return {
        "id": version_id or team_now(now).strftime("adapted-%Y%m%d-%H%M%S"),
        "base_model": base_model,
        **fields,
        "created_at": now.isoformat(timespec="seconds"),
        "train": {"examples": len(train.examples), "pairs": len(train.pairs)},
        "held_out": {"examples": len(held.examples), "pairs": len(held.pairs)},
        "before": before,
        "after": after,
        "training": training,
        "config": dict(config.__dict__),
        "calibration": calibration,
        "seconds": round(time.perf_counter() - started, 1),
        **(extra or {}),
    }
