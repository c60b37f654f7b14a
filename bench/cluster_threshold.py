"""Tuning the cosine threshold of question clustering on labelled paraphrase pairs.

``training.mining.mine`` puts two questions in one cluster when their cosine (embedded encoder) is at
least a threshold, and only if their rule-based categories agree (or one of them has none). On
the binary paraphrase sets (AFQMC, BQ corpus, LCQMC, PAWS-X zh; 1 = same intent) this bench
treats "cos >= t" as the prediction "same question" and prints, for each candidate t, precision,
recall, F1 and F0.5 against the labels, plus the share of pairs the category gate would block.

Picking the default. These sets are built from hard negatives (same product, one word apart),
and e5-small's cosines bunch high, so on AFQMC, BQ and PAWS-X F1 is highest at the lowest t,
where almost every pair is called a paraphrase (on AFQMC and PAWS-X that is the all-positive
baseline). For clustering a wrong merge costs more than a missed one: it hides a distinct
question inside another's count, while a missed merge leaves a near-duplicate that the trainer
sees in the list. So the default maximises F0.5 (precision weighted twice as much as
recall) on BQ, the one set of customer-service questions whose precision actually varies with
t. LCQMC (general web questions) is the robustness check: its F0.5 keeps rising to t = 0.98
because its negatives are easier, and the mean over BQ and LCQMC is flat between 0.92 and 0.945
(within 0.01 of its best), so both are printed. AFQMC and PAWS-X are printed but cannot rank
thresholds: no t lifts their precision above 0.5.

The next table checks two extra conditions at the picked t: a shared jieba keyword (as
``training.nlp.keywords`` tokenises) and the category gate that mining applies.

Then a sanity check on the raw JD chat-log sample: cluster counts at the picked threshold and
its neighbours, and the top clusters at the picked one.

Embeddings are cached in ``<data dir>/cache/bench-embeddings.sqlite`` (safe to delete).

    python bench/cluster_threshold.py [--max-pairs N] [--model M]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/cluster_threshold.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from bench.datasets import (  # noqa: E402
    Pair,
    auc,
    data_root,
    fmt,
    load_afqmc,
    load_bq_corpus,
    load_lcqmc,
    load_pawsx,
    log,
    markdown_table,
    subsample,
)
from bench.mining import JD_SAMPLE, read_jddc_tsv  # noqa: E402

SETS = {"afqmc": load_afqmc, "bq_corpus": load_bq_corpus, "lcqmc": load_lcqmc, "paws-x-zh": load_pawsx}
#: The set whose F0.5 decides the default, and the one averaged with it as a check (docstring).
DECIDING = "bq_corpus"
CHECK = "lcqmc"
Mask = npt.NDArray[np.bool_]
THRESHOLDS = [round(0.90 + 0.005 * i, 3) for i in range(17)]  # 0.900 … 0.980


def prf(pred: Mask, gold: Mask) -> tuple[float, float, float, float]:
    """Precision, recall, F1, F0.5 of ``pred`` against ``gold`` (NaN precision if nothing predicted)."""
    tp = float((pred & gold).sum())
    p = tp / pred.sum() if pred.any() else float("nan")
    r = tp / gold.sum() if gold.any() else float("nan")
    if not (p > 0 and r > 0):
        return p, r, 0.0, 0.0
    return p, r, 2 * p * r / (p + r), 1.25 * p * r / (0.25 * p + r)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=None, help="pairs per set (default: all)")
    ap.add_argument("--model", default=None, help="passed to load_encoder(model)")
    ap.add_argument("--top", type=int, default=8, help="JD clusters to print")
    args = ap.parse_args(argv)

    from training.core.config import get_settings
    from training.mining.categories import categorise
    from training.mining.mine import DEFAULT_THRESHOLD, QuestionCluster, extract_questions, mine_questions
    from training.mining.text import embedding_text
    from training.models import Category
    from training.nlp.embeddings import DiskEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder
    from training.nlp.keywords import keywords

    embedder = Embedder(
        load_encoder(args.model), DiskEmbeddingStore(get_settings().cache_dir / "bench-embeddings.sqlite")
    )
    print("## Clustering threshold on paraphrase pairs\n")
    print(
        f"encoder {embedder.model_id}; pairs per set {args.max_pairs or 'all'}; "
        f"current DEFAULT_THRESHOLD {DEFAULT_THRESHOLD}\n"
    )

    # per set: cosine, gold label, category gate passes, a jieba keyword is shared
    scores: dict[str, tuple[npt.NDArray[np.float64], Mask, Mask, Mask]] = {}
    summary = []
    for name, loader in SETS.items():
        pairs: list[Pair] = subsample(loader(), args.max_pairs)
        t0 = time.perf_counter()
        a = embedder.embed([embedding_text(p[0]) for p in pairs], show_progress=True)
        b = embedder.embed([embedding_text(p[1]) for p in pairs], show_progress=True)
        log(f"[threshold] {name}: {len(pairs)} pairs embedded in {time.perf_counter() - t0:.0f}s")
        cos = np.einsum("ij,ij->i", a, b).astype(np.float64)
        gold = np.array([p[2] > 0.5 for p in pairs])
        cats = [(categorise(p[0]), categorise(p[1])) for p in pairs]
        gate = np.array([x == y or Category.OTHER in (x, y) for x, y in cats])
        shared = np.array([bool(set(keywords(p[0])) & set(keywords(p[1]))) for p in pairs])
        scores[name] = (cos, gold, gate, shared)
        summary.append(
            [
                name,
                str(len(pairs)),
                fmt(float(gold.mean())),
                fmt(auc(cos, gold)),
                fmt(float(cos[gold].mean())),
                fmt(float(cos[~gold].mean())),
                fmt(float((~gate[gold]).mean())),
                fmt(float((~gate[~gold]).mean())),
            ]
        )
    print(
        markdown_table(
            [
                "set",
                "pairs",
                "share positive",
                "AUC of cosine",
                "mean cos, same",
                "mean cos, different",
                "gate blocks: same",
                "gate blocks: different",
            ],
            summary,
        )
    )

    rows = []
    deciding: dict[float, float] = {}
    mean_f05: dict[float, float] = {}
    for t in THRESHOLDS:
        row = [f"{t:.3f}"]
        f05s: dict[str, float] = {}
        for name, (cos, gold, _, _) in scores.items():
            p, r, f1, f05 = prf(cos >= t, gold)
            row += [fmt(p, 2), fmt(r, 2), fmt(f1, 2), fmt(f05, 2)]
            f05s[name] = f05
        deciding[t] = f05s[DECIDING]
        mean_f05[t] = (f05s[DECIDING] + f05s[CHECK]) / 2
        rows.append(row + [fmt(mean_f05[t])])
    header = ["t"] + [f"{n} {m}" for n in scores for m in ("P", "R", "F1", "F0.5")]
    print('\n### Pairs with cos >= t predicted "same question"\n')
    print(markdown_table(header + [f"mean F0.5 {DECIDING}+{CHECK}"], rows))
    choice = max(THRESHOLDS, key=lambda t: (deciding[t], t))
    best_mean = max(THRESHOLDS, key=lambda t: (mean_f05[t], t))
    plateau = [t for t in THRESHOLDS if mean_f05[t] >= mean_f05[best_mean] - 0.01]
    print(
        f"\nPicked: t = {choice} (highest F0.5 on {DECIDING}: {deciding[choice]:.4f}). "
        f"Mean F0.5 with {CHECK}: best {mean_f05[best_mean]:.4f} at t = {best_mean}, "
        f"within 0.01 of it for t = {plateau[0]}…{plateau[-1]}; at t = {choice}: {mean_f05[choice]:.4f}. "
        f"DEFAULT_THRESHOLD is {DEFAULT_THRESHOLD}."
    )

    print(f"\n### At t = {choice}: cosine alone vs cosine and a shared jieba keyword\n")
    rows = []
    for name, (cos, gold, gate, shared) in scores.items():
        alone = prf(cos >= choice, gold)
        both = prf((cos >= choice) & shared, gold)
        gated = prf((cos >= choice) & gate, gold)
        rows.append([name] + [fmt(x, 3) for x in (*alone[:3], *both[:3], *gated[:3])])
    print(markdown_table(
        ["set", "P cos", "R cos", "F1 cos", "P +keyword", "R +keyword", "F1 +keyword",
         "P +category gate", "R +category gate", "F1 +category gate"],
        rows,
    ))

    path = data_root() / JD_SAMPLE
    if not path.is_file():
        log(f"[threshold] {path} not found; JD sanity check skipped")
        return 0
    lines = read_jddc_tsv(path)
    questions = extract_questions(lines)
    print(f"\n### Sanity check on {path.name} ({len(questions)} questions)\n")
    by_t = []
    top: list[QuestionCluster] = []
    for t in (round(choice - 0.02, 3), round(choice - 0.01, 3), choice, round(choice + 0.01, 3)):
        clusters = mine_questions(lines, embedder=embedder, threshold=t)
        multi = [c for c in clusters if c.frequency > 1]
        by_t.append(
            [
                f"{t:.3f}",
                str(len(clusters)),
                str(len(multi)),
                str(sum(c.frequency for c in multi)),
                str(clusters[0].frequency) if clusters else "0",
            ]
        )
        if t == choice:
            top = clusters[: args.top]
    print(markdown_table(["t", "clusters", "freq > 1", "questions in freq > 1", "largest"], by_t))
    print(f"\nTop {args.top} clusters at t = {choice}:\n")
    for c in top:
        examples = " / ".join(e[:24] for e in c.examples[:5])
        print(f"- {c.frequency} [{c.category}] {c.question[:40]} | {examples}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
