"""Ranking throughput: ``huashu rank`` sentences/second against raw ``encode`` of the same texts.

Issue 7 asks that ``huashu rank`` batch across groups well enough to reach at least 80 % of the
raw ``model.encode`` throughput of the same model, measured in the same run. For one rank input
(default: every JDDC 2018 dev group of ``bench/rank_sets.py``) the texts the ranker must embed are
``training.ranking.rank.rank_texts``: the distinct non-blank answers (and references) with e5's
``passage:`` prompt and the distinct question-with-context texts with the default ``query:``
prompt. Three measurements, interleaved in a rotating order and repeated (the machine is
shared):

- raw: ``load_encoder(model).encode(texts, batch_size=64)``, once per prompt kind over exactly
  those texts, in this process (encoder already loaded and warmed up);
- in-process: ``rank_answers`` on the groups with an empty on-disk embedding cache; the texts it
  encodes are counted by a wrapper around the encoder;
- CLI: ``huashu rank`` as a subprocess with a bench-owned ``HUASHU_DATA_DIR`` whose embedding
  cache is emptied before each call (start-up and model load included); the texts it encoded are
  counted from the rows of its cache file afterwards. A one-group ``huashu rank`` call in each
  round measures the start-up + model load, so the CLI rate is also given without it.

Sentences = distinct texts actually encoded. Wall and CPU seconds (this process's for raw and
in-process, the child's for the CLI) and the 1-minute load average are printed for every run.

    python bench/rank_throughput.py [--set jddc2018] [--max-pairs N_GROUPS] [--repeats 2]
        [--model M]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/rank_throughput.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import Cli, add_cli_options, load_average, log, markdown_table  # noqa: E402
from bench.datasets import self_cpu_seconds as cpu_now  # noqa: E402
from bench.rank_sets import ALL_SETS  # noqa: E402

BATCH_SIZE = 64


@dataclass
class Timing:
    """One measurement: distinct texts encoded, wall and CPU seconds."""

    mode: str
    texts: int
    seconds: float
    cpu_seconds: float
    load: str

    @property
    def rate(self) -> float:
        return self.texts / self.seconds if self.seconds > 0 else float("nan")


class CountingEncoder:
    """Passes ``encode`` calls through and counts the texts and calls it was given."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id: str = inner.model_id
        self.texts = 0
        self.calls = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH_SIZE,
               show_progress: bool = False, prompt_name: str | None = None) -> Any:
        self.texts += len(texts)
        self.calls += 1
        return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress,
                                 prompt_name=prompt_name)


def rank_groups(rows: list[dict[str, Any]]) -> list[Any]:
    """``huashu rank`` input rows as ``RankGroup``s (what the CLI parses them into)."""
    from training.ranking.rank import ChatTurn, RankGroup

    return [RankGroup(r["question"], r["answers"],
                      [ChatTurn(c["role"], c["text"]) for c in r.get("context", [])],
                      r.get("reference"), r.get("reviews")) for r in rows]


def timed(mode: str, texts: Callable[[], int], body: Callable[[], None]) -> Timing:
    """Run ``body`` and time it (wall and this process's CPU)."""
    load = load_average()
    cpu0, t0 = cpu_now(), time.perf_counter()
    body()
    return Timing(mode, texts(), time.perf_counter() - t0, cpu_now() - cpu0, load)


def cli_cache_rows(cli: Cli) -> int:
    """Rows in the CLI's embedding cache (= distinct texts it encoded into an empty cache)."""
    path = Path(cli.env["HUASHU_DATA_DIR"]) / "cache" / "cli-embeddings.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM embedding").fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--set", default="jddc2018", choices=sorted(ALL_SETS))
    ap.add_argument("--max-pairs", type=int, default=None, help="groups (fixed seed)")
    ap.add_argument("--repeats", type=int, default=2, help="rounds of the three measurements")
    add_cli_options(ap)
    args = ap.parse_args(argv)
    if args.cache != "cold":
        log("[rank-throughput] --cache warm ignored: throughput needs an empty embedding cache")

    from training.nlp.embeddings import DiskEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder
    from training.ranking.rank import RankWeights, rank_answers, rank_texts

    rank_set = ALL_SETS[args.set](args.max_pairs)
    groups = rank_groups(rank_set.groups)
    passages, queries = rank_texts(groups)
    n_texts = len(passages) + len(queries)
    n_answers = sum(len(g.answers) for g in groups)
    chars = statistics.mean(len(t) for t in [*passages, *queries])
    log(f"[rank-throughput] {rank_set.name}: {len(groups)} groups, {n_answers} answers -> "
        f"{len(passages)} passage + {len(queries)} query texts")

    t0 = time.perf_counter()
    encoder = load_encoder(args.model)
    load_seconds = time.perf_counter() - t0
    encoder.encode(["预热一下", "亲，您好"], batch_size=BATCH_SIZE)  # lazy init, not charged

    def raw() -> None:
        encoder.encode(passages, batch_size=BATCH_SIZE, prompt_name="passage")
        encoder.encode(queries, batch_size=BATCH_SIZE)

    in_process_scores: list[list[float]] = []
    counters: list[CountingEncoder] = []

    def in_process(tmp: Path) -> None:
        counting = CountingEncoder(encoder)
        counters.append(counting)
        embedder = Embedder(counting, DiskEmbeddingStore(tmp / f"rank-{len(counters)}.sqlite"))
        ranked = rank_answers(groups, embedder=embedder, weights=RankWeights())
        in_process_scores[:] = [[s.score for s in r] for r in ranked]

    timings: list[Timing] = []
    startups: list[tuple[float, float]] = []  # wall, CPU of a one-group call
    cli_scores: list[list[float]] = []
    one_group = [{**rank_set.groups[0], "answers": rank_set.groups[0]["answers"][:1]}]
    with Cli(args.model, "cold") as cli, tempfile.TemporaryDirectory(prefix="huashu-rt-") as tmp:
        log("[rank-throughput] CLI warm-up (start-up + model build) …")
        cli.start()

        def via_cli() -> Timing:
            run = cli.run("rank", {"input": rank_set.groups})
            cli_scores[:] = [[float(x) for x in r["scores"]] for r in run.rows]
            return Timing("huashu rank (CLI)", cli_cache_rows(cli), run.seconds, run.cpu_seconds,
                          load_average())

        steps: list[Callable[[], Timing]] = [
            lambda: timed("raw encode", lambda: n_texts, raw),
            lambda: timed("rank_answers (in-process)", lambda: counters[-1].texts,
                          lambda: in_process(Path(tmp))),
            via_cli,
        ]
        for rnd in range(args.repeats):
            tiny = cli.run("rank", {"input": one_group})
            startups.append((tiny.seconds, tiny.cpu_seconds))
            for k in range(len(steps)):
                step = steps[(k + rnd) % len(steps)]
                timings.append(step())
                log(f"[rank-throughput] round {rnd + 1}: {timings[-1].mode} "
                    f"{timings[-1].seconds:.1f} s, {timings[-1].rate:.1f} texts/s")

    print(f"## Rank throughput: {rank_set.name} ({rank_set.note})\n")
    print(f"{len(groups)} groups, {n_answers} answers; texts to encode: {len(passages)} distinct "
          f"answers (`passage:`) + {len(queries)} distinct question-with-context texts (`query:`) "
          f"= {n_texts}, mean {chars:.1f} characters; batch size {BATCH_SIZE}; encoder "
          f"{encoder.model_id}, loaded in {load_seconds:.1f} s. Rounds run in rotating order.\n")
    raw_of = {i // 3: t.rate for i, t in enumerate(timings) if t.mode == "raw encode"}
    rows = [[str(i // 3 + 1), t.mode, str(t.texts), f"{t.seconds:.1f}", f"{t.cpu_seconds:.1f}",
             f"{t.rate:.1f}", f"{t.texts / t.cpu_seconds:.1f}" if t.cpu_seconds else "n/a",
             f"{t.rate / raw_of[i // 3]:.2f}", t.load] for i, t in enumerate(timings)]
    print(markdown_table(["round", "run", "texts encoded", "wall s", "CPU s", "texts/s",
                          "texts/CPU-s", "ratio to raw (same round)", "load avg"], rows))
    print("\nMedians over rounds:\n")
    summary: list[list[str]] = []
    raw_rate = statistics.median(t.rate for t in timings if t.mode == "raw encode")
    raw_cpu_rate = statistics.median(t.texts / t.cpu_seconds for t in timings if t.mode == "raw encode")
    for mode in dict.fromkeys(t.mode for t in timings):
        runs = [t for t in timings if t.mode == mode]
        rate = statistics.median(t.rate for t in runs)
        cpu_rate = statistics.median(t.texts / t.cpu_seconds for t in runs)
        summary.append([mode, f"{statistics.median(t.seconds for t in runs):.1f}",
                        f"{statistics.median(t.cpu_seconds for t in runs):.1f}", f"{rate:.1f}",
                        f"{rate / raw_rate:.2f}", f"{cpu_rate:.1f}", f"{cpu_rate / raw_cpu_rate:.2f}"])
    startup = statistics.median(s for s, _ in startups)
    startup_cpu = statistics.median(c for _, c in startups)
    cli_runs = [t for t in timings if t.mode.startswith("huashu")]
    net = statistics.median(t.texts / max(t.seconds - startup, 1e-9) for t in cli_runs)
    net_cpu = statistics.median(t.texts / max(t.cpu_seconds - startup_cpu, 1e-9) for t in cli_runs)
    summary.append([f"huashu rank (CLI) minus start-up ({startup:.1f} s, {startup_cpu:.1f} CPU s)",
                    "", "", f"{net:.1f}", f"{net / raw_rate:.2f}", f"{net_cpu:.1f}",
                    f"{net_cpu / raw_cpu_rate:.2f}"])
    print(markdown_table(["run", "wall s", "CPU s", "texts/s", "ratio to raw", "texts/CPU-s",
                          "ratio to raw (CPU)"], summary))
    calls = {c.calls for c in counters}
    diff = float(np.max(np.abs(np.concatenate([np.subtract(a, b) for a, b in
                                               zip(cli_scores, in_process_scores, strict=True)]))))
    print(f"\nrank_answers made {'/'.join(map(str, sorted(calls)))} encode call(s) per run; "
          f"texts encoded = distinct texts (in-process: counted at the encoder; CLI: rows of its "
          f"cache). Start-up = one-group `huashu rank` call (process start + imports + model "
          f"load), median {startup:.1f} s wall / {startup_cpu:.1f} s CPU. "
          f"Max |CLI - in-process| score: {diff:.2g}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
