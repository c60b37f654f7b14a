"""Lookup floor bench: does ``scripts_bank.relevance`` accept paraphrases and refuse off-topic queries?

A **split** (``--splits``, seeds 0, 1, …) draws, for AFQMC and BQ corpus each, ``--pairs`` pairs
from a fixed pool of 800 (seed 20240611); the bank holds every distinct second question of the
drawn pairs (one entry each, no answer text, so only the question can match; the non-matching
pairs' second questions are in-domain distractors). Queries that **should match** are the first
questions of the drawn matching pairs; queries that **should not** are ``--offtopic`` LCQMC
questions (Baidu Zhidao, general domain) plus a fixed list of 30 weather, chit-chat and junk
inputs, searched against the same banks. Every query runs through ``ScriptIndex.search`` (k=5),
the page's search, and each hit is judged by ``RelevanceFloor.judge``: a query is *answered*
when one of its five hits is 高 or 中; *gold accepted* when its own entry is one of them.

Per split, the queries are halved at random: a floor is fitted on one half (grid over strong /
floor cosine / keyword share, maximising paraphrases answered minus off-topic answered) and
measured on the other, beside the shipped floor (``RelevanceFloor.for_model``). The shipped
values were chosen by looking at these splits, so their split figures are not independent:
the **held-out draws** (``--holdout``) are pairs and LCQMC questions outside the pools, never
looked at while choosing, and measure the shipped floor only. Mean ± standard deviation over
splits and over held-out draws follow. In-process (the CLI's lookup contract has no field for
"no match"); vectors are kept in memory, so each text is encoded once.

    python bench/lookup_floor.py [--splits 5] [--holdout 3] [--pairs 300] [--offtopic 300] [--model M]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/lookup_floor.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import SEED, Pair, load_afqmc, load_average, load_bq_corpus, load_lcqmc, log  # noqa: E402

#: Inputs no customer-service bank should answer (the issue's examples and their kind).
CHITCHAT = [
    "今天天气怎么样", "明天会下雨吗", "北京今天多少度", "你好", "在吗", "哈哈哈", "谢谢", "晚安",
    "你是机器人吗", "讲个笑话吧", "你吃饭了吗", "周末去哪玩", "<script>", "<script>alert(1)</script>",
    "asdfghjkl", "123456", "？？？", "……", "test", "周杰伦的新歌好听吗", "世界杯谁夺冠了",
    "红烧肉怎么做", "推荐一部电影", "附近有什么好吃的", "怎么减肥最快", "猫为什么怕水",
    "今天星期几", "你叫什么名字", "好无聊啊", "唱首歌给我听",
]
K = 5
POOL = 800  # pairs per set (and LCQMC questions) the splits draw from; held-out draws use the rest


@dataclass(frozen=True)
class Judged:
    """One query's five hits: (cosine, keyword evidence, is the gold entry)."""

    query: str
    hits: tuple[tuple[float, float, bool], ...]


@dataclass
class Draw:
    """The judged queries of one split or held-out draw."""

    paraphrase: list[Judged]
    lcqmc: list[Judged]
    chitchat: list[Judged]


Floor = tuple[float, float, float]  # strong cosine, floor cosine, keyword share


class MemoryStore:
    """Embedding store in a dict: every draw reuses the vectors of texts seen before."""

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, str], np.ndarray] = {}

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        return {h: self._vectors[(model_id, h)] for h in hashes if (model_id, h) in self._vectors}

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        self._vectors.update({(model_id, h): v for h, v in vectors.items()})


def judge_queries(index: Any, queries: list[str], gold: list[str | None]) -> list[Judged]:
    """Hits of every query with the signals the floor reads."""
    from scripts_bank.relevance import content_words, keyword_evidence

    words = {e.id: content_words(e.question) for e in index.entries}
    out = []
    for query, hits, g in zip(queries, index.search(queries, k=K), gold, strict=True):
        mine = content_words(query)
        out.append(Judged(query, tuple((h.semantic, keyword_evidence(mine, words[h.id]), h.id == g)
                                       for h in hits)))
    return out


def answered(judged: Judged, floor: Floor) -> tuple[bool, bool]:
    """(some hit accepted, the gold hit accepted) under a floor."""
    strong, low, share = floor
    accepted = [gold for cos, ev, gold in judged.hits if cos >= strong or (cos >= low and ev >= share)]
    return bool(accepted), any(accepted)


def rates(items: list[Judged], floor: Floor) -> tuple[float, float]:
    """(answered rate, gold-accepted rate) over ``items``."""
    results = [answered(j, floor) for j in items]
    n = max(len(results), 1)
    return sum(a for a, _ in results) / n, sum(g for _, g in results) / n


def ceiling(items: list[Judged]) -> float:
    """Share of queries whose gold entry is among the five hits at all (what no floor can beat)."""
    return sum(any(g for _, _, g in j.hits) for j in items) / max(len(items), 1)


def fit(paraphrase: list[Judged], offtopic: list[Judged]) -> Floor:
    """Grid search: the floor maximising paraphrase answer rate minus off-topic answer rate."""
    best, best_value = (1.0, 1.0, 1.0), -1.0
    cosines = np.round(np.arange(0.84, 0.96, 0.005), 3)
    for strong, low, share in itertools.product(cosines, cosines, (0.3, 0.5, 0.67)):
        if low > strong:
            continue
        floor = (float(strong), float(low), share)
        value = rates(paraphrase, floor)[0] - rates(offtopic, floor)[0]
        if value > best_value + 1e-9:
            best, best_value = floor, value
    return best


def judge_draw(embedder: Any, pairs: dict[str, list[Pair]], lcqmc: list[str]) -> Draw:
    """Build a bank per set from ``pairs`` and judge its paraphrases and the off-topic queries."""
    from scripts_bank.lookup import BankEntry, ScriptIndex

    draw = Draw([], [], [])
    for name, drawn in pairs.items():
        texts = list(dict.fromkeys(b for _, b, _ in drawn))
        bank = [BankEntry(f"{name}{i}", t, "") for i, t in enumerate(texts)]
        ids = {t: e.id for t, e in zip(texts, bank, strict=True)}
        index = ScriptIndex(bank, embedder=embedder, semantic_weight=0.7)
        matching = [(a, b) for a, b, y in drawn if y > 0.5 and a not in ids]
        log(f"  {name}: bank {len(bank)}, {len(matching)} paraphrases,"
            f" {len(lcqmc) + len(CHITCHAT)} off-topic")
        draw.paraphrase += judge_queries(index, [a for a, _ in matching], [ids[b] for _, b in matching])
        draw.lcqmc += judge_queries(index, lcqmc, [None] * len(lcqmc))
        draw.chitchat += judge_queries(index, CHITCHAT, [None] * len(CHITCHAT))
    return draw


def halves(items: list[Judged], rng: random.Random) -> tuple[list[Judged], list[Judged]]:
    shuffled = rng.sample(items, len(items))
    return shuffled[: len(items) // 2], shuffled[len(items) // 2:]


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1%} ± {sd:.1%} (min {min(values):.1%}, max {max(values):.1%})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--holdout", type=int, default=3, help="held-out draws from outside the pools")
    ap.add_argument("--pairs", type=int, default=300, help="pairs drawn per set and draw")
    ap.add_argument("--offtopic", type=int, default=300, help="LCQMC questions per draw")
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    from scripts_bank.relevance import RelevanceFloor
    from training.nlp.embeddings import Embedder
    from training.nlp.encoder.load import load_encoder

    started = time.perf_counter()
    encoder = load_encoder(args.model)
    embedder = Embedder(encoder, MemoryStore())  # type: ignore[arg-type]
    shipped_floor = RelevanceFloor.for_model(encoder.model_id)
    shipped: Floor = (shipped_floor.strong, shipped_floor.floor, shipped_floor.min_evidence)
    sets = {"afqmc": load_afqmc(), "bq_corpus": load_bq_corpus()}
    pools, rests = {}, {}
    for name, pairs in sets.items():
        order = random.Random(SEED).sample(range(len(pairs)), len(pairs))
        pools[name] = [pairs[i] for i in order[:POOL]]
        rests[name] = [pairs[i] for i in order[POOL:]]
    questions = list(dict.fromkeys(a for a, _, _ in load_lcqmc()))
    questions = random.Random(SEED).sample(questions, len(questions))
    lcqmc_pool, lcqmc_rest = questions[:POOL], questions[POOL:]

    split_rows = []
    for split in range(args.splits):
        rng = random.Random(split)
        log(f"split {split}")
        drawn = {name: rng.sample(pool, min(args.pairs, len(pool))) for name, pool in pools.items()}
        draw = judge_draw(embedder, drawn, rng.sample(lcqmc_pool, args.offtopic))
        cut = random.Random(1000 + split)
        para_fit, para_test = halves(draw.paraphrase, cut)
        off_fit, off_test = halves(draw.lcqmc + draw.chitchat, cut)
        fitted = fit(para_fit, off_fit)
        split_rows.append((split, len(para_test), len(off_test), ceiling(para_test),
                           *rates(para_test, shipped), rates(off_test, shipped)[0],
                           fitted, *rates(para_test, fitted), rates(off_test, fitted)[0]))
    holdout_rows = []
    chat_answered: Counter[str] = Counter()
    for n in range(args.holdout):
        rng = random.Random(100 + n)
        log(f"held-out draw {n}")
        drawn = {name: rng.sample(rest, min(args.pairs, len(rest))) for name, rest in rests.items()}
        draw = judge_draw(embedder, drawn, rng.sample(lcqmc_rest, args.offtopic))
        chat_answered.update(j.query for j in draw.chitchat if answered(j, shipped)[0])
        holdout_rows.append((n, len(draw.paraphrase), len(draw.lcqmc), ceiling(draw.paraphrase),
                             *rates(draw.paraphrase, shipped), rates(draw.lcqmc, shipped)[0],
                             rates(draw.chitchat, shipped)[0]))

    print(f"## Lookup floor (`python bench/lookup_floor.py --splits {args.splits} --holdout {args.holdout}"
          f" --pairs {args.pairs} --offtopic {args.offtopic}`)\n")
    print(f"Model `{encoder.model_id}`; shipped floor: strong {shipped[0]:.3f}, floor {shipped[1]:.3f},"
          f" keyword share ≥ {shipped[2]}. Load average {load_average()},"
          f" {time.perf_counter() - started:.0f} s.\n")
    print("Held-out draws (shipped floor; pairs and questions never used to choose it):\n")
    print("| draw | paraphrases / LCQMC questions | gold in top 5 | paraphrases answered | gold accepted"
          " | LCQMC answered | chit-chat answered |")
    print("|---|---|---|---|---|---|---|")
    for n, n_para, n_off, top5, para, gold, off, chat in holdout_rows:
        print(f"| {n} | {n_para} / {n_off} | {top5:.1%} | {para:.1%} | {gold:.1%} | {off:.1%} | {chat:.1%} |")
    print("\nSplits (test halves; fitted = fitted on the other half):\n")
    print("| split | paraphrases / off-topic | gold in top 5 | shipped: answered (gold) | shipped: off-topic"
          " | fitted strong, floor, share | fitted: answered (gold) | fitted: off-topic |")
    print("|---|---|---|---|---|---|---|---|")
    for split, n_para, n_off, top5, sp, sg, so, fitted, fp, fg, fo in split_rows:
        print(f"| {split} | {n_para} / {n_off} | {top5:.1%} | {sp:.1%} ({sg:.1%}) | {so:.1%} | "
              f"{fitted[0]:.3f}, {fitted[1]:.3f}, {fitted[2]:.2f} | {fp:.1%} ({fg:.1%}) | {fo:.1%} |")
    print()
    if holdout_rows:
        print(f"- held out, shipped floor: paraphrases answered {spread([r[4] for r in holdout_rows])},"
              f" gold accepted {spread([r[5] for r in holdout_rows])}"
              f" (gold in top 5: {spread([r[3] for r in holdout_rows])});"
              f" LCQMC answered {spread([r[6] for r in holdout_rows])},"
              f" chit-chat answered {spread([r[7] for r in holdout_rows])}")
    if chat_answered:
        print("- chit-chat answered in held-out draws (times, over draws × banks): "
              + ", ".join(f"{q} ×{n}" for q, n in chat_answered.most_common()))
    if split_rows:
        print(f"- splits, shipped floor: paraphrases answered {spread([r[4] for r in split_rows])},"
              f" off-topic answered {spread([r[6] for r in split_rows])}")
        print(f"- splits, floor re-fitted on each split's other half: paraphrases answered"
              f" {spread([r[8] for r in split_rows])},"
              f" off-topic answered {spread([r[10] for r in split_rows])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
