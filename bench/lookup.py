"""Lookup bench: ``huashu lookup`` on a script bank built from LCQMC test.

Bank: one entry per LCQMC test pair, ``question`` = the pair's ``a`` side and a fixed placeholder
``answer`` (the same for every entry, so it carries no signal); the ``a`` sides of the negative
pairs are distractors. Bank order is shuffled (fixed seed) so position carries no signal either.
Queries: the ``b`` sides of the positive pairs; a query's gold entries are the bank entries whose
question is its pair's ``a`` text. Reported: Recall@1/5/10 and MRR@10 of the CLI beside BM25 and
TF-IDF (character bigrams) baselines, plus the CLI's wall time and per-query latency. A second,
small CLI run (same bank, 20 queries) separates the fixed start-up cost from the per-query cost.

    python bench/lookup.py [--max-pairs N] [--model M]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/lookup.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from bench.datasets import (  # noqa: E402
    SEED,
    CharBigramTfidf,
    Cli,
    add_cli_options,
    fmt,
    load_average,
    load_lcqmc,
    log,
    markdown_table,
    subsample,
)

K = 10
KS = (1, 5, 10)
PLACEHOLDER_ANSWER = "亲，这个问题已为您记录，请稍等哦。"
SMALL_RUN = 20


def metrics(hits: list[list[str]], gold: list[set[str]]) -> dict[str, float]:
    """Recall@k (any gold id in the top k) and MRR@10 (0 when no gold id in the top 10)."""
    rec = dict.fromkeys(KS, 0.0)
    mrr = 0.0
    for h, g in zip(hits, gold, strict=True):
        first = next((i for i, x in enumerate(h[:K]) if x in g), None)
        if first is not None:
            mrr += 1.0 / (first + 1)
            for k in KS:
                rec[k] += first < k
    n = len(hits)
    out = {f"R@{k}": rec[k] / n for k in KS}
    out["MRR@10"] = mrr / n
    return out


def top_ids(scores: npt.NDArray[np.float64], ids: list[str], seed: int) -> list[list[str]]:
    """Top-K bank ids per query row, ties broken at random (fixed seed)."""
    tie = np.random.default_rng(seed).random(scores.shape)
    out: list[list[str]] = []
    for row, t in zip(scores, tie, strict=True):
        cand = np.argpartition(-row, K)[: K * 4] if row.size > K * 4 else np.arange(row.size)
        # make sure every item tied with the K-th best is a candidate
        kth = np.sort(row)[::-1][min(K, row.size) - 1]
        cand = np.union1d(cand, np.flatnonzero(row >= kth))
        order = cand[np.lexsort((t[cand], -row[cand]))][:K]
        out.append([ids[i] for i in order])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=None, help="LCQMC test pairs (fixed seed)")
    add_cli_options(ap)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    pairs = subsample(load_lcqmc(splits=("test",)), args.max_pairs)
    bank: list[dict[str, Any]] = [
        {"id": f"s{i}", "question": a, "answer": PLACEHOLDER_ANSWER} for i, (a, _, _) in enumerate(pairs)
    ]
    random.Random(SEED).shuffle(bank)
    by_text: dict[str, set[str]] = defaultdict(set)
    for entry in bank:
        by_text[entry["question"]].add(entry["id"])
    queries = [{"id": f"u{i}", "query": b} for i, (_, b, y) in enumerate(pairs) if y > 0.5]
    gold = [by_text[a] for a, _, y in pairs if y > 0.5]
    n_pos = len(queries)
    log(f"[lookup] bank {len(bank)} entries ({n_pos} targets + distractors), {n_pos} queries")

    bank_ids = [e["id"] for e in bank]
    bank_q = [e["question"] for e in bank]
    qtexts = [q["query"] for q in queries]
    t0 = time.perf_counter()
    tfidf = CharBigramTfidf().fit(bank_q)
    bm25_hits = top_ids(tfidf.bm25_matrix(qtexts, bank_q), bank_ids, SEED)
    tfidf_hits = top_ids(tfidf.cosine_matrix(qtexts, bank_q), bank_ids, SEED)
    base_s = time.perf_counter() - t0

    rows: list[list[str]] = []
    timing: list[str] = []
    load0 = load_average()
    cli = Cli(args.model, args.cache)
    log("[lookup] CLI warm-up (start-up + model load/build) …")
    cli.start()
    run = cli.try_run("lookup", {"bank": bank, "input": queries}, ["--k", str(K)])
    if run is None:
        rows.append(["huashu lookup", "n/a", "n/a", "n/a", "n/a"])
    else:
        hits = [[str(x) for x in r["hits"]] for r in run.rows]
        too_long = sum(len(h) > K for h in hits)
        m = metrics(hits, gold)
        rows.append(["huashu lookup", *(fmt(v) for v in m.values())])
        log(f"[lookup] full run {run.seconds:.1f}s; small run ({SMALL_RUN} queries) …")
        small = cli.try_run("lookup", {"bank": bank, "input": queries[:SMALL_RUN]}, ["--k", str(K)])
        timing = [
            f"- full CLI run ({n_pos} queries, bank {len(bank)}): {run.seconds:.1f} s wall, "
            f"{run.cpu_seconds:.1f} s CPU "
            f"= {1000 * run.seconds / n_pos:.1f} ms/query all-in (start-up, model load, bank "
            "encoding and indexing included)",
        ]
        if small is not None:
            marginal = (run.seconds - small.seconds) / max(n_pos - SMALL_RUN, 1)
            timing += [
                f"- same bank, {SMALL_RUN} queries: {small.seconds:.1f} s wall, "
                f"{small.cpu_seconds:.1f} s CPU "
                "(≈ fixed cost: start-up + model load + bank encoding/indexing)",
                f"- marginal cost per query: ≈ {1000 * marginal:.1f} ms "
                f"((full − small) / {n_pos - SMALL_RUN})",
            ]
        if too_long:
            timing.append(f"- WARNING: {too_long} outputs had more than k={K} hits")
    cli.close()
    for label, h in (
        ("BM25 (char bigrams)", bm25_hits),
        ("TF-IDF cosine (char bigrams)", tfidf_hits),
    ):
        rows.append([label, *(fmt(v) for v in metrics(h, gold).values())])

    print(f"## Lookup: LCQMC test bank ({len(bank)} entries, {n_pos} paraphrase queries)\n")
    print(
        f"CLI: {cli.describe()}; warm-up call {fmt(cli.startup_seconds, 1)} s; "
        f"1-min load average before the run: {load0}.\n"
    )
    if cli.note:
        print(f"> model row n/a: {cli.note}\n")
    print(markdown_table(["method", "R@1", "R@5", "R@10", "MRR@10"], rows))
    print()
    if timing:
        print("\n".join(timing))
    print(f"- baselines (BM25 + TF-IDF, in-process, numpy/scipy): {base_s:.1f} s together")
    log(f"[lookup] done in {time.perf_counter() - t_start:.1f}s")
    return 1 if cli.failed else 0


if __name__ == "__main__":
    sys.exit(main())
