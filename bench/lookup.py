"""Lookup bench: ``huashu lookup`` on banks built from BQ corpus and AFQMC (issue #6 protocol).

Per set: the bank holds every distinct second question (``b``) of the set's pairs, one entry each
(no answer text, so only the question can match), in a shuffled order (fixed seed). Queries are
the first questions (``a``) of the matching (label 1) pairs; a query's gold entry is the one whose
text is its pair's ``b``. The ``b`` sides of the non-matching pairs are distractors. Reported:
R@1/5/10 and MRR@10 of the CLI beside TF-IDF cosine and BM25 over character bigrams computed
in the same run, plus the CLI with the keyword signal off (``HUASHU_LOOKUP_SEMANTIC_WEIGHT=1``,
embedding cache kept, untimed). Then, in-process, the latency of one query against a built
index (query encoding included, no embedding cache): p50/p95 over ``--latency-queries`` queries.

    python bench/lookup.py [--max-pairs N] [--model M] [--cache cold|warm] [--latency-queries N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
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
    Pair,
    add_cli_options,
    fmt,
    load_afqmc,
    load_average,
    load_bq_corpus,
    log,
    markdown_table,
    subsample,
)

K = 10
KS = (1, 5, 10)
SETS: dict[str, Callable[[], list[Pair]]] = {"bq_corpus": load_bq_corpus, "afqmc": load_afqmc}


def build_set(pairs: list[Pair]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(bank, queries, gold id per query) as the module docstring describes."""
    texts = list(dict.fromkeys(b for _, b, _ in pairs))
    random.Random(SEED).shuffle(texts)
    bank = [{"id": f"s{i}", "question": t} for i, t in enumerate(texts)]
    by_text = {e["question"]: e["id"] for e in bank}
    matching = [(a, b) for a, b, y in pairs if y > 0.5]
    queries = [{"id": f"u{i}", "query": a} for i, (a, _) in enumerate(matching)]
    return bank, queries, [by_text[b] for _, b in matching]


def metrics(hits: list[list[str]], gold: list[str]) -> dict[str, float]:
    """Recall@k (gold in the top k) and MRR@10 (0 when gold is not in the top 10)."""
    ranks = [h[:K].index(g) + 1 if g in h[:K] else None for h, g in zip(hits, gold, strict=True)]
    n = max(len(ranks), 1)
    out = {f"R@{k}": sum(r is not None and r <= k for r in ranks) / n for k in KS}
    out["MRR@10"] = sum(1 / r for r in ranks if r is not None) / n
    return out


def top_ids(scores: npt.NDArray[np.float64], ids: list[str]) -> list[list[str]]:
    """Top-K bank ids per query row, ties broken at random (fixed seed)."""
    tie = np.random.default_rng(SEED).random(scores.shape)
    return [[ids[i] for i in np.lexsort((t, -row))[:K]] for row, t in zip(scores, tie, strict=True)]


def bench_set(name: str, pairs: list[Pair], cli: Cli) -> tuple[list[str], list[str]]:
    """Markdown lines (table + timing) for one set."""
    bank, queries, gold = build_set(pairs)
    log(f"[lookup] {name}: bank {len(bank)} entries, {len(queries)} queries")
    ids = [e["id"] for e in bank]
    bank_q = [e["question"] for e in bank]
    qtexts = [q["query"] for q in queries]
    tfidf = CharBigramTfidf().fit(bank_q)
    rows: list[list[str]] = []
    notes: list[str] = []
    run = cli.try_run("lookup", {"bank": bank, "input": queries}, ["--k", str(K)])
    if run is None:
        rows.append(["huashu lookup", "n/a", "n/a", "n/a", "n/a"])
    else:
        hits = [[str(x) for x in r["hits"]] for r in run.rows]
        rows.append(["huashu lookup", *(fmt(v) for v in metrics(hits, gold).values())])
        notes.append(f"- CLI run: {run.seconds:.1f} s wall, {run.cpu_seconds:.1f} s CPU "
                     f"(start-up, model load, encoding {len(bank)} + {len(queries)} texts included)")
        semantic = cli.try_run("lookup", {"bank": bank, "input": queries}, ["--k", str(K)],
                               env={"HUASHU_LOOKUP_SEMANTIC_WEIGHT": "1"}, empty_cache=False)
        if semantic is not None:
            hits = [[str(x) for x in r["hits"]] for r in semantic.rows]
            rows.append(["huashu lookup, semantic only", *(fmt(v) for v in metrics(hits, gold).values())])
    for label, scores in (("TF-IDF cosine (char bigrams)", tfidf.cosine_matrix(qtexts, bank_q)),
                          ("BM25 (char bigrams)", tfidf.bm25_matrix(qtexts, bank_q))):
        rows.append([label, *(fmt(v) for v in metrics(top_ids(scores, ids), gold).values())])
    head = [f"### {name}: bank {len(bank)} distinct second questions, {len(queries)} queries "
            f"(first question of each matching pair)", ""]
    return head + [markdown_table(["method", "R@1", "R@5", "R@10", "MRR@10"], rows), ""], notes


def latency(pairs: list[Pair], n_queries: int, model: str | None) -> str:
    """In-process p50/p95 of one query against an index of the set's bank (no embedding cache)."""
    try:
        from scripts_bank.lookup import BankEntry, ScriptIndex
        from training.core.config import get_settings
        from training.nlp.embeddings import Embedder
        from training.nlp.encoder.load import load_encoder
    except ImportError as exc:
        return f"- in-process latency skipped: {exc}"
    bank, queries, _ = build_set(pairs)
    t0 = time.perf_counter()
    embedder = Embedder(load_encoder(model))
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = ScriptIndex([BankEntry(e["id"], e["question"], "") for e in bank], embedder=embedder,
                        semantic_weight=get_settings().lookup_semantic_weight)
    built = time.perf_counter() - t0
    index.search(["预热"], k=K)  # first call pays one-off costs (jieba dictionary, torch kernels)
    times = []
    for q in queries[:n_queries]:
        t0 = time.perf_counter()
        index.search([q["query"]], k=K)
        times.append(1000 * (time.perf_counter() - t0))
    p50, p95 = np.percentile(times, [50, 95])
    return (f"- in-process, bank {len(bank)}: encoder load {loaded:.1f} s, index build {built:.1f} s; "
            f"one query (encoding included): p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms "
            f"(n={len(times)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=None, help="pairs per set (fixed seed)")
    ap.add_argument("--latency-queries", type=int, default=200,
                    help="single queries timed in-process on the BQ bank (0: skip)")
    add_cli_options(ap)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    data = {name: subsample(load(), args.max_pairs) for name, load in SETS.items()}
    load0 = load_average()
    cli = Cli(args.model, args.cache)
    log("[lookup] CLI warm-up (start-up + model load/build) …")
    cli.start()
    sections: list[str] = []
    notes: list[str] = []
    for name, pairs in data.items():
        lines, set_notes = bench_set(name, pairs, cli)
        sections += lines
        notes += [f"{n} [{name}]" for n in set_notes]
    cli.close()
    if args.latency_queries > 0 and not cli.failed:
        log("[lookup] in-process latency …")
        notes.append(latency(data["bq_corpus"], args.latency_queries, args.model))

    print("## Lookup: BQ corpus and AFQMC paraphrase banks\n")
    print(f"CLI: {cli.describe()}; warm-up call {fmt(cli.startup_seconds, 1)} s; "
          f"1-min load average before the run: {load0}.\n")
    if cli.note:
        print(f"> model rows n/a: {cli.note}\n")
    print("\n".join(sections))
    print("\n".join(notes))
    log(f"[lookup] done in {time.perf_counter() - t_start:.1f}s")
    return 1 if cli.failed else 0


if __name__ == "__main__":
    sys.exit(main())
