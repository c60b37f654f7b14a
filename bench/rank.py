"""Ranking bench: ``huashu rank`` on ECD Taobao test, JDDC 2019 dev and JDDC 2018 dev.

The groups are built by ``bench/rank_sets.py`` (fixed seeds):

- ECD Taobao test: 50 contexts x 10 candidates (1 true reply), shuffled. R@1, R@2, R@5, MRR.
- JDDC 2019 dev: each customer turn's 1-3 human replies + 7 human replies to turns of other
  sessions (so 8-10 candidates). MAP and precision at R (R = the turn's number of human replies).
- JDDC 2018 dev: the true reply + 9 replies of other contexts. R@1, R@2, R@5, MRR.

Each beside a character-bigram TF-IDF baseline (cosine of each candidate to context + question,
IDF fitted on the set) and random, computed in the same run. Ties count as random order.
With ``--ablations`` the CLI is re-run with one signal switched off through its settings
(``HUASHU_RANK_WEIGHT_RELEVANCE=0`` = agreement only, ``HUASHU_RANK_WEIGHT_AGREEMENT=0`` =
relevance only; lint penalties stay on).

    python bench/rank.py [--max-pairs N_GROUPS] [--model M] [--ablations] [--sets ecd,jddc2019]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/rank.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from bench.datasets import Cli, add_cli_options, fmt, load_average, log, markdown_table  # noqa: E402
from bench.rank_sets import ALL_SETS, RankSet, metrics, random_scores  # noqa: E402

#: extra `huashu rank` runs with one ranking signal switched off (see training.core.config)
ABLATIONS: dict[str, dict[str, str]] = {
    "huashu rank, agreement only": {"HUASHU_RANK_WEIGHT_RELEVANCE": "0"},
    "huashu rank, relevance only": {"HUASHU_RANK_WEIGHT_AGREEMENT": "0"},
}


def _cli_scores(
    cli: Cli, groups: list[dict[str, Any]], env: dict[str, str] | None = None
) -> tuple[list[list[float]] | None, str]:
    """Scores per group from ``huashu rank`` and the wall / CPU time (None when unusable).

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


def bench_set(cli: Cli, rank_set: RankSet, ablations: bool) -> str:
    """One Markdown section: the CLI, its ablations, TF-IDF and random on one set."""
    log(f"[rank] {rank_set.name}: {rank_set.note}")
    rows: list[list[str]] = []
    header = list(metrics(rank_set, random_scores(rank_set)))
    scores, wall = _cli_scores(cli, rank_set.groups)
    if scores is not None:
        rows.append(["huashu rank", *(fmt(v) for v in metrics(rank_set, scores).values()), wall])
        for label, env in ABLATIONS.items() if ablations else ():
            ab_scores, _ = _cli_scores(cli, rank_set.groups, env)
            if ab_scores is not None:
                m = metrics(rank_set, ab_scores)
                rows.append([label, *(fmt(v) for v in m.values()), "(cache warm)"])
    else:
        rows.append(["huashu rank", *(["n/a"] * len(header)), "n/a"])
    for label, sc in (("TF-IDF (context+question)", rank_set.tfidf_scores()),
                      ("random (expected)", random_scores(rank_set))):
        rows.append([label, *(fmt(v) for v in metrics(rank_set, sc).values()), ""])
    out = [f"## Rank: {rank_set.name} ({rank_set.note})\n"]
    if cli.note:
        out.append(f"> model row n/a: {cli.note}\n")
    out.append(markdown_table(["scorer", *header, "CLI wall / CPU s"], rows))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=None, help="groups per set (fixed seed)")
    ap.add_argument("--sets", default=",".join(ALL_SETS), help=f"subset of {','.join(ALL_SETS)}")
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
        for name in args.sets.split(","):
            print(bench_set(cli, ALL_SETS[name](args.max_pairs), args.ablations))
            print()
        print(
            f"CLI: {cli.describe()}; warm-up call (start-up + model load"
            + (" + one-off build" if args.cache == "cold" else "")
            + f") {fmt(cli.startup_seconds, 1)} s; `CLI wall / CPU s` includes start-up and "
            f"model load; 1-min load average at the start: {load0}."
        )
    log(f"[rank] done in {time.perf_counter() - t0:.1f}s")
    return 1 if cli.failed else 0


if __name__ == "__main__":
    sys.exit(main())
