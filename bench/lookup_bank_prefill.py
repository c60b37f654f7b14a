"""Fill ``bench/lookup_scale.py``'s bank-vector cache with ONNX Runtime fp32 instead of torch.

The 100,000 bank questions take 1-2 h to encode with torch on this shared 2-core machine; the
ONNX fp32 export of the same weights gives the same vectors (``bench/backends.py``: max pair-cosine
difference 0.0000) at about twice the speed. This script checks that on a sample first (max
absolute difference of the vectors, which must stay below ``--tolerance``), then encodes the
missing bank questions with ONNX fp32 and stores them under the *torch* model id in the bench's
cache (``<data dir>/cache/bench-lookup-scale.sqlite``), where ``bench/lookup_bank.bank_vectors``
finds them. The time spent is added to the cache's record like torch's own encoding.

    python bench/lookup_bank_prefill.py [--size 100000] [--queries 500] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/lookup_bank_prefill.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import load_average, log  # noqa: E402
from bench.lookup_bank import CHUNK, _cache_paths, build_scale_bank  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max |torch - onnx| on the sample")
    args = ap.parse_args(argv)

    from training.nlp.embeddings import DiskEmbeddingStore, text_hash
    from training.nlp.encoder.load import load_encoder

    bank = build_scale_bank(args.size, args.queries)
    texts = list(dict.fromkeys(e["question"] for e in bank.entries))
    store_path, meta_path = _cache_paths()
    torch_encoder = load_encoder(args.model, "torch")
    store = DiskEmbeddingStore(store_path)
    present = store.get_many(torch_encoder.model_id, [text_hash(t) for t in texts])
    missing = [t for t in texts if text_hash(t) not in present]
    log(f"[prefill] {len(texts)} bank questions, {len(missing)} missing; load {load_average()}")
    onnx = load_encoder(args.model, "onnx")
    onnx.sentence_transformer.set_threads(args.threads)
    sample = texts[:256]
    diff = float(np.abs(torch_encoder.encode(sample) - onnx.encode(sample)).max())
    log(f"[prefill] max |torch - onnx fp32| over {len(sample)} bank questions: {diff:.2e}")
    if diff > args.tolerance:
        raise SystemExit(f"ONNX fp32 differs from torch by {diff:.2e} > {args.tolerance}: not used")
    meta: dict[str, dict[str, float]] = {}
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    record = meta.setdefault(torch_encoder.model_id, {"encoded": 0, "seconds": 0.0})
    record["onnx_fp32_max_abs_diff"] = max(diff, record.get("onnx_fp32_max_abs_diff", 0.0))
    for start in range(0, len(missing), CHUNK):
        part = missing[start : start + CHUNK]
        t0 = time.perf_counter()
        vectors = onnx.encode(part)
        store.put_many(torch_encoder.model_id, {text_hash(t): v for t, v in zip(part, vectors, strict=True)})
        record["encoded"] += len(part)
        record["seconds"] += time.perf_counter() - t0
        record["onnx_fp32_encoded"] = record.get("onnx_fp32_encoded", 0) + len(part)
        meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        log(f"[prefill]   {start + len(part)}/{len(missing)}, "
            f"{len(part) / (time.perf_counter() - t0):.0f} sentences/s, load {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
