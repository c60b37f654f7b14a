"""Ranking bench: ``huashu rank`` on ECD Taobao test and on JDDC 2019 dev.

ECD Taobao (50 contexts x 10 candidates, exactly one is the real agent reply): each context
becomes one group, ``question`` = the last customer turn, ``context`` = the turns before it
(customer/agent alternating, customer first), ``answers`` = the 10 candidates shuffled with a
fixed seed. Reports R10@1, R10@2, R10@5 and MRR beside a character-bigram TF-IDF baseline
(cosine of each candidate to context + question) and random (expected value). Ties count as
random order, so a constant scorer scores exactly like random.

JDDC 2019 dev has 3 human agents' answers per customer turn but no label saying which is best,
so there is no gold to rank against. Instead each group gets the (up to) 3 human answers plus
one distractor: the answer to a random turn of another session. Reported: mean score of the
human answers (overall and per agent slot) vs the distractor, the within-group pairwise win rate
human > distractor, and how often the distractor is ranked last.

With ``--ablations`` the ranker is also run with one signal switched off through its settings
(``HUASHU_RANK_WEIGHT_RELEVANCE=0`` = agreement only, ``HUASHU_RANK_WEIGHT_AGREEMENT=0`` =
relevance only), to see which signal helps or hurts.

    python bench/rank.py [--max-pairs N_GROUPS] [--model M] [--ablations]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/rank.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import (  # noqa: E402
    SEED,
    CharBigramTfidf,
    Cli,
    EcdGroup,
    JddcTurn,
    Turn,
    add_cli_options,
    expected_recall_at,
    expected_reciprocal_rank,
    fmt,
    load_average,
    load_ecd_test,
    load_jddc2019_dev,
    log,
    markdown_table,
    rank_of_true,
    subsample,
)

KS = (1, 2, 5)


def _context_json(turns: list[Turn]) -> list[dict[str, str]]:
    return [{"role": t.role, "text": t.text} for t in turns]


#: extra `huashu rank` runs with one ranking signal switched off (see training.config)
ABLATIONS: dict[str, dict[str, str]] = {
    "huashu rank, agreement only": {"HUASHU_RANK_WEIGHT_RELEVANCE": "0"},
    "huashu rank, relevance only": {"HUASHU_RANK_WEIGHT_AGREEMENT": "0"},
}


def _cli_scores(
    cli: Cli, groups: list[dict[str, Any]], env: dict[str, str] | None = None
) -> tuple[list[list[float]] | None, str]:
    """Scores per group from ``huashu rank`` and the wall time (None when the CLI is unusable).

    With ``env`` (an ablation) the embedding cache is kept: only the first run is timed cold.
    """
    run = cli.try_run("rank", {"input": groups}, env=env, empty_cache=env is None)
    if run is None:
        return None, "n/a"
    scores = [[float(x) for x in r["scores"]] for r in run.rows]
    for g, s in zip(groups, scores, strict=True):
        if len(s) != len(g["answers"]):
            raise RuntimeError(f"group {g['id']}: {len(s)} scores for {len(g['answers'])} answers")
    return scores, f"{run.seconds:.1f} / {run.cpu_seconds:.1f}"


# --------------------------------------------------------------------------------------------
# ECD
# --------------------------------------------------------------------------------------------


def ecd_metrics(scores: list[list[float]], true_idx: list[int]) -> dict[str, float]:
    rec = dict.fromkeys(KS, 0.0)
    mrr = 0.0
    for s, t in zip(scores, true_idx, strict=True):
        g, tied = rank_of_true(s, t)
        for k in KS:
            rec[k] += expected_recall_at(g, tied, k)
        mrr += expected_reciprocal_rank(g, tied)
    n = len(scores)
    out = {f"R10@{k}": rec[k] / n for k in KS}
    out["MRR"] = mrr / n
    return out


def bench_ecd(cli: Cli, max_groups: int | None, ablations: bool = False) -> str:
    data: list[EcdGroup] = subsample(load_ecd_test(), max_groups)
    rng = random.Random(SEED)
    groups: list[dict[str, Any]] = []
    true_idx: list[int] = []
    for g in data:
        order = list(range(len(g.candidates)))
        rng.shuffle(order)
        groups.append(
            {
                "id": g.gid,
                "question": g.question,
                "context": _context_json(g.context),
                "answers": [g.candidates[i] for i in order],
            }
        )
        true_idx.append(order.index(g.true_index))
    n_cand = {len(g["answers"]) for g in groups}
    log(f"[rank] ECD: {len(groups)} groups x {sorted(n_cand)} candidates")

    texts = [g.question for g in data] + [t.text for g in data for t in g.context]
    texts += [c for g in data for c in g.candidates]
    tfidf = CharBigramTfidf().fit(texts)
    tf_ctx: list[list[float]] = []
    tf_q: list[list[float]] = []
    for g, grp in zip(data, groups, strict=True):
        full = " ".join([t.text for t in g.context] + [g.question])
        tf_ctx.append(tfidf.cosine_matrix([full], grp["answers"])[0].tolist())
        tf_q.append(tfidf.cosine_matrix([g.question], grp["answers"])[0].tolist())

    model_scores, wall = _cli_scores(cli, groups)
    n = 10
    rows: list[list[str]] = []
    if model_scores is not None:
        m = ecd_metrics(model_scores, true_idx)
        rows.append(["huashu rank", *(fmt(m[k]) for k in m), wall])
    else:
        rows.append(["huashu rank", "n/a", "n/a", "n/a", "n/a", "n/a"])
    for label, env in ABLATIONS.items() if ablations and model_scores is not None else ():
        ab_scores, ab_wall = _cli_scores(cli, groups, env)
        if ab_scores is not None:
            m = ecd_metrics(ab_scores, true_idx)
            rows.append([label, *(fmt(m[k]) for k in m), ab_wall])
    for label, sc in (("TF-IDF (context+question)", tf_ctx), ("TF-IDF (question only)", tf_q)):
        m = ecd_metrics(sc, true_idx)
        rows.append([label, *(fmt(m[k]) for k in m), ""])
    rnd = [fmt(k / n) for k in KS] + [fmt(sum(1 / i for i in range(1, n + 1)) / n)]
    rows.append(["random (expected)", *rnd, ""])

    out = [f"## Rank: ECD Taobao test ({len(groups)} contexts x 10 candidates, 1 true)\n"]
    if cli.note:
        out.append(f"> model row n/a: {cli.note}\n")
    out.append(markdown_table(["scorer", "R10@1", "R10@2", "R10@5", "MRR", "CLI wall / CPU s"], rows))
    out.append(
        "\nCandidates shuffled with a fixed seed; ties are scored as random order. Published "
        "R10@1 on the full 1,000-context test (sanity range only): SMN 0.453, DUA 0.501, "
        "SA-BERT 0.704."
    )
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# JDDC 2019 dev
# --------------------------------------------------------------------------------------------


def jddc_summary(
    scores: list[list[float]], human_pos: list[list[tuple[int, int]]], distractor_pos: list[int]
) -> dict[str, float]:
    """Mean human/distractor scores, pairwise win rate, distractor-ranked-last rate."""
    human_all: list[float] = []
    by_slot: dict[int, list[float]] = {0: [], 1: [], 2: []}
    distr: list[float] = []
    wins: list[float] = []
    last: list[float] = []
    margins: list[float] = []
    for s, hp, d in zip(scores, human_pos, distractor_pos, strict=True):
        ds = s[d]
        hs = [s[pos] for _, pos in hp]
        for slot, pos in hp:
            by_slot[slot].append(s[pos])
        human_all += hs
        distr.append(ds)
        margins.append(float(np.mean(hs)) - ds)
        wins.append(float(np.mean([1.0 if h > ds else 0.5 if h == ds else 0.0 for h in hs])))
        if any(h < ds for h in hs):
            last.append(0.0)
        else:
            last.append(1.0 / (1 + sum(h == ds for h in hs)))
    out = {
        "human mean": float(np.mean(human_all)),
        "distractor mean": float(np.mean(distr)),
        "margin": float(np.mean(margins)),
        "win rate": float(np.mean(wins)),
        "distractor last": float(np.mean(last)),
    }
    for slot, vals in by_slot.items():
        out[f"slot {slot + 1} mean"] = float(np.mean(vals)) if vals else float("nan")
    return out


def bench_jddc(cli: Cli, max_groups: int | None, ablations: bool = False) -> str:
    turns: list[JddcTurn] = [t for t in load_jddc2019_dev() if t.question and t.human_answers]
    skipped = len(load_jddc2019_dev()) - len(turns)
    turns = subsample(turns, max_groups)
    rng = random.Random(SEED + 1)
    pool = [(t.session, a) for t in load_jddc2019_dev() for _, a in t.human_answers]
    groups: list[dict[str, Any]] = []
    human_pos: list[list[tuple[int, int]]] = []
    distractor_pos: list[int] = []
    for t in turns:
        distractor = rng.choice([a for s, a in pool if s != t.session])
        items: list[tuple[int, str]] = [*t.human_answers, (-1, distractor)]
        rng.shuffle(items)
        groups.append(
            {
                "id": f"{t.session}-{t.turn}",
                "question": t.question,
                "context": _context_json(t.context),
                "answers": [a for _, a in items],
            }
        )
        human_pos.append([(slot, i) for i, (slot, _) in enumerate(items) if slot >= 0])
        distractor_pos.append(next(i for i, (slot, _) in enumerate(items) if slot < 0))
    log(f"[rank] JDDC: {len(groups)} groups (3 human answers + 1 distractor each, at most)")

    texts = [g["question"] for g in groups] + [c["text"] for g in groups for c in g["context"]]
    texts += [a for g in groups for a in g["answers"]]
    tfidf = CharBigramTfidf().fit(texts)
    tf_scores: list[list[float]] = []
    for g in groups:
        full = " ".join([c["text"] for c in g["context"]] + [g["question"]])
        tf_scores.append(tfidf.cosine_matrix([full], g["answers"])[0].tolist())

    model_scores, wall = _cli_scores(cli, groups)
    cols = [
        "human mean",
        "slot 1 mean",
        "slot 2 mean",
        "slot 3 mean",
        "distractor mean",
        "margin",
        "win rate",
        "distractor last",
    ]
    rows: list[list[str]] = []
    if model_scores is not None:
        m = jddc_summary(model_scores, human_pos, distractor_pos)
        rows.append(["huashu rank", *(fmt(m[c]) for c in cols), wall])
    else:
        rows.append(["huashu rank", *(["n/a"] * len(cols)), "n/a"])
    for label, env in ABLATIONS.items() if ablations and model_scores is not None else ():
        ab_scores, ab_wall = _cli_scores(cli, groups, env)
        if ab_scores is not None:
            m = jddc_summary(ab_scores, human_pos, distractor_pos)
            rows.append([label, *(fmt(m[c]) for c in cols), ab_wall])
    m = jddc_summary(tf_scores, human_pos, distractor_pos)
    rows.append(["TF-IDF (context+question)", *(fmt(m[c]) for c in cols), ""])
    exp_last = float(np.mean([1.0 / (len(hp) + 1) for hp in human_pos]))
    rows.append(["random (expected)", *([""] * 6), fmt(0.5), fmt(exp_last), ""])

    out = [
        f"## Rank: JDDC 2019 dev ({len(groups)} customer turns; {skipped} skipped: "
        "NULL question or no human answer)\n"
    ]
    if cli.note:
        out.append(f"> model row n/a: {cli.note}\n")
    out.append(
        "No gold: JDDC gives 3 human agents' answers per turn but does not say which is best, "
        "so R@k cannot be computed. Each group = the human answers + 1 distractor (a human "
        "answer to a random turn of another session). `win rate` = share of (human, distractor) "
        "pairs where the human answer scores higher (ties 1/2); `distractor last` = share of "
        "groups where the distractor is ranked below every human answer (ties random).\n"
    )
    out.append(markdown_table(["scorer", *cols, "CLI wall / CPU s"], rows))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=None, help="groups per set (fixed seed)")
    add_cli_options(ap)
    ap.add_argument(
        "--ablations",
        action="store_true",
        help="also run the ranker with only agreement / only relevance (HUASHU_RANK_WEIGHT_*=0)",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    load0 = load_average()
    with Cli(args.model, args.cache) as cli:
        log("[rank] CLI warm-up (start-up + model load/build) …")
        cli.start()
        print(bench_ecd(cli, args.max_pairs, args.ablations))
        print()
        print(bench_jddc(cli, args.max_pairs, args.ablations))
        print(
            f"\nCLI: {cli.describe()}; warm-up call (start-up + model load"
            + (" + one-off build" if args.cache == "cold" else "")
            + f") {fmt(cli.startup_seconds, 1)} s; `CLI wall / CPU s` includes start-up and "
            f"model load; 1-min load average at the start: {load0}."
        )
    log(f"[rank] done in {time.perf_counter() - t0:.1f}s")
    return 1 if cli.failed else 0


if __name__ == "__main__":
    sys.exit(main())
