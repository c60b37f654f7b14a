"""``make bench-adapt``: adapt the encoder on ``../shared/data`` as if it were the shop's data.

Protocol (issues #7 and #19; sources and splits in ``bench/adapt_data.py``): train on JDDC 2018
train, ECD train, STS-B train, LCQMC dev and the training halves of BQ and AFQMC; evaluate the
zero-shot and the adapted model through the ``huashu`` CLI (``bench/adapt_eval.py``) on
everything else, each figure beside char-bigram TF-IDF and with its spread over random halves.

Variants (``--variant``): ``adapter`` (default, the shipped method): a projection adapter trained
on cached features of the frozen encoder (``training.nlp.adapt.adapter``); ``top-layers``: the top
2 layers trained on cached lower-layer states (``training.nlp.adapt.top_layers``); ``full``: every
layer fine-tuned (``training.nlp.adapt.finetune``); the last two get ``--budget-minutes``. The model is
written to ``bench/out/adapted-model`` (a folder ``--model`` accepts). The zero-shot and adapted
evaluations share one embedding cache, so the adapter's evaluation encodes nothing again; the
training features are cached in a fresh file of their own (the bench starts cold).

    python bench/adapt.py [--variant adapter|full] [--total-minutes 30] [--budget-minutes N]
                          [--skip-train]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/adapt.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from bench.adapt_data import training_data  # noqa: E402
from bench.adapt_eval import SPLITS, Figures, evaluate  # noqa: E402
from bench.datasets import Cli, fmt, load_average, log, markdown_table  # noqa: E402
from bench.run_all import cpu_model  # noqa: E402
from training.nlp.adapt.adapter import AdapterConfig  # noqa: E402
from training.nlp.adapt.data import split_data  # noqa: E402
from training.nlp.adapt.finetune import TrainConfig  # noqa: E402
from training.nlp.adapt.top_layers import TopLayersConfig  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "adapted-model"
#: figures the issue sets targets on: (section, set, metric) -> target
TARGETS = {
    ("similarity", "mean of 5", "Spearman"): 0.55,
    ("rank", "jddc2019", "MAP"): 0.85,
    ("rank", "ecd", "R@1"): 0.40,
    ("rank", "jddc2018", "R@1"): 0.45,
    ("lookup", "bq_corpus", "R@5"): 0.40,
    ("lookup", "afqmc", "R@5"): 0.75,
}


def side_by_side(before: Figures, after: Figures | None) -> str:
    """One Markdown table: every figure zero-shot and adapted (± spread), TF-IDF, the target."""
    rows = []
    for key, (value, spread, tfidf) in before.items():
        new = after.get(key) if after else None
        target = TARGETS.get(key)
        met = "" if target is None or new is None else ("yes" if new[0] >= target else "no")
        rows.append([*key, f"{fmt(value)} ± {fmt(spread)}",
                     "" if new is None else f"{fmt(new[0])} ± {fmt(new[1])}",
                     fmt(None if new is None else new[0] - value), fmt(tfidf),
                     "" if new is None else ("yes" if new[0] >= tfidf else "no"),
                     fmt(target, 2) if target else "", met])
    return markdown_table(["bench", "set", "metric", "zero-shot", "adapted", "Δ", "TF-IDF",
                           "adapted ≥ TF-IDF", "target", "met"], rows)


def _training_line(card: dict[str, Any], variant: str, batch_size: int) -> str:
    t = card["training"]
    if variant == "top-layers":
        return (f"Training (top {card['config']['top']} layers on cached states): lower-layer states of "
                f"{t['texts_embedded']} texts computed once in {t['embed_seconds']} s, then {t['epochs']} "
                f"full epochs ({t['steps']} steps of {batch_size}, {t['items_per_epoch']} items an epoch) in "
                f"{t['seconds']} s on {t['threads']} thread(s)"
                f"{', stopped by the time budget' if t['stopped_by_budget'] else ''}; loss per epoch "
                f"{t['loss_by_epoch']}. Held-out slice: {card['before']} → {card['after']}.")
    if variant == "adapter":
        return (f"Training (projection adapter): {t['texts_embedded']} distinct texts embedded once in "
                f"{t['embed_seconds']} s, then {t['epochs']} epochs over all {t['items_per_epoch']} items "
                f"({t['steps']} steps) in {t['seconds']} s on {t['threads']} thread(s); loss per epoch "
                f"{t['loss_by_epoch']}. Held-out slice of the training sources: {card['before']} → "
                f"{card['after']}.")
    return (f"Training (every layer): {t['steps']} steps of {batch_size} in {t['seconds']} s on "
            f"{t['threads']} thread(s) ({t['examples_seen']} ranking examples, {t['pairs_seen']} scored "
            f"pairs seen; {'stopped by the time budget' if t['stopped_by_budget'] else 'all planned steps'}; "
            f"loss {t['mean_loss_first']} → {t['mean_loss_last']}). Held-out slice of the training "
            f"sources: {card['before']} → {card['after']}.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variant", choices=("adapter", "top-layers", "full"), default="adapter")
    ap.add_argument("--total-minutes", type=float, default=30.0)
    ap.add_argument("--budget-minutes", type=float, default=None,
                    help="training budget (default: the adapter's epochs; full: what the total leaves)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--epochs", type=float, default=None)
    ap.add_argument("--skip-train", action="store_true", help="evaluate an existing bench/out/adapted-model")
    ap.add_argument("--out", type=Path, default=OUT, help="model folder (default: bench/out/adapted-model)")
    args = ap.parse_args(argv)
    out = args.out
    started = time.perf_counter()
    print("# Adaptation bench (issues #7, #19)\n")
    print(f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {os.cpu_count()} CPUs ({cpu_model()}); "
          f"Python {platform.python_version()}; load average {load_average()}; variant {args.variant}\n",
          flush=True)

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
    card: dict[str, Any] | None = None
    with Cli(None, "cold") as cli, tempfile.TemporaryDirectory(prefix="huashu-adapt-features-") as tmp:
        log("[adapt] zero-shot evaluation …")
        cli.start()
        before, zero_secs = evaluate(cli, None)
        train_secs = 0.0
        if not args.skip_train:
            from training.nlp.adapt.run import run_adaptation
            from training.nlp.embeddings import DiskEmbeddingStore

            t0 = time.perf_counter()
            train, held = split_data(data, 0.03)
            config: AdapterConfig | TrainConfig | TopLayersConfig
            elapsed = time.perf_counter() - started
            if args.variant == "adapter":
                knobs = {k: v for k, v in (("batch_size", args.batch_size), ("learning_rate", args.lr),
                                           ("epochs", None if args.epochs is None else int(args.epochs)),
                                           ("budget_seconds", None if args.budget_minutes is None
                                            else args.budget_minutes * 60)) if v is not None}
                config = AdapterConfig(**knobs)
            elif args.variant == "top-layers":
                config = TopLayersConfig(budget_seconds=(args.budget_minutes or 10.0) * 60,
                                         epochs=int(args.epochs or 3), batch_size=args.batch_size or 32,
                                         learning_rate=args.lr or TopLayersConfig.learning_rate)
            else:
                budget = args.budget_minutes * 60 if args.budget_minutes is not None else \
                    args.total_minutes * 60 - elapsed - 1.25 * zero_secs - 240
                if budget < 60:
                    print(f"Only {budget:.0f} s left for training after the zero-shot evaluation; skipped.")
                    return 1
                config = TrainConfig(budget_seconds=budget, batch_size=args.batch_size or 32,
                                     learning_rate=args.lr or TrainConfig.learning_rate,
                                     epochs=args.epochs or 1.0)
            card = run_adaptation(base_model="embedded", train=train, held=held, target=out, config=config,
                                  store=DiskEmbeddingStore(Path(tmp) / "features.sqlite"),
                                  version_id=f"bench-adapt-{args.variant}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}")
            if args.variant == "adapter":
                from training.nlp.embeddings import Embedder
                from training.nlp.encoder.load import load_encoder
                from training.ranking.fusion_fit import fit_for_model

                fusion = fit_for_model(
                    held.examples, embedder=Embedder(load_encoder(str(out), "torch"),
                                                     DiskEmbeddingStore(Path(tmp) / "features.sqlite")),
                    source="bench: held-out JDDC 2018 / ECD train turns", show_progress=True)
                if fusion is not None:
                    fusion.save(out)
                card["fusion"] = fusion.as_dict() if fusion is not None else None
            train_secs = time.perf_counter() - t0
        after: Figures | None = None
        after_secs = 0.0
        if out.is_dir():
            log("[adapt] adapted-model evaluation …")
            after, after_secs = evaluate(cli, str(out))
    print("## Zero-shot vs adapted (data the training never saw)\n")
    print(f"Each figure on the whole evaluation part ± its standard deviation over {SPLITS} random "
          "halves; TF-IDF = character-bigram TF-IDF on the same items in this run.\n")
    print(side_by_side(before, after) + "\n")
    if card is not None:
        print(_training_line(card, args.variant, args.batch_size or 32) + "\n")
        if card.get("fusion"):
            f = card["fusion"]
            print(f"Fusion fitted on {f['pairs']} (better, worse) pairs of held-out turns: "
                  + ", ".join(f"{n} {w:+.2f}" for n, w in zip(f["features"], f["weights"], strict=True))
                  + f"; output sigmoid({f['scale']:.2f} z {f['offset']:+.2f}).\n")
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(f"Zero-shot evaluation {zero_secs:.0f} s; training (features, epochs, saving) {train_secs:.0f} s; "
          f"adapted evaluation {after_secs:.0f} s; whole bench {time.perf_counter() - started:.0f} s "
          f"(limit {args.total_minutes:.0f} min). Peak RSS {rss:.0f} MB (largest of this process and "
          f"of any CLI run). Model: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
