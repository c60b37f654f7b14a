"""Encoder backends side by side: torch fp32, torch dynamic int8, ONNX Runtime fp32 and int8.

Each backend runs in its own process (so load time and peak RSS are its own) and measures:
load time (the one-off ONNX export separately), batch throughput (2,000 real LCQMC sentences,
batch 64, after a warm-up call), single-query latency (one short sentence per call, p50/p95, at
1 and 2 threads), RSS after loading and peak RSS (``/proc/self/status``), and quality: Spearman
on sts-b-zh test and on an LCQMC test subsample, plus how far each backend's pair cosines and
embeddings are from torch fp32's on the same texts.

    python bench/backends.py [--backends torch,torch-int8,onnx,onnx-int8] [--max-pairs 2000]
        [--latency-calls 200] [--threads 1,2] [--model M] [--cache cold|warm]

torch-int8 is ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear`` of the loaded
model; onnx / onnx-int8 are ``training.nlp.encoder.load.load_encoder(model, backend)``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/backends.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import (  # noqa: E402
    fmt,
    load_average,
    load_lcqmc,
    load_stsb,
    log,
    markdown_table,
    self_cpu_seconds,
    subsample,
)
from bench.throughput import sentences  # noqa: E402

BACKENDS = ("torch", "torch-int8", "onnx", "onnx-int8")
QUALITY_SETS = ("sts-b-zh", "lcqmc")


def proc_status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def quality_pairs(max_pairs: int) -> dict[str, list[tuple[str, str, float]]]:
    """sts-b-zh test (all 683 pairs) and an LCQMC test subsample (fixed seed)."""
    return {
        "sts-b-zh": load_stsb(splits=("test",)),
        "lcqmc": subsample(load_lcqmc(splits=("test",)), max_pairs),
    }


def prepare(model: str | None, onnx: bool) -> dict[str, Any]:
    """Build the model folder and (if ``onnx``) its ONNX export, as first use would; timed."""
    from training.core.config import EMBEDDED_MODEL, get_settings
    from training.nlp.encoder.embedded import embedded_model_dir
    from training.nlp.encoder.onnx import export_is_current, onnx_export_dir

    name = model or get_settings().model
    t0 = time.perf_counter()
    folder = embedded_model_dir(get_settings().cache_dir) if name == EMBEDDED_MODEL else Path(name)
    res: dict[str, Any] = {"folder_s": time.perf_counter() - t0, "export_s": None}
    if onnx and not export_is_current(folder):
        t0 = time.perf_counter()
        onnx_export_dir(folder)
        res["export_s"] = time.perf_counter() - t0
    res["rss_peak_mb"] = proc_status_mb("VmHWM")
    return res


def _set_threads(enc: Any, backend: str, threads: int) -> None:
    """Run ``enc`` with ``threads`` intra-op threads (ONNX: reopens its session)."""
    import torch

    torch.set_num_threads(threads)
    if backend.startswith("onnx"):
        enc.sentence_transformer.set_threads(threads)


def worker(args: argparse.Namespace) -> int:
    """Measure one backend; write ``<out>/<backend>.json`` and ``.npz``."""
    import torch

    from training.nlp.encoder.load import load_encoder

    backend, out = args.worker, Path(args.out)
    if backend == "prepare":
        prep = prepare(args.model, any(b.startswith("onnx") for b in args.backends.split(",")))
        (out / "prepare.json").write_text(json.dumps(prep), encoding="utf-8")
        return 0
    res: dict[str, Any] = {"backend": backend, "default_threads": torch.get_num_threads()}
    warm, batch, queries = sentences(args.max_pairs, 3)
    t0 = time.perf_counter()
    enc = load_encoder(args.model, "torch" if backend == "torch-int8" else backend)
    if backend == "torch-int8":
        torch.ao.quantization.quantize_dynamic(
            enc.sentence_transformer, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )
    res["load_s"] = time.perf_counter() - t0
    res["rss_loaded_mb"] = proc_status_mb("VmRSS")

    log(f"[backends] {backend}: throughput …")
    enc.encode(warm[:128], batch_size=64)
    c0, t0 = self_cpu_seconds(), time.perf_counter()
    enc.encode(batch, batch_size=64)
    res["batch_s"], res["batch_cpu_s"] = time.perf_counter() - t0, self_cpu_seconds() - c0
    res["sent_per_s"] = len(batch) / res["batch_s"]
    res["rss_batch_peak_mb"] = proc_status_mb("VmHWM")

    res["latency"] = {}
    for threads in args.threads:
        log(f"[backends] {backend}: single-query latency, {threads} thread(s) …")
        _set_threads(enc, backend, threads)
        for q in queries[:10]:
            enc.encode([q])
        lat = []
        for q in queries[10 : 10 + args.latency_calls]:
            t0 = time.perf_counter()
            enc.encode([q])
            lat.append(time.perf_counter() - t0)
        res["latency"][str(threads)] = [1000 * float(np.percentile(lat, p)) for p in (50, 95)]
    res["query_chars"] = float(np.mean([len(q) for q in queries[10 : 10 + args.latency_calls]]))
    _set_threads(enc, backend, res["default_threads"])

    arrays: dict[str, np.ndarray] = {}
    res["spearman"] = {}
    from scipy.stats import spearmanr

    for name, pairs in quality_pairs(args.max_pairs).items():
        log(f"[backends] {backend}: quality on {name} ({len(pairs)} pairs) …")
        texts = sorted({t for a, b, _ in pairs for t in (a, b)})
        emb = enc.encode(texts, batch_size=64)
        row = {t: i for i, t in enumerate(texts)}
        a = emb[[row[p[0]] for p in pairs]]
        b = emb[[row[p[1]] for p in pairs]]
        cos = np.sum(a * b, axis=1)
        res["spearman"][name] = float(spearmanr(cos, [p[2] for p in pairs]).statistic)
        arrays[f"{name}_cos"], arrays[f"{name}_emb"] = cos, emb
    res["rss_peak_mb"] = proc_status_mb("VmHWM")
    np.savez(out / f"{backend}.npz", **arrays)
    (out / f"{backend}.json").write_text(json.dumps(res), encoding="utf-8")
    return 0


def report(results: dict[str, dict[str, Any]], arrays: dict[str, Any], threads: list[int]) -> None:
    """Print the speed and the quality table."""
    lat_cols = [f"p50 / p95 ms, {t} thr" for t in threads]
    rows = []
    for name, r in results.items():
        lat = [f"{fmt(r['latency'][str(t)][0], 1)} / {fmt(r['latency'][str(t)][1], 1)}" for t in threads]
        rows.append(
            [
                name,
                fmt(r["load_s"], 1),
                fmt(r["sent_per_s"], 1),
                fmt(r["batch_cpu_s"], 1),
                *lat,
                f"{r['rss_loaded_mb']:.0f}",
                f"{r['rss_batch_peak_mb']:.0f}",
                f"{r['rss_peak_mb']:.0f}",
            ]
        )
    print("### Speed and memory\n")
    header = ["backend", "load s", "sent/s (b64)", "CPU s", *lat_cols, "RSS loaded MB"]
    print(markdown_table([*header, "peak RSS MB, load + batch", "peak RSS MB, all"], rows))
    print("\n### Quality (Spearman) and distance to torch fp32\n")
    base = arrays.get("torch")
    rows = []
    for name, r in results.items():
        row = [name] + [fmt(r["spearman"][s], 4) for s in QUALITY_SETS]
        for s in QUALITY_SETS:
            if base is None:
                row.append("n/a")
                continue
            d = np.abs(arrays[name][f"{s}_cos"] - base[f"{s}_cos"])
            emb_cos = np.sum(arrays[name][f"{s}_emb"] * base[f"{s}_emb"], axis=1)
            row.append(f"{d.max():.4f} / {d.mean():.5f} / {emb_cos.min():.4f}")
        rows.append(row)
    cols = [f"Spearman {s}" for s in QUALITY_SETS]
    cols += [f"{s}: max / mean abs Δcos, min emb cos" for s in QUALITY_SETS]
    print(markdown_table(["backend", *cols], rows))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--max-pairs", type=int, default=2000, help="sentences / LCQMC pairs (2000)")
    ap.add_argument("--latency-calls", type=int, default=200)
    ap.add_argument("--threads", default="1,2", help="thread counts for the latency test")
    ap.add_argument("--model", default=None, help="passed to load_encoder(model, backend)")
    ap.add_argument(
        "--cache",
        choices=("cold", "warm"),
        default="cold",
        help="cold: an empty temp data dir, so the model folder is rebuilt and the ONNX export "
        "timed; warm: the normal data dir",
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.threads = [int(t) for t in str(args.threads).split(",") if t.strip()]
    if args.worker:
        return worker(args)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown:
        ap.error(f"unknown backend(s) {unknown}; known: {', '.join(BACKENDS)}")

    print("## Encoder backends\n")
    load0 = load_average()
    results: dict[str, dict[str, Any]] = {}
    arrays: dict[str, Any] = {}
    prep: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="huashu-bench-backends-") as tmp:
        if args.cache == "cold":
            os.environ["HUASHU_DATA_DIR"] = str(Path(tmp) / "data")  # inherited by the workers
        for name in ["prepare", *names]:
            cmd = [sys.executable, __file__, "--worker", name, "--out", tmp, "--backends", ",".join(names)]
            cmd += ["--max-pairs", str(args.max_pairs), "--latency-calls", str(args.latency_calls)]
            cmd += ["--threads", ",".join(map(str, args.threads))]
            if args.model:
                cmd += ["--model", args.model]
            log(f"[backends] {name} …")
            if subprocess.call(cmd) != 0:
                print(f"{name}: worker failed (see stderr)\n")
                continue
            if name == "prepare":
                prep = json.loads((Path(tmp) / "prepare.json").read_text(encoding="utf-8"))
                continue
            results[name] = json.loads((Path(tmp) / f"{name}.json").read_text(encoding="utf-8"))
            with np.load(Path(tmp) / f"{name}.npz") as npz:
                arrays[name] = {k: npz[k] for k in npz.files}
    if not results:
        return 1
    first = next(iter(results.values()))
    print(
        f"model: {args.model or 'default'}; cache {args.cache}; {os.cpu_count()} CPUs; torch default threads "
        f"{first['default_threads']} (throughput and quality use them); 1-min load average "
        f"before: {load0}, after: {load_average()}; batch throughput on {args.max_pairs} LCQMC "
        f"sentences after a 128-sentence warm-up; latency: {args.latency_calls} calls of one "
        f"sentence (mean {first['query_chars']:.1f} chars) after 10 warm-up calls.\n"
    )
    if prep:
        export = "not needed" if prep["export_s"] is None else f"{prep['export_s']:.1f} s"
        print(
            f"First use, in its own process: model folder {prep['folder_s']:.1f} s (rebuild when the "
            f"cache is cold); ONNX export (fp32 + int8) {export}; peak RSS {prep['rss_peak_mb']:.0f} MB."
            "\n"
        )
    report(results, arrays, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
