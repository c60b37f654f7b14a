"""The figures ``make bench-adapt`` prints: every #6 bench figure through the CLI, beside TF-IDF.

Each figure is the value on the whole evaluation part, with the spread (standard deviation) over
``SPLITS`` random halves of it (the same scores, re-measured on each half), and the char-bigram
TF-IDF figure of the same items computed in the same run.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from bench.adapt_data import EVAL_SETS, eval_pairs, split_pairs
from bench.datasets import CharBigramTfidf, Cli, auc, load_afqmc, load_bq_corpus, log
from bench.lookup import build_set, top_ids
from bench.lookup import metrics as lookup_metrics
from bench.rank_sets import ALL_SETS, RankSet
from bench.rank_sets import metrics as rank_metrics

#: Random halves each figure's spread is measured over.
SPLITS = 5
#: (section, set, metric) -> (value, spread over the halves, TF-IDF value)
Figure = tuple[float, float, float]
Figures = dict[tuple[str, str, str], Figure]


def _halves(n: int, seed: int = 7) -> list[list[int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(SPLITS):
        idx = list(range(n))
        rng.shuffle(idx)
        out.append(sorted(idx[: n // 2]))
    return out


def _with_spread(measure: Callable[[Sequence[int]], dict[str, float]], n: int,
                 baseline: Callable[[Sequence[int]], dict[str, float]]) -> dict[str, Figure]:
    """Each metric on all ``n`` items, its spread over random halves, and the baseline's value."""
    full, base = measure(range(n)), baseline(range(n))
    parts = [measure(h) for h in _halves(n)]
    return {k: (v, float(np.std([p[k] for p in parts])), base[k]) for k, v in full.items()}


def _similarity(cli: Cli, name: str) -> dict[str, Figure]:
    pairs = eval_pairs(name)
    run = cli.run("similarity", {"input": [{"id": f"p{i}", "a": a, "b": b}
                                           for i, (a, b, _) in enumerate(pairs)]}, empty_cache=False)
    scores = np.asarray([float(r["score"]) for r in run.rows])
    labels = np.asarray([y for _, _, y in pairs])
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    tfidf = CharBigramTfidf().fit(a + b).pair_cosine(a, b)

    def measure(values: np.ndarray) -> Callable[[Sequence[int]], dict[str, float]]:
        def inner(idx: Sequence[int]) -> dict[str, float]:
            i = list(idx)
            out = {"Spearman": float(spearmanr(values[i], labels[i]).statistic)}
            if name != "sts-b-zh":
                out["AUC"] = auc(values[i], labels[i])
            return out
        return inner

    return _with_spread(measure(scores), len(pairs), measure(tfidf))


def _rank(cli: Cli, rank_set: RankSet) -> dict[str, Figure]:
    run = cli.run("rank", {"input": rank_set.groups}, empty_cache=False)
    scores = [[float(x) for x in r["scores"]] for r in run.rows]
    tfidf = rank_set.tfidf_scores()

    def measure(values: list[list[float]]) -> Callable[[Sequence[int]], dict[str, float]]:
        def inner(idx: Sequence[int]) -> dict[str, float]:
            i = list(idx)
            part = dataclasses.replace(rank_set, groups=[rank_set.groups[j] for j in i],
                                       gold=[rank_set.gold[j] for j in i])
            return rank_metrics(part, [values[j] for j in i])
        return inner

    return _with_spread(measure(scores), len(rank_set.groups), measure(tfidf))


def _lookup(cli: Cli, pairs: list[Any]) -> dict[str, Figure]:
    bank, queries, gold = build_set(pairs)
    run = cli.run("lookup", {"bank": bank, "input": queries}, ["--k", "10"], empty_cache=False)
    hits = [[str(x) for x in r["hits"]] for r in run.rows]
    bank_q = [e["question"] for e in bank]
    tfidf_hits = top_ids(CharBigramTfidf().fit(bank_q).cosine_matrix([q["query"] for q in queries], bank_q),
                         [e["id"] for e in bank])

    def measure(found: list[list[str]]) -> Callable[[Sequence[int]], dict[str, float]]:
        return lambda idx: lookup_metrics([found[j] for j in idx], [gold[j] for j in idx])

    return _with_spread(measure(hits), len(queries), measure(tfidf_hits))


def evaluate(cli: Cli, model: str | None) -> tuple[Figures, float]:
    """Every figure for ``model`` (None = the shipped encoder) and the seconds it took.

    The calls keep ``cli``'s embedding cache: a projection adapter's evaluation then finds the
    base's vectors of every evaluation text and needs no second pass of the encoder (the issue's
    protocol), while a fully fine-tuned model has new weights and encodes everything again.
    """
    t0 = time.perf_counter()
    cli.model = model
    who = model or "zero-shot"
    figures: Figures = {}
    spearmans = []
    for name in EVAL_SETS:
        for metric, fig in _similarity(cli, name).items():
            figures[("similarity", name, metric)] = fig
        spearmans.append(figures[("similarity", name, "Spearman")])
        log(f"[adapt] {who} similarity {name}: {spearmans[-1][0]:.3f}")
    figures[("similarity", "mean of 5", "Spearman")] = tuple(  # type: ignore[assignment]
        float(np.mean([s[k] for s in spearmans])) for k in range(3))
    for name, make in ALL_SETS.items():
        for metric, fig in _rank(cli, make(None)).items():
            figures[("rank", name, metric)] = fig
        log(f"[adapt] {who} rank {name} done")
    for name, pairs in (("bq_corpus", split_pairs(load_bq_corpus())[1]),
                        ("afqmc", split_pairs(load_afqmc())[1])):
        for metric, fig in _lookup(cli, pairs).items():
            figures[("lookup", name, metric)] = fig
        log(f"[adapt] {who} lookup {name} done")
    return figures, time.perf_counter() - t0
