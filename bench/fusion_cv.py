"""Cross-validation of a learned fusion for the *shipped* encoder (issue 19, points 1 and 3).

The shipped ranking formula loses to char-bigram TF-IDF on some splits (ECD R@1, JDDC 2018 R@5;
``bench/rank_cv.py``). Here the fusion of ``training.ranking.fusion`` is fitted for the shipped
encoder and scored on the same folds as ``rank_cv.py`` (``--splits`` seeds x 2 halves of each
ranking set), through the product's own ``rank_answers`` (signals as the CLI computes them; each
half ranked as one batch, as if it were one ``huashu rank`` file):

- ``default``: the shipped fixed weights (relevance = 0.7 meaning + 0.3 wording);
- ``rank_answers`` with a learned relevance (``training.ranking.fusion``; agreement at its fixed
  weight) fitted on: *training sources* — groups built from the *training* parts of
  ``bench/adapt_data.py`` (JDDC 2018 train, ECD train: the real reply, the hard negative, 8 replies
  to other turns), never on an evaluated set, the candidate to ship for the shipped encoder;
  *the other half of the same set* — the labels a shop would have for that task; *the other
  halves of all three sets pooled*.

Every figure is mean ± sd over the folds, with the share of folds at or above TF-IDF.

    python bench/fusion_cv.py [--splits 5]

No shipped-encoder fusion is written: no fit was at or above TF-IDF on every fold of every set
(see bench/RESULTS.md), so the fixed weights stay the default and a learned relevance is fitted
per shop by ``huashu adapt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.adapt_data import training_data  # noqa: E402
from bench.datasets import load_average, log, markdown_table  # noqa: E402
from bench.rank_cv import OUT, halves, make_embedder, mean_sd, subset  # noqa: E402
from bench.rank_sets import ALL_SETS  # noqa: E402
from bench.rank_sets import metrics as rank_metrics  # noqa: E402

PRIMARY = {"ecd": ("R@1",), "jddc2019": ("MAP",), "jddc2018": ("R@1", "R@5")}


def _groups(rank_set: Any) -> list[Any]:
    from training.ranking.rank import ChatTurn, RankGroup

    return [RankGroup(question=g["question"], answers=g["answers"],
                      context=[ChatTurn(c.get("role", ""), c["text"]) for c in g["context"]])
            for g in rank_set.groups]


def main(argv: list[str] | None = None) -> int:
    from training.nlp.embeddings import DiskEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder
    from training.ranking.fusion import FEATURES, fit_fusion
    from training.ranking.fusion_fit import fit_for_model
    from training.ranking.rank import RankWeights, rank_answers

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--splits", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"# Fusion cross-validation (issue 19)\n\nload average {load_average()}\n")
    embedder = make_embedder()
    data, _ = training_data()
    trainer = Embedder(load_encoder(), DiskEmbeddingStore(OUT / "adapt-features.sqlite"))
    log("[fusion] fitting on the training sources …")
    shipped = fit_for_model(data.examples, embedder=trainer,
                            source="JDDC 2018 train, ECD train (bench/adapt_data.py)", show_progress=True)
    assert shipped is not None
    print("Training-sources fusion weights: " + ", ".join(
        f"{n} {w:+.2f}" for n, w in zip(FEATURES, shipped.weights, strict=True)) + "\n")
    sets = {key: make(None) for key, make in ALL_SETS.items()}
    groups_of = {key: _groups(rank_set) for key, rank_set in sets.items()}
    # per set, per seed, per half: (signals per answer, default scores)
    folds: dict[str, list[dict[str, Any]]] = {k: [] for k in sets}
    for key in sets:
        groups = groups_of[key]
        for seed in range(args.splits):
            parts = halves(len(groups), 1000 + seed)
            scored = [rank_answers([groups[i] for i in rows], embedder=embedder, weights=RankWeights(),
                                   fusion=False) for rows in parts]
            for h in range(2):
                other = (parts[1 - h], scored[1 - h])
                folds[key].append({"rows": parts[h], "scored": scored[h], "other": other})
            log(f"[fusion] {key} split {seed} scored")
    def labelled(key: str, rows: Any, scored: Any) -> list[list[tuple[Any, float]]]:
        gold = sets[key].gold
        return [[(a.signals, 1.0 if j in gold[i] else 0.0) for j, a in enumerate(row)]
                for i, row in zip(rows, scored, strict=True)]

    # One fusion per fold, fitted on the other halves of all three sets pooled (the candidate default).
    pooled = [fit_fusion([g for key in sets for g in labelled(key, *folds[key][k]["other"])], source="pooled")
              for k in range(2 * args.splits)]
    results: dict[str, dict[str, list[float]]] = {}
    for key, rank_set in sets.items():
        res: dict[str, list[float]] = {}
        for k, fold in enumerate(folds[key]):
            part = subset(rank_set, fold["rows"])
            other_rows, other_scored = fold["other"]
            own = fit_fusion(labelled(key, other_rows, other_scored), source="other half")
            mix = pooled[k]
            half = [groups_of[key][i] for i in fold["rows"]]

            def ranked(fusion: Any, half: list[Any] = half, fold: dict[str, Any] = fold) -> list[list[float]]:
                if fusion is None:
                    return [[a.score for a in row] for row in fold["scored"]]
                out = rank_answers(half, embedder=embedder, weights=RankWeights(), fusion=fusion)
                return [[a.score for a in row] for row in out]

            variants = {
                "TF-IDF": part.tfidf_scores(),
                "default": ranked(None),
                # the product's own ranking with that learned relevance (agreement etc. unchanged)
                "fusion (training sources)": ranked(shipped),
                "fusion (other half)": ranked(own),
                "fusion (pooled other halves)": ranked(mix),
            }
            for name, scores in variants.items():
                for metric, value in rank_metrics(part, scores).items():
                    res.setdefault(f"{name}|{metric}", []).append(value)
        results[key] = res
    rows = []
    every_fold = True
    for key, res in results.items():
        for metric in PRIMARY[key]:
            tf = np.asarray(res[f"TF-IDF|{metric}"])
            line = [key, metric, mean_sd(tf)]
            for name in ("default", "fusion (training sources)", "fusion (other half)",
                         "fusion (pooled other halves)"):
                v = np.asarray(res[f"{name}|{metric}"])
                line.append(f"{mean_sd(v)} ({int((v >= tf - 1e-12).sum())}/{len(v)})")
                if name == "fusion (training sources)":
                    every_fold &= bool((v >= tf - 1e-12).all())
            rows.append(line)
    print(markdown_table(["set", "metric", "TF-IDF", "default (folds ≥ TF-IDF)",
                          "fusion, training sources", "fusion, other half of the set",
                          "fusion, other halves of all sets"], rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
