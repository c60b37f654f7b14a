"""The three answer-ranking sets as ``huashu rank`` input groups, their gold and their metrics.

Shared by ``bench/rank.py`` (figures through the CLI) and ``bench/rank_search.py`` (in-process
formula search), so both score exactly the same groups.

- ECD Taobao test: 10 candidates per context (1 true), shuffled with a fixed seed.
- JDDC 2019 dev: each customer turn's human replies (up to 3) + ``JDDC19_DISTRACTORS`` human
  replies drawn from turns of *other* sessions; gold = the human replies of this turn.
- JDDC 2018 dev: the true reply + ``JDDC18_DISTRACTORS`` replies of other contexts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.datasets import (
    SEED,
    CharBigramTfidf,
    Turn,
    expected_recall_at,
    expected_reciprocal_rank,
    load_ecd_test,
    load_jddc2018_dev,
    load_jddc2019_dev,
    rank_of_true,
    subsample,
)

JDDC19_DISTRACTORS = 7
JDDC18_DISTRACTORS = 9
#: random tie-breaks averaged for MAP / P@R, so a constant scorer gets the random figure
TIE_DRAWS = 50


@dataclass
class RankSet:
    """Groups in ``huashu rank`` input form and, per group, the positions of the gold answers."""

    name: str
    groups: list[dict[str, Any]]
    gold: list[list[int]]
    note: str

    def tfidf_scores(self) -> list[list[float]]:
        """Char-bigram TF-IDF cosine of each answer to context + question (IDF over the set)."""
        texts = [g["question"] for g in self.groups]
        texts += [c["text"] for g in self.groups for c in g["context"]]
        texts += [a for g in self.groups for a in g["answers"]]
        tfidf = CharBigramTfidf().fit(texts)
        out: list[list[float]] = []
        for g in self.groups:
            full = " ".join([c["text"] for c in g["context"]] + [g["question"]])
            out.append(tfidf.cosine_matrix([full], g["answers"])[0].tolist())
        return out


def _context_json(turns: Sequence[Turn]) -> list[dict[str, str]]:
    return [{"role": t.role, "text": t.text} for t in turns]


def ecd_set(max_groups: int | None) -> RankSet:
    """ECD Taobao test: true reply among 10 shuffled candidates."""
    data = subsample(load_ecd_test(), max_groups)
    rng = random.Random(SEED)
    groups: list[dict[str, Any]] = []
    gold: list[list[int]] = []
    for g in data:
        order = list(range(len(g.candidates)))
        rng.shuffle(order)
        groups.append({"id": g.gid, "question": g.question, "context": _context_json(g.context),
                       "answers": [g.candidates[i] for i in order]})
        gold.append([order.index(g.true_index)])
    return RankSet("ECD Taobao test", groups, gold,
                   f"{len(groups)} contexts x 10 candidates, 1 true")


def jddc2019_set(max_groups: int | None) -> RankSet:
    """JDDC 2019 dev: the human replies of a turn among replies to other sessions' turns."""
    turns_all = load_jddc2019_dev()
    turns = subsample([t for t in turns_all if t.question and t.human_answers], max_groups)
    pool = [(t.session, a) for t in turns_all for _, a in t.human_answers]
    rng = random.Random(SEED + 1)
    groups: list[dict[str, Any]] = []
    gold: list[list[int]] = []
    for t in turns:
        own = {a for _, a in t.human_answers}
        others = sorted({a for s, a in pool if s != t.session and a not in own})
        items = [(True, a) for _, a in t.human_answers]
        items += [(False, a) for a in rng.sample(others, JDDC19_DISTRACTORS)]
        rng.shuffle(items)
        groups.append({"id": f"{t.session}-{t.turn}", "question": t.question,
                       "context": _context_json(t.context), "answers": [a for _, a in items]})
        gold.append([i for i, (real, _) in enumerate(items) if real])
    return RankSet("JDDC 2019 dev", groups, gold,
                   f"{len(groups)} customer turns, their 1-3 human replies + "
                   f"{JDDC19_DISTRACTORS} replies from other sessions")


def jddc2018_set(max_groups: int | None) -> RankSet:
    """JDDC 2018 dev: the true reply among replies to other contexts."""
    pairs = load_jddc2018_dev()
    chosen = subsample(pairs, max_groups)
    replies = sorted({p.reply for p in pairs})
    rng = random.Random(SEED + 2)
    groups: list[dict[str, Any]] = []
    gold: list[list[int]] = []
    for p in chosen:
        negatives = rng.sample([r for r in replies if r != p.reply], JDDC18_DISTRACTORS)
        items = [(True, p.reply)] + [(False, r) for r in negatives]
        rng.shuffle(items)
        groups.append({"id": p.pid, "question": p.question, "context": _context_json(p.context),
                       "answers": [a for _, a in items]})
        gold.append([i for i, (real, _) in enumerate(items) if real])
    return RankSet("JDDC 2018 dev", groups, gold,
                   f"{len(groups)} contexts, true reply + {JDDC18_DISTRACTORS} replies of other "
                   "contexts")


def single_gold_metrics(scores: list[list[float]], gold: list[list[int]]) -> dict[str, float]:
    """R@1, R@2, R@5 and MRR with ties counted as random order (one gold answer per group)."""
    ks = (1, 2, 5)
    rec = dict.fromkeys(ks, 0.0)
    mrr = 0.0
    for s, g in zip(scores, gold, strict=True):
        greater, tied = rank_of_true(s, g[0])
        for k in ks:
            rec[k] += expected_recall_at(greater, tied, k)
        mrr += expected_reciprocal_rank(greater, tied)
    n = max(len(scores), 1)
    return {**{f"R@{k}": rec[k] / n for k in ks}, "MRR": mrr / n}


def multi_gold_metrics(scores: list[list[float]], gold: list[list[int]]) -> dict[str, float]:
    """MAP and precision at R (R = number of gold answers), ties broken at random (averaged)."""
    rng = np.random.default_rng(SEED)
    aps: list[float] = []
    prs: list[float] = []
    for s, g in zip(scores, gold, strict=True):
        values = np.asarray(s, dtype=np.float64)
        relevant = np.zeros(len(values), dtype=bool)
        relevant[g] = True
        ap = pr = 0.0
        for _ in range(TIE_DRAWS):
            order = np.lexsort((rng.random(len(values)), -values))
            hits = relevant[order]
            ranks = np.flatnonzero(hits) + 1
            ap += float(np.mean(np.arange(1, len(ranks) + 1) / ranks))
            pr += float(hits[: len(g)].mean())
        aps.append(ap / TIE_DRAWS)
        prs.append(pr / TIE_DRAWS)
    return {"MAP": float(np.mean(aps)), "P@R": float(np.mean(prs))}


def metrics(rank_set: RankSet, scores: list[list[float]]) -> dict[str, float]:
    """The set's metrics: MAP/P@R with several gold answers, else R@k/MRR."""
    if any(len(g) > 1 for g in rank_set.gold):
        return multi_gold_metrics(scores, rank_set.gold)
    return single_gold_metrics(scores, rank_set.gold)


def random_scores(rank_set: RankSet) -> list[list[float]]:
    """A constant scorer: with ties counted as random order it gives the random figures."""
    return [[0.0] * len(g["answers"]) for g in rank_set.groups]


ALL_SETS = {"ecd": ecd_set, "jddc2019": jddc2019_set, "jddc2018": jddc2018_set}
