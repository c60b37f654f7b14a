"""Formula variants scored by ``bench/rank_search.py`` (exploration, not product code)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Features = dict[str, Any]


def standing(values: np.ndarray, min_spread: float = 0.02) -> np.ndarray:
    if len(values) < 2:
        return np.full(len(values), 0.5)
    z = (values - values.mean()) / max(float(values.std()), min_spread)
    return 1.0 / (1.0 + np.exp(-z))


def bigrams(text: str) -> Counter[str]:
    t = "".join(text.split())
    return Counter(t[i:i + 2] for i in range(len(t) - 1)) if len(t) > 1 else Counter(t)


def lexical(f: Features, k: int, idf: bool = True) -> np.ndarray:
    docs = [bigrams(a) for a in f["answers"]]
    query = bigrams(f["turn_text"][k])
    n = len(docs) + 1
    df: Counter[str] = Counter()
    for d in [*docs, query]:
        df.update(d.keys())

    def weight(g: str) -> float:
        return math.log((1 + n) / (1 + df[g])) + 1.0 if idf else 1.0

    def vec(c: Counter[str]) -> dict[str, float]:
        v = {g: cnt * weight(g) for g, cnt in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {g: x / norm for g, x in v.items()}

    qv = vec(query)
    return np.array([sum(qv.get(g, 0.0) * x for g, x in vec(d).items()) for d in docs])


def sem(f: Features, k: int, prompt: str = "aq") -> np.ndarray:
    return np.asarray(f[prompt] @ f["turn"][k], dtype=np.float64)


def agreement(f: Features, prompt: str = "aq", weights: np.ndarray | None = None) -> np.ndarray:
    v = f[prompt]
    sims = np.asarray(v @ v.T, dtype=np.float64)
    np.fill_diagonal(sims, 0.0)
    w = np.ones(len(v)) if weights is None else weights
    out = np.empty(len(v))
    for i in range(len(v)):
        ww = w.copy()
        ww[i] = 0.0
        out[i] = float(sims[i] @ ww / max(ww.sum(), 1e-9))
    return out


def hybrid(f: Features, k: int, lex_w: float, prompt: str = "aq") -> np.ndarray:
    return (1 - lex_w) * standing(sem(f, k, prompt)) + lex_w * standing(lexical(f, k))


def combo(rel_fn: Callable[[Features], np.ndarray], agr_w: float, mode: str) -> Callable[
        [Features], Sequence[float]]:
    def score(f: Features) -> Sequence[float]:
        rel = rel_fn(f)
        if mode == "plain":
            agr = standing(agreement(f))
        elif mode == "relw":  # other answers weighted by their relevance standing
            agr = standing(agreement(f, weights=rel))
        elif mode == "relw2":
            agr = standing(agreement(f, weights=rel ** 4))
        else:
            raise ValueError(mode)
        return list((1 - agr_w) * rel + agr_w * agr)
    return score




def centred_agreement(f: Features, prompt: str = "aq", top: int | None = None) -> np.ndarray:
    """Agreement after removing the group centroid (the 'generic reply' direction)."""
    v = np.asarray(f[prompt], dtype=np.float64)
    c = v - v.mean(axis=0)
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)
    sims = c @ c.T
    np.fill_diagonal(sims, -np.inf)
    if top is None:
        np.fill_diagonal(sims, 0.0)
        return np.clip(sims, 0.0, None).sum(axis=1) / max(len(v) - 1, 1)
    return np.sort(sims, axis=1)[:, ::-1][:, :top].mean(axis=1)


def rel_p(f: Features, k: int) -> np.ndarray:
    return standing(sem(f, k, "ap"))


def rel_mix(f: Features, lex_w: float, lex_k: int, sem_k: int = 3) -> np.ndarray:
    return (1 - lex_w) * rel_p(f, sem_k) + lex_w * standing(lexical(f, lex_k))


def with_agr(rel_fn: Callable[[Features], np.ndarray], agr_fn: Callable[[Features], np.ndarray],
             w: float) -> Callable[[Features], Sequence[float]]:
    return lambda f: list((1 - w) * rel_fn(f) + w * standing(agr_fn(f)))




def rel_r1(f: Features, lex_w: float = 0.3) -> np.ndarray:
    return (1 - lex_w) / 2 * (rel_p(f, 1) + rel_p(f, 3)) + lex_w * standing(lexical(f, 99))


def raw_agr(rel_fn: Callable[[Features], np.ndarray], agr_fn: Callable[[Features], np.ndarray],
            w: float) -> Callable[[Features], Sequence[float]]:
    """Agreement added raw (not as a standing): an incoherent group's agreement stays small."""
    return lambda f: list((rel_fn(f) + w * agr_fn(f)) / (1 + w))




def centred_sims(f: Features) -> np.ndarray:
    v = np.asarray(f["aq"], dtype=np.float64)
    c = v - v.mean(axis=0)
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)
    sims = np.clip(c @ c.T, 0.0, None)
    np.fill_diagonal(sims, 0.0)
    return sims


def gated(w: float, mode: str, lex_w: float = 0.2) -> Callable[[Features], Sequence[float]]:
    def score(f: Features) -> Sequence[float]:
        rel = rel_r1(f, lex_w)
        sims = centred_sims(f)
        if mode == "top1*rel_j":
            agr = (sims * rel[None, :]).max(axis=1)
        elif mode == "mean*rel_j":
            agr = (sims * rel[None, :]).sum(axis=1) / np.maximum(rel.sum() - rel, 1e-9)
        elif mode == "top1*rel_i":
            agr = sims.max(axis=1) * rel
        elif mode == "top1*rel_ij":
            agr = (sims * rel[None, :]).max(axis=1) * rel
        else:
            raise ValueError(mode)
        return list((rel + w * agr) / (1 + w))
    return score


def lexical_batch(f: Features, bm25_idf: bool = True) -> np.ndarray:
    """Char-bigram TF-IDF cosine to the whole context + question, IDF over the set (the batch)."""
    idf = f["idf"]

    def weight(g: str) -> float:
        if bm25_idf:
            return float(idf.weight(g))
        return math.log((1 + idf.n_docs) / (1 + idf.df.get(g, 0))) + 1.0

    def vec(c: Counter[str]) -> dict[str, float]:
        v = {g: cnt * weight(g) for g, cnt in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {g: x / norm for g, x in v.items()}

    qv = vec(bigrams(f["turn_text"][99]))
    return np.array([sum(qv.get(g, 0.0) * x for g, x in vec(bigrams(a)).items())
                     for a in f["answers"]])


def batch_lexical_product(share: float, bm25_idf: bool = True,
                          agr_w: float = 1.0) -> Callable[[Features], Sequence[float]]:
    """Semantic q/p 1+3 turns + ``share`` x batch lexical, + centred nearest x partner relevance
    on passage vectors (the product formula without lint)."""
    def score(f: Features) -> Sequence[float]:
        rel = ((1 - share) * 0.5 * (rel_p(f, 1) + rel_p(f, 3))
               + share * standing(lexical_batch(f, bm25_idf)))
        c = np.asarray(f["ap"], dtype=np.float64)
        c = c - c.mean(axis=0)
        c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)
        sims = np.clip(c @ c.T, 0.0, None)
        np.fill_diagonal(sims, 0.0)
        return list((rel + agr_w * (sims * rel[None, :]).max(axis=1)) / (1 + agr_w))
    return score


#: The main variants measured (figures in bench/README.md, "Ranking formula search").
FORMULAS: dict[str, Callable[[Features], Sequence[float]]] = {
    "old: 0.35 agreement + 0.25 semantic (q/q, 3 turns)": lambda f: list(
        (0.35 * standing(agreement(f)) + 0.25 * standing(sem(f, 3))) / 0.6),
    "agreement (mean cosine) only": lambda f: list(agreement(f)),
    **{f"semantic q/q, {k} turns": (lambda f, k=k: list(sem(f, k))) for k in (0, 1, 3, 99)},
    **{f"semantic q/p, {k} turns": (lambda f, k=k: list(sem(f, k, "ap"))) for k in (0, 1, 3, 99)},
    **{f"lexical (group IDF), {k} turns": (lambda f, k=k: list(lexical(f, k))) for k in (0, 1, 3, 99)},
    "semantic q/p 1+3 turns": lambda f: list(0.5 * rel_p(f, 1) + 0.5 * rel_p(f, 3)),
    **{f"relevance R1 (q/p 1+3 turns + lexical {w})": (lambda f, w=w: list(rel_r1(f, w)))
       for w in (0.2, 0.3)},
    "R1 + 0.35 x standing(plain agreement)": with_agr(lambda f: rel_mix(f, 0.3, 99), agreement,
                                                      0.35),
    "R1 + 0.35 x standing(centred agreement)": with_agr(lambda f: rel_mix(f, 0.3, 99),
                                                        centred_agreement, 0.35),
    **{f"R1 + {w} x centred agreement (raw)": raw_agr(rel_r1, centred_agreement, w)
       for w in (1.0, 2.0)},
    **{f"R1 lex.2 + {w} x centred nearest x partner relevance": gated(w, "top1*rel_j")
       for w in (0.5, 1.0, 2.0)},
    "lexical (batch BM25 IDF), all turns": lambda f: list(lexical_batch(f)),
    **{f"batch lexical: smoothed IDF, share {w}": batch_lexical_product(w, bm25_idf=False)
       for w in (0.2, 0.3)},
    **{f"batch lexical: BM25 IDF, share {w}": batch_lexical_product(w)
       for w in (0.2, 0.25, 0.3, 0.4, 0.5)},
    "batch lexical: BM25 IDF, share 0.3, relevance only": batch_lexical_product(0.3, agr_w=0.0),
}
