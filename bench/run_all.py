"""Run every bench in sequence (what ``make bench`` calls) and print all figures.

Each bench runs as its own process (so the throughput bench's peak RSS is its own):
similarity, throughput, rank, absolute (the 建议分 on JDDC 2019 and the demo history), lookup,
lookup_scale (a 100,000-entry bank), rank_throughput (``huashu rank`` vs raw encode), scale
(mining and ranking at 1x/4x/16x), backends (torch / int8 / ONNX encoder backends), memory (RSS
of ``streamlit run app.py``), analytics_pg (page queries on a seeded 1,000 agents × 100 exams
PostgreSQL database; skipped unless ``HUASHU_BENCH_PG_URL`` is set). Options are passed through.

    python bench/run_all.py [--max-pairs N] [--model M] [--cache cold|warm] [--only rank,lookup]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BENCHES = (
    "similarity", "throughput", "rank", "absolute", "lookup", "lookup_scale", "rank_throughput", "scale",
    "backends", "memory", "analytics_pg",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-pairs", type=int, default=None, help="passed to every bench")
    ap.add_argument("--model", default=None, help="passed to every bench")
    ap.add_argument("--cache", choices=("cold", "warm"), default="cold")
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        ap.error(f"unknown bench(es): {', '.join(unknown)}; known: {', '.join(BENCHES)}")

    print("# Huashu benchmarks\n")
    print(
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {os.cpu_count()} CPUs "
        f"({cpu_model()}); Python {platform.python_version()}; model "
        f"{args.model or 'default'}; cache {args.cache}; max pairs {args.max_pairs or 'all'}\n",
        flush=True,
    )
    failures: list[str] = []
    times: list[tuple[str, float, int]] = []
    for name in names:
        cmd = [sys.executable, str(BENCH_DIR / f"{name}.py")]
        if args.max_pairs is not None:
            cmd += ["--max-pairs", str(args.max_pairs)]
        if args.model:
            cmd += ["--model", args.model]
        if name == "throughput":
            if args.cache == "cold":
                cmd.append("--fresh-cache")
        else:
            cmd += ["--cache", args.cache]
        print(f"\n<!-- {' '.join(cmd[1:])} -->\n", flush=True)
        print(f"[run_all] {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(cmd)
        secs = time.perf_counter() - t0
        times.append((name, secs, code))
        if code != 0:
            failures.append(name)
        sys.stdout.flush()

    print("\n## Bench wall times\n")
    print("| bench | seconds | exit |\n|---|---|---|")
    for name, secs, code in times:
        print(f"| {name} | {secs:.1f} | {code} |")
    if failures:
        print(f"\nFAILED: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
