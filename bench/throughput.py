"""Throughput bench: sentences/second of the encoder in-process, and peak memory.

Loads ``training.nlp.encoder.load.load_encoder(model)`` (timed separately: it builds the model folder on
first use, then loads it), encodes N real LCQMC sentences once cold (first call: lazy init,
allocator warm-up) and then twice more on other, disjoint N-sentence samples of the same
distribution (steady state; disjoint so no cache can help). Peak RSS comes from
``resource.getrusage``.

    python bench/throughput.py [--max-pairs N_SENTENCES] [--model M] [--batch-size 64]
        [--fresh-cache]

``--fresh-cache`` points ``HUASHU_DATA_DIR`` at an empty temp dir first, so the load time
includes rebuilding the model folder from the bundled weights.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # run as `python bench/throughput.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import (  # noqa: E402
    SEED,
    fmt,
    load_average,
    load_lcqmc,
    log,
    markdown_table,
    self_cpu_seconds,
)

T = TypeVar("T")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def sentences(n: int, samples: int) -> list[list[str]]:
    """``samples`` disjoint lists of ``n`` unique LCQMC sentences (fixed seed)."""
    uniq = sorted({t for a, b, _ in load_lcqmc() for t in (a, b)})
    random.Random(SEED).shuffle(uniq)
    if len(uniq) < n * samples:
        raise ValueError(f"only {len(uniq)} unique sentences for {samples} x {n}")
    return [uniq[i * n : (i + 1) * n] for i in range(samples)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=2000, help="sentences per call (default 2000)")
    ap.add_argument("--model", default=None, help="passed to load_encoder(model)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--fresh-cache", action="store_true", help="rebuild the model in a temp dir")
    args = ap.parse_args(argv)

    tmp: tempfile.TemporaryDirectory[str] | None = None
    if args.fresh_cache:
        tmp = tempfile.TemporaryDirectory(prefix="huashu-bench-cache-")
        os.environ["HUASHU_DATA_DIR"] = tmp.name

    cold, *steady = sentences(args.max_pairs, 3)
    chars = statistics.mean(len(s) for s in cold + steady[0] + steady[1])
    rss_start = peak_rss_mb()

    load0 = load_average()
    steps: list[tuple[str, float, float, int | None]] = []  # (step, wall, cpu, sentences)

    def timed(label: str, n: int | None, fn: Callable[[], T]) -> T:
        c0, t0 = self_cpu_seconds(), time.perf_counter()
        result = fn()
        steps.append((label, time.perf_counter() - t0, self_cpu_seconds() - c0, n))
        return result

    try:
        encoder_mod = timed(
            "import torch, sentence_transformers, training.nlp.encoder.load",
            None,
            lambda: (
                importlib.import_module("torch"),
                importlib.import_module("sentence_transformers"),
                importlib.import_module("training.nlp.encoder.load"),
            )[2],
        )
        load_encoder = encoder_mod.load_encoder
    except (ImportError, AttributeError) as exc:
        print("## Throughput: skipped\n")
        print(f"`training.nlp.encoder.load.load_encoder` is not available yet ({exc}).")
        return 0

    import torch

    threads = torch.get_num_threads()
    log(f"[throughput] loading encoder (model={args.model or 'default'}) …")
    enc = timed("load_encoder() (build or load model)", None, lambda: load_encoder(args.model))
    rss_loaded = peak_rss_mb()
    n = args.max_pairs
    log(f"[throughput] cold encode of {n} sentences …")
    emb = timed(
        f"cold encode, first call ({n} sentences)",
        n,
        lambda: np.asarray(enc.encode(cold, batch_size=args.batch_size)),
    )
    norms = np.linalg.norm(emb, axis=1)
    cold_steps = list(steps)
    for i, batch in enumerate(steady, 1):
        log(f"[throughput] steady-state run {i}/{len(steady)} …")
        timed(
            f"steady encode, run {i} ({n} other sentences)",
            n,
            functools.partial(enc.encode, batch, batch_size=args.batch_size),
        )
    rss_peak = peak_rss_mb()

    def row(label: str, wall: float, cpu: float, k: int | None) -> list[str]:
        return [label, fmt(wall, 2), fmt(cpu, 2), fmt(k / wall, 1) if k else ""]

    rows = [row(*st) for st in steps]
    best = min(steps[len(cold_steps) :], key=lambda st: st[1])
    rows.append(row("steady state (best run)", best[1], best[2], n))
    rows.append(
        row(
            "cold total: imports + load + first encode",
            sum(st[1] for st in cold_steps),
            sum(st[2] for st in cold_steps),
            n,
        )
    )
    print("## Throughput: encoder in-process\n")
    print(
        f"model: {args.model or 'default'}; batch_size {args.batch_size}; torch threads "
        f"{threads}; CPUs {os.cpu_count()}; 1-min load average before: {load0}, after: "
        f"{load_average()}; mean sentence length {chars:.1f} chars; output "
        f"{emb.shape[0]}x{emb.shape[1]} {emb.dtype}, row norms {norms.min():.4f}–{norms.max():.4f}"
        + ("; fresh model cache (load includes the rebuild)" if args.fresh_cache else "")
        + "\n"
    )
    print(markdown_table(["step", "wall s", "CPU s", "sentences/s (wall)"], rows))
    print(
        f"\nPeak RSS: {rss_peak:.0f} MB (before imports {rss_start:.0f} MB, "
        f"after load {rss_loaded:.0f} MB). CPU s = user + system time of all threads."
    )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
