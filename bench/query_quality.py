"""Quality cost of an encoder backend on every similarity set: Spearman per set, side by side.

The question of issue 21: may ONNX int8 become the default (query) encoder? Only if its Spearman
stays within 0.005 of the default's on *every* set. For each set of ``bench/datasets.py``'s
``SIMILARITY_SETS`` (all pairs; ``--max-pairs`` subsamples with the fixed seed) every distinct
sentence is embedded once per backend (``load_encoder(model, backend).encode``, the default
"query: " prompt on both sides, as ``huashu similarity`` does), the pair cosines are compared
with the gold labels (Spearman), and the difference to the reference backend is printed.

The reference defaults to ``onnx`` (fp32): it gives torch's vectors to ~1e-7
(``tests/test_onnx_encoder.py``, ``bench/lookup_bank_prefill.py``) at about twice the speed here.
Vectors are cached per backend in ``<data dir>/cache/bench-query-quality.sqlite``.

    python bench/query_quality.py [--backends onnx,onnx-int8] [--sets afqmc,lcqmc] [--max-pairs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/query_quality.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from bench.datasets import SIMILARITY_SETS, data_root, load_average, log, markdown_table, subsample  # noqa: E402

TOLERANCE = 0.005


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backends", default="onnx,onnx-int8", help="the first is the reference")
    ap.add_argument("--sets", default=",".join(SIMILARITY_SETS))
    ap.add_argument("--max-pairs", type=int, default=None)
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    from training.core.config import get_settings
    from training.nlp.embeddings import DiskEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    store = DiskEmbeddingStore(get_settings().cache_dir / "bench-query-quality.sqlite")
    root = data_root()
    load0 = load_average()
    spearman: dict[str, dict[str, float]] = {b: {} for b in backends}
    seconds: dict[str, float] = dict.fromkeys(backends, 0.0)
    sizes: dict[str, int] = {}
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        loader, _binary = SIMILARITY_SETS[name]
        pairs = loader(root)  # type: ignore[call-arg]
        if args.max_pairs:
            pairs = subsample(pairs, args.max_pairs)
        sizes[name] = len(pairs)
        texts = list(dict.fromkeys(t for a, b, _ in pairs for t in (a, b)))
        labels = np.array([y for _, _, y in pairs])
        for backend in backends:
            embedder = Embedder(load_encoder(args.model, backend), store)
            log(f"[query_quality] {name}: {len(pairs)} pairs, {len(texts)} texts on {backend} "
                f"(load {load_average()}) …")
            t0 = time.perf_counter()
            vectors = embedder.embed(texts)
            seconds[backend] += time.perf_counter() - t0
            row = {t: i for i, t in enumerate(texts)}
            a = vectors[[row[x] for x, _, _ in pairs]]
            b = vectors[[row[y] for _, y, _ in pairs]]
            spearman[backend][name] = float(spearmanr(np.sum(a * b, axis=1), labels).statistic)
    ref = backends[0]
    rows = []
    for name in sizes:
        cells = [name, f"{sizes[name]:,}", f"{spearman[ref][name]:.4f}"]
        for backend in backends[1:]:
            delta = spearman[backend][name] - spearman[ref][name]
            cells += [f"{spearman[backend][name]:.4f}", f"{delta:+.4f}{'' if -delta <= TOLERANCE else ' ✗'}"]
        rows.append(cells)
    header = ["set", "pairs", f"Spearman {ref}"]
    for backend in backends[1:]:
        header += [f"Spearman {backend}", f"Δ vs {ref}"]
    print(f"## Quality per backend on every similarity set (load {load0} → {load_average()})\n")
    print(markdown_table(header, rows) + "\n")
    worst = {b: max(spearman[ref][n] - spearman[b][n] for n in sizes) for b in backends[1:]}
    print("Largest loss vs " + ref + ": " + "; ".join(
        f"{b} {w:+.4f} ({'within' if w <= TOLERANCE else 'beyond'} {TOLERANCE})" for b, w in worst.items())
        + ". Encoding seconds (this run, cached vectors excluded): "
        + ", ".join(f"{b} {s:.0f}" for b, s in seconds.items()) + ".\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
