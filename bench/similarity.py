"""Similarity bench: Spearman (and AUC) of ``huashu similarity`` against five labelled sets.

For each set (afqmc, bq_corpus, lcqmc, paws-x-zh, sts-b-zh) the pairs are written to a temp
JSONL file, scored by the real CLI in a subprocess, and compared with the gold labels beside a
character-bigram TF-IDF cosine baseline computed in the same run. Also prints the distribution of
model scores per label (e5 cosines bunch high, so thresholds need it) and, for binary sets, the
accuracy-maximising threshold (fit on the same pairs, so optimistic).

    python bench/similarity.py [--max-pairs N] [--model M] [--sets afqmc,lcqmc]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/similarity.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from bench.datasets import (  # noqa: E402
    SIMILARITY_SETS,
    CharBigramTfidf,
    Cli,
    add_cli_options,
    auc,
    fmt,
    load_average,
    log,
    markdown_table,
    quartiles,
    subsample,
)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy of ``score >= threshold`` -> label 1."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order] > 0.5
    # predicting the top i as positive: correct = positives in top i + negatives below
    tp = np.concatenate([[0], np.cumsum(y)])
    tn_below = (~y).sum() - np.concatenate([[0], np.cumsum(~y)])
    acc = (tp + tn_below) / len(y)
    # only cut between distinct scores
    valid = np.concatenate([[True], s[1:] != s[:-1], [True]])
    acc = np.where(valid, acc, -1.0)
    i = int(np.argmax(acc))
    thr = float("inf") if i == 0 else float(s[i - 1])
    return thr, float(acc[i])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=None, help="pairs per set (fixed seed)")
    add_cli_options(ap)
    ap.add_argument("--sets", default=",".join(SIMILARITY_SETS), help="comma-separated set names")
    args = ap.parse_args(argv)

    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in SIMILARITY_SETS]
    if unknown:
        ap.error(f"unknown set(s): {', '.join(unknown)}; known: {', '.join(SIMILARITY_SETS)}")

    main_rows: list[list[str]] = []
    dist_rows: list[list[str]] = []
    thr_rows: list[list[str]] = []
    total_t0 = time.perf_counter()
    load0 = load_average()
    cli = Cli(args.model, args.cache)
    log("[similarity] CLI warm-up (start-up + model load/build) …")
    cli.start()

    for name in names:
        loader, binary = SIMILARITY_SETS[name]
        pairs = subsample(loader(), args.max_pairs)
        a = [p[0] for p in pairs]
        b = [p[1] for p in pairs]
        y = np.asarray([p[2] for p in pairs], dtype=np.float64)
        log(f"[similarity] {name}: {len(pairs)} pairs")

        t0 = time.perf_counter()
        tfidf = CharBigramTfidf().fit(a + b).pair_cosine(a, b)
        tfidf_secs = time.perf_counter() - t0

        model: np.ndarray | None = None
        wall: float | None = None
        cpu: float | None = None
        rows = [{"id": f"{name}-{i}", "a": p[0], "b": p[1]} for i, p in enumerate(pairs)]
        run = cli.try_run("similarity", {"input": rows})
        if run is not None:
            model = np.asarray([float(r["score"]) for r in run.rows], dtype=np.float64)
            wall = run.seconds
            cpu = run.cpu_seconds
            log(f"[similarity] {name}: CLI {wall:.1f}s ({len(pairs) / wall:.0f} pairs/s)")

        sp_model = float(spearmanr(model, y).statistic) if model is not None else None
        sp_tfidf = float(spearmanr(tfidf, y).statistic)
        main_rows.append(
            [
                name,
                str(len(pairs)),
                fmt(sp_model),
                fmt(sp_tfidf),
                fmt(auc(model, y)) if binary and model is not None else "n/a",
                fmt(auc(tfidf, y)) if binary else "n/a",
                fmt(wall, 1),
                fmt(cpu, 1),
                fmt(len(pairs) / wall, 0) if wall else "n/a",
                fmt(tfidf_secs, 2),
            ]
        )

        for label in sorted(set(y.tolist())):
            mask = y == label
            row = [name, f"{label:g}", str(int(mask.sum()))]
            for scores in (model, tfidf):
                if scores is None:
                    row += ["n/a"] * 4
                else:
                    row += [fmt(v) for v in quartiles(scores[mask])]
            dist_rows.append(row)

        if binary:
            majority = max(float((y > 0.5).mean()), float((y <= 0.5).mean()))
            if model is not None:
                thr, acc = best_threshold(model, y)
                thr_rows.append([name, "model", fmt(thr), fmt(acc), fmt(majority)])
            thr, acc = best_threshold(tfidf, y)
            thr_rows.append([name, "tfidf", fmt(thr), fmt(acc), fmt(majority)])

    print("## Similarity: Spearman of score vs gold label\n")
    print(f"CLI: {cli.describe()}; 1-min load average before the run: {load0}.\n")
    if cli.note:
        print(f"> model columns n/a: {cli.note}\n")
    print(
        markdown_table(
            [
                "set",
                "pairs",
                "Spearman (model)",
                "Spearman (TF-IDF)",
                "AUC (model)",
                "AUC (TF-IDF)",
                "CLI wall s",
                "CLI CPU s",
                "pairs/s",
                "TF-IDF s",
            ],
            main_rows,
        )
    )
    print(
        "\nCLI wall s: one `huashu similarity` call per set, including process start-up and "
        "model load; the warm-up call (start-up + model load"
        + (" + one-off model build" if args.cache == "cold" else "")
        + f") took {fmt(cli.startup_seconds, 1)} s. CLI CPU s = user + system CPU time of the "
        "CLI process (2 threads: ≈ 2 × wall when the machine is otherwise idle)."
    )
    print("\n## Score distribution per gold label (mean, Q1, median, Q3)\n")
    print(
        markdown_table(
            [
                "set",
                "label",
                "n",
                "model mean",
                "model Q1",
                "model med",
                "model Q3",
                "tfidf mean",
                "tfidf Q1",
                "tfidf med",
                "tfidf Q3",
            ],
            dist_rows,
        )
    )
    print("\n## Accuracy-maximising threshold (binary sets; fit on the same pairs)\n")
    print(markdown_table(["set", "scorer", "threshold", "accuracy", "majority-class acc"], thr_rows))
    log(f"[similarity] done in {time.perf_counter() - total_t0:.1f}s")
    cli.close()
    return 1 if cli.failed else 0


if __name__ == "__main__":
    sys.exit(main())
