"""Cross-validation of the ranking formula and the lookup's semantic weight (issue 19, point 1).

Every distinct text of the three ranking sets (``bench/rank_sets.py``: ECD Taobao test, JDDC 2019
dev, JDDC 2018 dev) and of the two lookup sets (``bench/lookup.py``: BQ corpus, AFQMC) is embedded
once with the shipped encoder, as the product does (answers with the e5 "passage" prompt, customer
turns and lookup questions with the default "query" prompt), and cached under ``bench/out``. The
formula is then re-scored in numpy from the product's own signal functions
(``training.ranking.signals``: standing, batch bigram IDF, lexical relevance; the centred
agreement; ``training.ranking.lint`` penalties; ``scripts_bank.lookup.fuse`` and BM25 over jieba
tokens), checked against ``rank_answers`` / ``ScriptIndex.search`` at the shipped point.

Per split (``--splits``, fixed seeds) each set is cut in two random halves: a *tuning* part and
a *held-out* part. Ranking sets split by group; the IDF (product) and the TF-IDF baseline are fitted
on the part being scored, as if that part were one ``huashu rank`` file. Lookup sets split by pair;
each part builds its own bank (its pairs' distinct second questions) as ``bench/lookup.py`` does.
On the tuning part a grid is searched for the point that maximises the *worst* ratio to TF-IDF
across sets (ECD R@1, JDDC 2019 MAP, JDDC 2018 R@1; BQ and AFQMC R@5); the held-out part then
scores TF-IDF, the shipped default and the tuned point. The ranking grid and the lookup weight
are chosen separately (different code paths; maximising each worst ratio maximises the overall).

Grid (ranking): semantic context views (last k turns before the question, mean of the views'
standings), lexical share in relevance, agreement weight relative to relevance. The reference
and reviews weights are not exercised: none of these sets has a reference script or reviews.
Grid (lookup): ``semantic_weight`` in ``fuse``.

    python bench/rank_cv.py [--splits 5] [--max-groups N] [--max-pairs N] [--no-lookup]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import (  # noqa: E402
    SEED,
    CharBigramTfidf,
    Pair,
    load_afqmc,
    load_average,
    load_bq_corpus,
    log,
    markdown_table,
    subsample,
)
from bench.lookup import build_set, top_ids  # noqa: E402
from bench.lookup import metrics as lookup_metrics  # noqa: E402
from bench.rank_sets import ALL_SETS, RankSet  # noqa: E402
from bench.rank_sets import metrics as rank_metrics  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
#: Context views (turns before the question) for the semantic relevance; None = all turns.
CONTEXTS: dict[str, tuple[int | None, ...]] = {
    "1+3": (1, 3), "0": (0,), "1": (1,), "3": (3,), "all": (None,), "0+1+3": (0, 1, 3),
    "1+3+all": (1, 3, None),
}
TURN_VIEWS: tuple[int | None, ...] = (0, 1, 3, None)
SHARES = tuple(round(x, 2) for x in np.arange(0.0, 1.001, 0.05))
#: agreement weight / relevance weight (the shipped 0.35 / 0.35 = 1).
AGREEMENTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
LOOKUP_WEIGHTS = tuple(round(x, 2) for x in np.arange(0.0, 1.001, 0.05))
PRIMARY = {"ecd": "R@1", "jddc2019": "MAP", "jddc2018": "R@1"}
LOOKUP_PRIMARY = "R@5"
METHODS = ("tfidf", "default", "chosen", "consensus")
LOOKUP_SETS = {"bq_corpus": load_bq_corpus, "afqmc": load_afqmc}
#: random tie-break draws for the fast MAP of the grid (reported figures use bench.rank_sets).
GRID_TIE_DRAWS = 8


# --------------------------------------------------------------------------------------------
# embeddings: each distinct text once, cached in bench/out
# --------------------------------------------------------------------------------------------


def make_embedder() -> Any:
    from training.nlp.embeddings import DiskEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder

    OUT.mkdir(parents=True, exist_ok=True)
    return Embedder(load_encoder(), DiskEmbeddingStore(OUT / "rank-cv-embeddings.sqlite"))


# --------------------------------------------------------------------------------------------
# ranking: per-group signals that do not depend on the grid point
# --------------------------------------------------------------------------------------------


@dataclass
class RankData:
    """One ranking set with padded per-answer arrays (G groups x W answers)."""

    key: str
    rank_set: RankSet
    groups: list[Any]  # training.ranking.rank.RankGroup
    valid: np.ndarray  # (G, W) bool: a real answer slot
    live: np.ndarray  # (G, W) bool: a non-blank answer
    sem: dict[int | None, np.ndarray] = field(default_factory=dict)  # standing per turn view
    sims: np.ndarray | None = None  # (G, W, W) centred, clipped cosines, diagonal 0
    penalty: np.ndarray | None = None  # (G, W) lint penalty
    many: np.ndarray | None = None  # (G,) at least 3 live answers (agreement present)


def rank_data(key: str, rank_set: RankSet, embedder: Any) -> RankData:
    from training.ranking.lint import DEFAULT_RULES, lint_answer
    from training.ranking.rank import ANSWER_PROMPT, ChatTurn, RankGroup, _turn_text
    from training.ranking.signals import standing

    groups = [RankGroup(g["question"], g["answers"],
                        [ChatTurn(c["role"], c["text"]) for c in g["context"]])
              for g in rank_set.groups]
    width = max(len(g.answers) for g in groups)
    n = len(groups)
    valid = np.zeros((n, width), bool)
    live = np.zeros((n, width), bool)
    for gi, g in enumerate(groups):
        valid[gi, :len(g.answers)] = True
        live[gi, :len(g.answers)] = [bool(a.strip()) for a in g.answers]
    passages = list(dict.fromkeys(a for g in groups for a in g.answers if a.strip()))
    queries = list(dict.fromkeys(_turn_text(g, k) for g in groups for k in TURN_VIEWS))
    log(f"[rank_cv] {key}: {len(passages)} answers, {len(queries)} turn texts to embed (cached)")
    pvec = embedder.embed(passages, show_progress=True, prompt=ANSWER_PROMPT)
    qvec = embedder.embed(queries, show_progress=True)
    prow = {t: i for i, t in enumerate(passages)}
    qrow = {t: i for i, t in enumerate(queries)}
    data = RankData(key, rank_set, groups, valid, live)
    sem = {k: np.zeros((n, width)) for k in TURN_VIEWS}
    sims = np.zeros((n, width, width))
    penalty = np.zeros((n, width))
    many = np.zeros(n, bool)
    for gi, g in enumerate(groups):
        idx = np.flatnonzero(live[gi])
        if not len(idx):
            continue
        vecs = pvec[[prow[g.answers[i]] for i in idx]]
        for k in TURN_VIEWS:
            cos = vecs @ qvec[qrow[_turn_text(g, k)]]
            sem[k][gi, idx] = standing(cos.astype(np.float32))
        if len(idx) >= 3:
            many[gi] = True
            centred = vecs.astype(np.float64) - vecs.mean(axis=0)
            centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)
            s = np.clip(centred @ centred.T, 0.0, None)
            np.fill_diagonal(s, 0.0)
            sims[gi][np.ix_(idx, idx)] = s
        for i, a in enumerate(g.answers):
            penalty[gi, i] = sum(f.penalty for f in lint_answer(a, g.question, DEFAULT_RULES))
    data.sem, data.sims, data.penalty, data.many = sem, sims, penalty, many
    return data


def lexical_standing(data: RankData, rows: np.ndarray) -> np.ndarray:
    """(len(rows), W) standing of the batch-IDF lexical cosine, the batch being these groups."""
    from training.ranking.rank import _turn_text
    from training.ranking.signals import BigramIdf, lexical_relevance, standing

    groups = [data.groups[i] for i in rows]
    idf = BigramIdf.fit([*(a for g in groups for a in g.answers),
                         *(t.text for g in groups for t in g.context), *(g.question for g in groups)])
    out = np.zeros((len(rows), data.valid.shape[1]))
    for r, gi in enumerate(rows):
        g = data.groups[gi]
        idx = np.flatnonzero(data.live[gi])
        if len(idx):
            lex = lexical_relevance([g.answers[i] for i in idx], _turn_text(g, None), idf)
            out[r, idx] = standing(lex)
    return out


@dataclass(frozen=True)
class Point:
    """One ranking formula: semantic context views, lexical share, agreement / relevance weight."""

    context: str
    share: float
    agreement: float

    def label(self) -> str:
        return f"ctx {self.context}, lexical {self.share:g}, agreement/relevance {self.agreement:g}"


def rank_scores(data: RankData, rows: np.ndarray, lex: np.ndarray, p: Point) -> np.ndarray:
    """(len(rows), W) final scores as ``rank_answers`` computes them; invalid slots -inf."""
    sem = np.mean([data.sem[k][rows] for k in CONTEXTS[p.context]], axis=0)
    rel = ((1 - p.share) * sem + p.share * lex).astype(np.float32).astype(np.float64)
    live = data.live[rows]
    rel = np.where(live, rel, 0.0)
    assert data.sims is not None and data.penalty is not None and data.many is not None
    agr = (data.sims[rows] * rel[:, None, :]).max(axis=2)
    score = np.where(data.many[rows, None], (rel + p.agreement * agr) / (1 + p.agreement), rel) \
        if p.agreement > 0 else rel
    final = np.clip(score - data.penalty[rows], 0.0, 1.0)
    final = np.where(live, final, 0.0)
    return np.where(data.valid[rows], final, -np.inf)


def gold_mask(data: RankData, rows: np.ndarray) -> np.ndarray:
    m = np.zeros((len(rows), data.valid.shape[1]), bool)
    for r, gi in enumerate(rows):
        m[r, data.rank_set.gold[gi]] = True
    return m


def fast_primary(key: str, scores: np.ndarray, gold: np.ndarray, valid: np.ndarray,
                 rng_key: np.ndarray) -> float:
    """Primary metric for the grid: exact tie-aware R@1 (one gold), or MAP over random tie-breaks."""
    if PRIMARY[key] == "R@1":
        true = np.where(gold, scores, -np.inf).max(axis=1)
        greater = ((scores > true[:, None]) & valid).sum(axis=1)
        tied = ((scores == true[:, None]) & valid).sum(axis=1) - 1
        return float(np.clip((1 - greater) / (tied + 1), 0.0, 1.0).mean())
    aps = []
    for d in range(rng_key.shape[0]):
        order = np.lexsort((rng_key[d], -scores), axis=1)
        hits = np.take_along_axis(gold, order, axis=1)
        ranks = np.arange(1, hits.shape[1] + 1)
        prec = np.cumsum(hits, axis=1) / ranks
        aps.append((prec * hits).sum(axis=1) / hits.sum(axis=1))
    return float(np.mean(aps))


def subset(rank_set: RankSet, rows: np.ndarray) -> RankSet:
    return RankSet(rank_set.name, [rank_set.groups[i] for i in rows],
                   [rank_set.gold[i] for i in rows], rank_set.note)


def to_lists(scores: np.ndarray, data: RankData, rows: np.ndarray) -> list[list[float]]:
    return [scores[r, :len(data.groups[gi].answers)].tolist() for r, gi in enumerate(rows)]


# --------------------------------------------------------------------------------------------
# lookup
# --------------------------------------------------------------------------------------------


@dataclass
class LookupPart:
    """One lookup part: bank and queries, with the cosine and BM25 matrices (weight-free)."""

    ids: list[str]
    gold: list[str]
    cosines: np.ndarray
    bm25: np.ndarray
    tfidf_hits: list[list[str]]


def lookup_part(pairs: list[Pair], vec: dict[str, np.ndarray]) -> LookupPart:
    from scripts_bank.bm25 import KeywordIndex
    from scripts_bank.lookup import BankEntry, entry_tokens
    from training.nlp.keywords import keywords

    bank, queries, gold = build_set(pairs)
    ids = [e["id"] for e in bank]
    bank_q = [e["question"] for e in bank]
    qtexts = [q["query"] for q in queries]
    cos = np.stack([vec[q] for q in qtexts]) @ np.stack([vec[b] for b in bank_q]).T
    index = KeywordIndex([entry_tokens(BankEntry(e["id"], e["question"], "")) for e in bank])
    bm25 = index.scores([keywords(q) for q in qtexts])
    tfidf = CharBigramTfidf().fit(bank_q)
    return LookupPart(ids, gold, cos.astype(np.float32), bm25,
                      top_ids(tfidf.cosine_matrix(qtexts, bank_q), ids))


def lookup_hits(part: LookupPart, weight: float, k: int = 10) -> list[list[str]]:
    """Top-k ids as ``ScriptIndex.search`` orders them (fused score, ties in bank order)."""
    from scripts_bank.lookup import fuse

    fused = fuse(part.cosines, part.bm25, weight)
    pos = np.arange(fused.shape[1])
    return [[part.ids[i] for i in np.lexsort((pos, -row))[:k]] for row in fused]


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cut = n // 2
    return np.array(sorted(order[:cut])), np.array(sorted(order[cut:]))


def mean_sd(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"


def check_product(data: RankData, rows: np.ndarray, embedder: Any, default: Point) -> float:
    """Max |difference| between this file's scores and ``rank_answers`` on one part (one batch)."""
    from training.ranking.rank import RankWeights, rank_answers

    ranked = rank_answers([data.groups[i] for i in rows], embedder=embedder, weights=RankWeights())
    mine = to_lists(rank_scores(data, rows, lexical_standing(data, rows), default), data, rows)
    return max(abs(s.score - m) for r, mm in zip(ranked, mine, strict=True)
               for s, m in zip(r, mm, strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--max-groups", type=int, default=None, help="groups per ranking set")
    ap.add_argument("--max-pairs", type=int, default=None, help="pairs per lookup set")
    ap.add_argument("--sets", default=",".join(ALL_SETS))
    ap.add_argument("--no-lookup", action="store_true")
    ap.add_argument("--both", action="store_true",
                    help="also tune on each split's held-out half and score its tuning half")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    load0 = load_average()
    from training.core.config import get_settings
    from training.ranking import rank as product

    settings = get_settings()
    default_ctx = next(k for k, v in CONTEXTS.items() if v == tuple(product.CONTEXT_TURNS))
    weights = product.RankWeights.from_settings(settings)
    default = Point(default_ctx, float(product.LEXICAL_SHARE), weights.agreement / weights.relevance)
    default_w = float(settings.lookup_semantic_weight)
    grid = [Point(c, s, a) for c, s, a in itertools.product(CONTEXTS, SHARES, AGREEMENTS)]
    embedder = make_embedder()
    log(f"[rank_cv] encoder {embedder.model_id}; default {default.label()}, lookup w {default_w}")

    # ---- ranking sets ------------------------------------------------------------------
    t0 = time.perf_counter()
    sets = {k: rank_data(k, ALL_SETS[k](args.max_groups), embedder) for k in args.sets.split(",")}
    rank_embed_s = time.perf_counter() - t0
    check = {k: check_product(d, np.arange(len(d.groups)), embedder, default) for k, d in sets.items()}
    log(f"[rank_cv] max |score - rank_answers| at the shipped point: {check}")
    tie_rng = np.random.default_rng(SEED)

    # ---- lookup sets ---------------------------------------------------------------------
    lookup_pairs: dict[str, list[Pair]] = {}
    vec: dict[str, np.ndarray] = {}
    lookup_embed_s = 0.0
    if not args.no_lookup:
        t0 = time.perf_counter()
        lookup_pairs = {k: subsample(f(), args.max_pairs) for k, f in LOOKUP_SETS.items()}
        texts = list(dict.fromkeys(t for ps in lookup_pairs.values() for a, b, _ in ps for t in (a, b)))
        log(f"[rank_cv] lookup: {len(texts)} distinct questions to embed (cached)")
        vec = dict(zip(texts, embedder.embed(texts, show_progress=True), strict=True))
        lookup_embed_s = time.perf_counter() - t0
        lookup_check(lookup_pairs["afqmc"], embedder, vec, default_w)

    results: list[dict[str, Any]] = []
    folds = list(itertools.product(range(args.splits), (0, 1) if args.both else (0,)))
    for split, side in folds:
        log(f"[rank_cv] split {split}, direction {'ab'[side]} …")
        res: dict[str, Any] = {"split": f"{split}{'ab'[side] if args.both else ''}", "rank": {},
                               "lookup": {}}
        parts = {}
        for i, (k, d) in enumerate(sets.items()):
            a, b = halves(len(d.groups), SEED + 1000 * (split + 1) + i)
            parts[k] = (b, a) if side else (a, b)
        # tuning: worst ratio to TF-IDF over the ranking sets
        tune_ratio = np.full(len(grid), np.inf)
        for key, d in sets.items():
            rows = parts[key][0]
            lex = lexical_standing(d, rows)
            gold, valid = gold_mask(d, rows), d.valid[rows]
            rk = tie_rng.random((GRID_TIE_DRAWS, *valid.shape))
            base = rank_metrics(subset(d.rank_set, rows), subset(d.rank_set, rows).tfidf_scores())
            b = max(base[PRIMARY[key]], 1e-9)
            for gi, p in enumerate(grid):
                val = fast_primary(key, rank_scores(d, rows, lex, p), gold, valid, rk)
                tune_ratio[gi] = min(tune_ratio[gi], val / b)
        best = grid[int(np.argmax(tune_ratio))]
        res["rank_tune_ratio"] = tune_ratio.tolist()
        res["rank_chosen"] = best.__dict__
        for key, d in sets.items():
            rows = parts[key][1]
            held = subset(d.rank_set, rows)
            lex = lexical_standing(d, rows)
            res["rank"][key] = {
                "tfidf": rank_metrics(held, held.tfidf_scores()),
                "default": rank_metrics(held, to_lists(rank_scores(d, rows, lex, default), d, rows)),
                "chosen": rank_metrics(held, to_lists(rank_scores(d, rows, lex, best), d, rows)),
                "held_grid": [fast_primary(key, rank_scores(d, rows, lex, p), gold_mask(d, rows),
                                           d.valid[rows], tie_rng.random((GRID_TIE_DRAWS,
                                                                          *d.valid[rows].shape)))
                              for p in grid],
                "groups": len(rows), "rows": rows.tolist(),
            }
        if lookup_pairs:
            lk_tune = np.full(len(LOOKUP_WEIGHTS), np.inf)
            held_parts: dict[str, LookupPart] = {}
            for i, (key, ps) in enumerate(lookup_pairs.items()):
                tune, held_rows = halves(len(ps), SEED + 1000 * (split + 1) + 50 + i)
                if side:
                    tune, held_rows = held_rows, tune
                part = lookup_part([ps[j] for j in tune], vec)
                b = max(lookup_metrics(part.tfidf_hits, part.gold)[LOOKUP_PRIMARY], 1e-9)
                for wi, w in enumerate(LOOKUP_WEIGHTS):
                    val = lookup_metrics(lookup_hits(part, w), part.gold)[LOOKUP_PRIMARY]
                    lk_tune[wi] = min(lk_tune[wi], val / b)
                held_parts[key] = lookup_part([ps[j] for j in held_rows], vec)
            w_best = LOOKUP_WEIGHTS[int(np.argmax(lk_tune))]
            res["lookup_chosen"] = w_best
            res["lookup_tune_ratio"] = lk_tune.tolist()
            for key, part in held_parts.items():
                log(f"[rank_cv]   lookup {key}: bank {len(part.ids)}, {len(part.gold)} queries held out")
                res["lookup"][key] = {
                    "tfidf": lookup_metrics(part.tfidf_hits, part.gold),
                    "default": lookup_metrics(lookup_hits(part, default_w), part.gold),
                    "chosen": lookup_metrics(lookup_hits(part, w_best), part.gold),
                    "held_all": [lookup_metrics(lookup_hits(part, w), part.gold)
                                 for w in LOOKUP_WEIGHTS],
                    "queries": len(part.gold), "bank": len(part.ids),
                }
        results.append(res)

    # consensus: the point with the best mean tuning worst-ratio over all folds, scored on each
    # fold's held-out part with the bench metrics
    cons = grid[int(np.argmax(np.mean([r["rank_tune_ratio"] for r in results], axis=0)))]
    for r in results:
        r["rank_consensus"] = cons.__dict__
        for key, d in sets.items():
            rows = np.array(r["rank"][key]["rows"])
            held = subset(d.rank_set, rows)
            r["rank"][key]["consensus"] = rank_metrics(
                held, to_lists(rank_scores(d, rows, lexical_standing(d, rows), cons), d, rows))
    if lookup_pairs:
        wc = int(np.argmax(np.mean([r["lookup_tune_ratio"] for r in results], axis=0)))
        for r in results:
            r["lookup_consensus"] = LOOKUP_WEIGHTS[wc]
            for x in r["lookup"].values():
                x["consensus"] = x["held_all"][wc]
                x["held_grid"] = [m[LOOKUP_PRIMARY] for m in x["held_all"]]

    report(results, sets, grid, default, default_w, args, load0, check,
           rank_embed_s, lookup_embed_s, time.perf_counter() - t_start, embedder.model_id)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rank_cv.json").write_text(json.dumps(
        {"grid": [p.__dict__ for p in grid], "lookup_weights": LOOKUP_WEIGHTS,
         "default": default.__dict__, "default_w": default_w, "splits": results}, default=float))
    return 0


def lookup_check(pairs: list[Pair], embedder: Any, vec: dict[str, np.ndarray], w: float) -> None:
    """Compare this file's lookup order with ``ScriptIndex.search`` on 300 AFQMC pairs."""
    from scripts_bank.lookup import BankEntry, ScriptIndex

    few = pairs[:300]
    bank, queries, _ = build_set(few)
    index = ScriptIndex([BankEntry(e["id"], e["question"], "") for e in bank], embedder=embedder,
                        semantic_weight=w)
    got = [[h.id for h in hits] for hits in index.search([q["query"] for q in queries], k=10)]
    mine = lookup_hits(lookup_part(few, vec), w)
    same = sum(g == m for g, m in zip(got, mine, strict=True))
    log(f"[rank_cv] lookup check: {same}/{len(got)} queries with the same top 10 as ScriptIndex")


def report(results: list[dict[str, Any]], sets: dict[str, RankData], grid: list[Point],
           default: Point, default_w: float, args: argparse.Namespace, load0: str,
           check: dict[str, float], rank_embed_s: float, lookup_embed_s: float, total_s: float,
           model_id: str) -> None:
    print("## Ranking formula and lookup weight by cross-validation (issue 19, point 1)\n")
    print(f"Encoder `{model_id}`; {args.splits} splits; 1-min load average at the start {load0}; "
          f"embedding (cached in bench/out) {rank_embed_s:.0f} s ranking + {lookup_embed_s:.0f} s "
          f"lookup; whole run {total_s:.0f} s. Reimplementation vs `rank_answers` at the shipped "
          f"point, max |Δscore|: " + ", ".join(f"{k} {v:.1e}" for k, v in check.items()) + ".\n")
    print(f"Shipped ranking point: {default.label()}; shipped lookup semantic_weight {default_w}.\n")
    rows = []
    for key in sets:
        names = list(results[0]["rank"][key]["tfidf"])
        for m in names:
            row = [f"{key} ({results[0]['rank'][key]['groups']} groups held out)", m]
            for method in METHODS:
                row.append(mean_sd([r["rank"][key][method][m] for r in results]))
            rows.append(row)
    for key in results[0]["lookup"]:
        r0 = results[0]["lookup"][key]
        for m in r0["tfidf"]:
            row = [f"lookup {key} (bank ~{r0['bank']}, {r0['queries']} queries)", m]
            for method in METHODS:
                row.append(mean_sd([r["lookup"][key][method][m] for r in results]))
            rows.append(row)
    print("Held-out parts, mean ± sd over the folds (CV-chosen = tuned on the fold's other part):\n")
    print(markdown_table(["set", "metric", "TF-IDF", "shipped default", "CV-chosen",
                          "consensus"], rows))
    print()
    # per split: chosen points and primary figures
    rows = []
    for r in results:
        row = [str(r["split"]), Point(**r["rank_chosen"]).label(), str(r.get("lookup_chosen", "-"))]
        for key in sets:
            m = PRIMARY[key]
            x = r["rank"][key]
            row.append(f"{x['tfidf'][m]:.3f} / {x['default'][m]:.3f} / {x['chosen'][m]:.3f}")
        for x in r["lookup"].values():
            m = LOOKUP_PRIMARY
            row.append(f"{x['tfidf'][m]:.3f} / {x['default'][m]:.3f} / {x['chosen'][m]:.3f}")
        rows.append(row)
    head = ["split", "chosen ranking point", "chosen w",
            *(f"{k} {PRIMARY[k]}" for k in sets), *(f"{k} {LOOKUP_PRIMARY}" for k in results[0]["lookup"])]
    print("Per split, held-out primary figure, TF-IDF / shipped / chosen:\n")
    print(markdown_table(head, rows))
    print()
    # how often each method is >= TF-IDF, per figure, over the folds
    n = len(results)
    rows = []
    for kind, keys in (("rank", list(sets)), ("lookup", list(results[0]["lookup"]))):
        for key in keys:
            for m in results[0][kind][key]["tfidf"]:
                row = [f"{'lookup ' if kind == 'lookup' else ''}{key}", m]
                for method in METHODS[1:]:
                    ok = sum(r[kind][key][method][m] >= r[kind][key]["tfidf"][m] - 1e-12
                             for r in results)
                    row.append(f"{ok}/{n}")
                rows.append(row)
    print("Held-out parts on which each formula is ≥ TF-IDF, per figure:\n")
    print(markdown_table(["set", "metric", "shipped", "CV-chosen", "consensus"], rows))
    print()
    tune = np.array([r["rank_tune_ratio"] for r in results])
    di = grid.index(default)
    ci = grid.index(Point(**results[0]["rank_consensus"]))
    print(f"Consensus ranking point (best mean over the folds of the tuning parts' worst ratio): "
          f"**{grid[ci].label()}**: mean tuning worst ratio {tune.mean(axis=0)[ci]:.3f} "
          f"(shipped {tune.mean(axis=0)[di]:.3f}); it saw every fold's held-out part while "
          f"tuning other folds, so its held-out figures are optimistic.")
    if results[0]["lookup"]:
        lt = np.array([r["lookup_tune_ratio"] for r in results])
        dw = int(np.argmin(np.abs(np.array(LOOKUP_WEIGHTS) - default_w)))
        print(f"Consensus lookup semantic_weight: **{results[0]['lookup_consensus']}** "
              f"(mean tuning worst ratio {lt.mean(axis=0).max():.3f}; shipped {default_w}: "
              f"{lt.mean(axis=0)[dw]:.3f}).")
    print()
    # the best few points by mean tuning worst ratio
    top = np.argsort(-tune.mean(axis=0))[:10]
    print("Ten best ranking points by mean tuning worst-ratio over the folds (and its minimum):\n")
    print(markdown_table(["point", "mean worst ratio", "min over splits"],
                         [[grid[i].label(), f"{tune.mean(axis=0)[i]:.3f}", f"{tune.min(axis=0)[i]:.3f}"]
                          for i in [*top, di]]))


if __name__ == "__main__":
    sys.exit(main())
