"""``make bench-adapt``: fine-tune the encoder on ``../shared/data`` as if it were the shop's data.

Protocol (issue #7; sources and splits in ``bench/adapt_data.py``): train on JDDC 2018 train, ECD
train, STS-B train, LCQMC dev and the training halves of BQ and AFQMC; evaluate the zero-shot and
the adapted model, through the ``huashu`` CLI exactly as bench/similarity.py, rank.py and
lookup.py do, on everything else. The model is written to ``bench/out/adapted-model`` (a
sentence-transformers folder ``--model`` accepts). The whole run fits ``--total-minutes``
(default 60): the training budget is what is left after the zero-shot evaluation, minus the time
the adapted evaluation will take (the zero-shot one, +25 %) and a margin.

    python bench/adapt.py [--total-minutes 60] [--budget-minutes N] [--skip-train]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

if __package__ in (None, ""):  # run as `python bench/adapt.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from bench.adapt_data import EVAL_SETS, eval_pairs, split_pairs, training_data  # noqa: E402
from bench.datasets import (  # noqa: E402
    Cli,
    auc,
    fmt,
    load_afqmc,
    load_average,
    load_bq_corpus,
    log,
    markdown_table,
)
from bench.lookup import build_set  # noqa: E402
from bench.lookup import metrics as lookup_metrics  # noqa: E402
from bench.rank_sets import ALL_SETS  # noqa: E402
from bench.rank_sets import metrics as rank_metrics  # noqa: E402
from bench.run_all import cpu_model  # noqa: E402
from training.nlp.adapt.data import split_data  # noqa: E402
from training.nlp.adapt.finetune import TrainConfig  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "adapted-model"
#: figures the issue sets targets on: (section, set, metric) -> target
TARGETS = {
    ("similarity", "mean of 5", "Spearman"): 0.55,
    ("rank", "jddc2019", "MAP"): 0.85,
    ("rank", "ecd", "R@1"): 0.40,
    ("rank", "jddc2018", "R@1"): 0.45,
    ("lookup", "bq_corpus", "R@5"): 0.45,
    ("lookup", "afqmc", "R@5"): 0.45,
}
Figures = dict[tuple[str, str, str], float]


def evaluate(model: str | None) -> tuple[Figures, float]:
    """Every #6 bench figure for ``model`` (None = the shipped encoder) and the seconds it took.

    Always with an empty embedding cache: the adapted model's evaluation never finds cached
    vectors, and the training budget is derived from the zero-shot time, so both must cost the
    same (a warm zero-shot run took 118 s against the adapted run's 403 s, and the bench overran).
    """
    t0 = time.perf_counter()
    figures: Figures = {}
    with Cli(model, "cold") as cli:
        spearmans = []
        for name in EVAL_SETS:
            pairs = eval_pairs(name)
            run = cli.run("similarity", {"input": [{"id": f"p{i}", "a": a, "b": b}
                                                   for i, (a, b, _) in enumerate(pairs)]})
            scores = np.asarray([float(r["score"]) for r in run.rows])
            labels = np.asarray([y for _, _, y in pairs])
            figures[("similarity", name, "Spearman")] = float(spearmanr(scores, labels).statistic)
            if name != "sts-b-zh":
                figures[("similarity", name, "AUC")] = auc(scores, labels)
            spearmans.append(figures[("similarity", name, "Spearman")])
            log(f"[adapt] {model or 'zero-shot'} similarity {name}: {spearmans[-1]:.3f}")
        figures[("similarity", "mean of 5", "Spearman")] = float(np.mean(spearmans))
        for name, make in ALL_SETS.items():
            rank_set = make(None)
            run = cli.run("rank", {"input": rank_set.groups})
            group_scores = [[float(x) for x in r["scores"]] for r in run.rows]
            for metric, value in rank_metrics(rank_set, group_scores).items():
                figures[("rank", name, metric)] = value
            log(f"[adapt] {model or 'zero-shot'} rank {name} done")
        for name, pairs in (("bq_corpus", split_pairs(load_bq_corpus())[1]),
                            ("afqmc", split_pairs(load_afqmc())[1])):
            bank, queries, gold = build_set(pairs)
            run = cli.run("lookup", {"bank": bank, "input": queries}, ["--k", "10"])
            hits = [[str(x) for x in r["hits"]] for r in run.rows]
            for metric, value in lookup_metrics(hits, gold).items():
                figures[("lookup", name, metric)] = value
            log(f"[adapt] {model or 'zero-shot'} lookup {name} done")
    return figures, time.perf_counter() - t0


def side_by_side(before: Figures, after: Figures | None) -> str:
    """One Markdown table: every figure, zero-shot vs adapted, and the target where one is set."""
    rows = []
    for key, value in before.items():
        new = after.get(key) if after else None
        target = TARGETS.get(key)
        met = "" if target is None or new is None else ("yes" if new >= target else "no")
        rows.append([*key, fmt(value), fmt(new), fmt(None if new is None else new - value),
                     fmt(target, 2) if target else "", met])
    return markdown_table(["bench", "set", "metric", "zero-shot", "adapted", "Δ", "target", "met"], rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--total-minutes", type=float, default=60.0)
    ap.add_argument("--budget-minutes", type=float, default=None, help="training budget (default: derived)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--skip-train", action="store_true", help="evaluate an existing bench/out/adapted-model")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    print("# Adaptation bench (issue #7)\n")
    print(f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {os.cpu_count()} CPUs ({cpu_model()}); "
          f"Python {platform.python_version()}; load average {load_average()}\n", flush=True)

    from training.nlp.adapt.threads import busy_cores

    busy = busy_cores()
    if busy >= 0.5 and "OMP_NUM_THREADS" not in os.environ:
        # Two spinning torch threads on cores other work also uses run many times slower than one.
        os.environ["OMP_NUM_THREADS"] = "1"
    print(f"Other work kept {busy:.1f} of {os.cpu_count()} cores busy at the start; torch threads in "
          f"the CLI runs: {os.environ.get('OMP_NUM_THREADS', 'default')}.\n")
    data, counts = training_data()
    print(markdown_table(["training source (evaluation texts removed)", "items"],
                         [[k, str(v)] for k, v in counts.items()]) + "\n", flush=True)
    log("[adapt] zero-shot evaluation …")
    before, zero_secs = evaluate(None)
    card: dict[str, Any] | None = None
    if not args.skip_train:
        from training.nlp.adapt.run import run_adaptation

        elapsed = time.perf_counter() - started
        budget = args.budget_minutes * 60 if args.budget_minutes is not None else \
            args.total_minutes * 60 - elapsed - 1.25 * zero_secs - 240
        if budget < 60:
            print(f"Only {budget:.0f} s left for training after the zero-shot evaluation; skipped.")
            return 1
        train, held = split_data(data, 0.03)
        card = run_adaptation(base_model="embedded", train=train, held=held, target=OUT,
                              config=TrainConfig(budget_seconds=budget, batch_size=args.batch_size,
                                                 learning_rate=args.lr, epochs=args.epochs),
                              version_id=f"bench-adapt-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}")
    after: Figures | None = None
    after_secs = 0.0
    if OUT.is_dir():
        log("[adapt] adapted-model evaluation …")
        after, after_secs = evaluate(str(OUT))
    print("## Zero-shot vs adapted (data the training never saw)\n")
    print(side_by_side(before, after) + "\n")
    if card is not None:
        t = card["training"]
        print(f"Training: {t['steps']} steps of {args.batch_size} in {t['seconds']} s on {t['threads']} "
              f"thread(s) "
              f"({t['examples_seen']} ranking examples, {t['pairs_seen']} scored pairs seen; "
              f"{'stopped by the time budget' if t['stopped_by_budget'] else 'all planned steps'}; "
              f"loss {t['mean_loss_first']} → {t['mean_loss_last']}). Held-out slice of the training "
              f"sources: {card['before']} → {card['after']}.\n")
    print(f"Zero-shot evaluation {zero_secs:.0f} s; adapted evaluation {after_secs:.0f} s; "
          f"whole bench {time.perf_counter() - started:.0f} s (limit {args.total_minutes:.0f} min). "
          f"Model: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
