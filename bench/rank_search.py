"""In-process formula search for the answer ranker (fast; the reported figures come from rank.py).

Embeds every text of the three ranking sets once (query and passage prefixes, several context
lengths; cached on disk under the data dir), then scores formula variants in numpy and prints
one Markdown table per set. Used to choose the formula in ``training.ranking.rank``; not a bench.

    python bench/rank_search.py [--max-pairs N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import fmt, log, markdown_table  # noqa: E402
from bench.rank_sets import ALL_SETS, RankSet, metrics, random_scores  # noqa: E402
from training.core.config import get_settings  # noqa: E402
from training.nlp.embeddings import DiskEmbeddingStore, Embedder, Vectors  # noqa: E402
from training.ranking.signals import BigramIdf  # noqa: E402

CONTEXT_VARIANTS = (0, 1, 3, 99)


class PromptEncoder:
    """The loaded encoder with another e5 prompt ("passage: ")."""

    def __init__(self, base: Any, prompt_name: str) -> None:
        self.base = base
        self.prompt_name = prompt_name
        self.model_id = f"{base.model_id}#{prompt_name}"

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> Vectors:
        out = self.base.sentence_transformer.encode(
            list(texts), prompt_name=self.prompt_name, batch_size=batch_size,
            show_progress_bar=show_progress, convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(out, dtype=np.float32)


def turn_text(group: dict[str, Any], k: int) -> str:
    turns = [c["text"] for c in group["context"][-k:] if c["text"].strip()] if k else []
    return " ".join([*turns, group["question"]])


Features = dict[str, Any]


def features(rank_set: RankSet, query: Embedder, passage: Embedder) -> list[Features]:
    """Per group: answer vectors (both prompts), turn vectors per context length, texts, and
    the bigram IDF fitted over the whole set (one batch, as ``rank_answers`` does)."""
    answers = [a if a.strip() else " " for g in rank_set.groups for a in g["answers"]]
    turns = {k: [turn_text(g, k) for g in rank_set.groups] for k in CONTEXT_VARIANTS}
    log(f"[search] {rank_set.name}: embedding {len(set(answers))} answers, turn variants …")
    aq = query.embed(answers, show_progress=True)
    ap = passage.embed(answers, show_progress=True)
    tv = {k: query.embed(v, show_progress=True) for k, v in turns.items()}
    idf = BigramIdf.fit([*(a for g in rank_set.groups for a in g["answers"]),
                         *(c["text"] for g in rank_set.groups for c in g["context"]),
                         *(g["question"] for g in rank_set.groups)])
    out: list[Features] = []
    offset = 0
    for gi, g in enumerate(rank_set.groups):
        n = len(g["answers"])
        out.append({"aq": aq[offset:offset + n], "ap": ap[offset:offset + n],
                    "turn": {k: v[gi] for k, v in tv.items()},
                    "answers": g["answers"], "turn_text": {k: v[gi] for k, v in turns.items()},
                    "idf": idf})
        offset += n
    return out


Formula = Callable[[Features], Sequence[float]]


def evaluate(rank_set: RankSet, feats: list[Features], formulas: dict[str, Formula]) -> str:
    rows: list[list[str]] = []
    header: list[str] = []
    for label, scores in [(k, [list(f(x)) for x in feats]) for k, f in formulas.items()] + [
            ("TF-IDF (set IDF)", rank_set.tfidf_scores()), ("random", random_scores(rank_set))]:
        m = metrics(rank_set, scores)
        header = list(m)
        rows.append([label, *(fmt(v) for v in m.values())])
    return f"### {rank_set.name}\n\n" + markdown_table(["variant", *header], rows)


def product_scores(rank_set: RankSet, embedder: Embedder) -> list[list[float]]:
    """Scores of ``training.ranking.rank.rank_answers`` itself (default weights and rules)."""
    from training.ranking.rank import ChatTurn, RankGroup, RankWeights, rank_answers

    groups = [RankGroup(g["question"], g["answers"],
                        [ChatTurn(c["role"], c["text"]) for c in g["context"]])
              for g in rank_set.groups]
    ranked = rank_answers(groups, embedder=embedder, weights=RankWeights())
    return [[s.score for s in r] for r in ranked]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-pairs", type=int, default=None)
    ap.add_argument("--sets", default=",".join(ALL_SETS))
    args = ap.parse_args(argv)
    from bench.rank_formulas import FORMULAS
    from training.nlp.encoder.load import load_encoder

    enc = load_encoder()
    store = DiskEmbeddingStore(get_settings().cache_dir / "bench-rank-search.sqlite")
    query, passage = Embedder(enc, store), Embedder(PromptEncoder(enc, "passage"), store)
    for name in args.sets.split(","):
        rank_set = ALL_SETS[name](args.max_pairs)
        feats = features(rank_set, query, passage)
        formulas: dict[str, Formula] = dict(FORMULAS)
        product = iter(product_scores(rank_set, query))
        formulas["training.ranking.rank (product)"] = lambda f, it=product: next(it)
        print(evaluate(rank_set, feats, formulas))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
