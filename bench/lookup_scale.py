"""Lookup at scale: a 100,000-entry bank, warm query latency, restart time and memory (issue #7).

The bank is composed from real texts (see ``bench/lookup_bank.py``). Its question vectors are
encoded once and kept in a bench-owned embedding cache (``<data dir>/cache/bench-lookup-scale.sqlite``,
git-ignored); the seconds that one-time encoding took are kept beside it and printed on every
run. Then, in this process: the lookup index is built from the cached vectors (keyword index,
semantic partition) and persisted the way the app persists it; warm latency of single queries
(query encoding, search = semantic + BM25 + fusion + top-k, total) over held-out real queries.
Then a fresh Python process loads the encoder and the persisted index and answers its first
query: time to ready (imports, model load, index load) and its RSS.

    python bench/lookup_scale.py [--size 100000] [--queries 500] [--model M] [--cache cold|warm]
        [--backends torch,onnx-int8]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as `python bench/lookup_scale.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from bench.datasets import load_average, log, markdown_table  # noqa: E402
from bench.lookup_restart import Renamed, clock, restart_child, restart_runs  # noqa: E402

if TYPE_CHECKING:
    from scripts_bank.lookup import BankEntry, ScriptIndex
    from training.nlp.embeddings import Embedder

Matrix = npt.NDArray[np.float32]

def _ms(values: list[float]) -> list[str]:
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return [f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}"]


def encode_profile(encoder: Any, queries: list[str], model: str | None, backends: list[str],
                   ) -> list[list[str]]:
    """Where one query's encoding goes: tokenizer, model forward, the library's encode() around it.

    Then ``Encoder.encode`` of the same queries with each other (ONNX) backend, 1 thread and default.
    """
    import torch

    st = encoder.sentence_transformer
    prompt = st.prompts.get("query", "")
    rows: list[list[str]] = []
    threads = torch.get_num_threads()
    for n_threads in sorted({1, threads}):
        torch.set_num_threads(n_threads)
        steps: dict[str, list[float]] = {"tokenizer": [], "model forward (tokenised input)": [],
                                         "Encoder.encode (torch, all of it)": []}
        for q in queries:
            t0 = time.perf_counter()
            features = st.tokenizer([prompt + q], padding=True, truncation=True, return_tensors="pt")
            t1 = time.perf_counter()
            with torch.inference_mode():
                st.forward(dict(features))
            t2 = time.perf_counter()
            encoder.encode([q])
            t3 = time.perf_counter()
            steps["tokenizer"].append(1000 * (t1 - t0))
            steps["model forward (tokenised input)"].append(1000 * (t2 - t1))
            steps["Encoder.encode (torch, all of it)"].append(1000 * (t3 - t2))
        rows += [[f"{n_threads}", name, *_ms(values)] for name, values in steps.items()]
    torch.set_num_threads(threads)
    from training.nlp.encoder.load import load_encoder
    from training.nlp.encoder.query import torch_query_encoder

    lean_paths = [("lean torch (tokenizers + inference_mode forward + pooling), 1 thread",
                   torch_query_encoder(st))]
    if getattr(encoder, "query", None) is not None:
        lean_paths.append((f"lean {encoder.query.backend} fp32 (the default's query path), 1 thread",
                           encoder.query))
    torch.set_num_threads(1)
    for name, lean in lean_paths:
        if lean is None:
            continue
        lean.encode("预热一下")
        wall, cpu = [], []
        for q in queries:
            c0 = clock()
            lean.encode(q)
            c1 = clock()
            wall.append(c1[0] - c0[0])
            cpu.append(c1[1] - c0[1])
        cpu_ms = f"{np.percentile(cpu, 50):.1f} / {np.percentile(cpu, 95):.1f}"
        rows.append(["1", name, *_ms(wall), cpu_ms])
    query = getattr(encoder, "query", None)
    if query is not None:  # what the cut at MAX_QUERY_TOKENS saves on a long paste
        from training.nlp.encoder import query as query_mod

        long_paste = "".join(queries)[:400]
        for cut in (64, 128, 512):
            tokenizer = query._tokenizer  # noqa: SLF001 - the bench times the cut alone
            tokenizer.enable_truncation(max_length=cut)
            times = []
            for _ in range(10):
                t0 = time.perf_counter()
                query.encode(long_paste)
                times.append(1000 * (time.perf_counter() - t0))
            rows.append(["1", f"lean path, a {len(long_paste)}-character paste cut at {cut} tokens",
                         *_ms(times)])
        tokenizer.enable_truncation(max_length=query_mod.MAX_QUERY_TOKENS)
    torch.set_num_threads(threads)

    for backend in backends:
        if backend in ("torch", "default"):
            continue
        other = load_encoder(model, backend)
        for n in (1, None):
            other.sentence_transformer.set_threads(n)
            other.encode(["预热一下"])
            times = []
            for q in queries:
                t0 = time.perf_counter()
                other.encode([q])
                times.append(1000 * (time.perf_counter() - t0))
            rows.append([str(n or "ORT default"), f"Encoder.encode ({backend}, all of it)", *_ms(times)])
        other.sentence_transformer.set_threads(None)
    return rows


def query_embedder(name: str, encoder: Any, model: str | None, threads: int) -> Embedder:
    """The index's embedder with query encoder ``name`` (see ``--query-backend``); bank id kept."""
    from training.nlp.embeddings import Embedder
    from training.nlp.encoder.encoder import Encoder
    from training.nlp.encoder.load import load_encoder
    from training.nlp.encoder.query import torch_query_encoder

    if name == "default":
        default = load_encoder(model)
        same = default.model_id == encoder.model_id
        return Embedder(default if same else Renamed(default, encoder.model_id))
    if name == "torch":
        return Embedder(Renamed(encoder, encoder.model_id))  # no encode_query: SentenceTransformer.encode
    if name == "lean-torch":
        st = encoder.sentence_transformer
        return Embedder(Encoder(st, encoder.model_id, query=torch_query_encoder(st)))
    other = load_encoder(model, name)
    other.sentence_transformer.set_threads(threads)
    return Embedder(Renamed(other, encoder.model_id))


def latency(index: ScriptIndex, queries: list[tuple[str, str]], exact: ScriptIndex | None,
            ) -> tuple[list[list[str]], dict[str, list[list[str]]]]:
    """Warm single-query latency rows, and per query the top 10 of ``index`` and of ``exact`` (if given)."""
    from training.nlp.keywords import keywords

    labels = {"encode": "query encoding (1 sentence)",
              "search": "search (jieba + BM25 + semantic lists + fusion + top 10)",
              "total": "**total** (encoding + search)",
              "keywords": "  of the search: jieba + BM25 over the bank",
              "probe": "  of the search: semantic lists scan",
              "exact": "search with a full scan instead (exact)"}
    wall: dict[str, list[float]] = {k: [] for k in labels}
    cpu: dict[str, list[float]] = {k: [] for k in labels}
    tops: dict[str, list[list[str]]] = {"partitioned": [], "exact": []}
    if exact is None:
        del labels["exact"]
    for warm in ("预热一下", "在吗", "发货了吗"):
        index.search([warm], k=10)
        if exact is not None:
            exact.search([warm], k=10)
    for q, _ in queries:
        c0 = clock()
        vector = index.embed_queries([q])  # distinct queries: a miss of the query cache
        c1 = clock()
        hits = index.search([q], k=10)  # the vector is cached now: this is the search alone
        c2 = clock()
        index.keyword_index.query_scores(keywords(q))
        c3 = clock()
        index.semantic.probe(vector[0])
        c4 = clock()
        for step, (start, end) in {"encode": (c0, c1), "search": (c1, c2), "total": (c0, c2),
                                   "keywords": (c2, c3), "probe": (c3, c4)}.items():
            wall[step].append(end[0] - start[0])
            cpu[step].append(end[1] - start[1])
        tops["partitioned"].append([h.id for h in hits[0]])
    # A pass of its own: 150 MB per full scan would evict the encoder from the caches above.
    for q, _ in queries if exact is not None else []:
        assert exact is not None
        c0 = clock()
        exact_hits = exact.search([q], k=10)
        c1 = clock()
        wall["exact"].append(c1[0] - c0[0])
        cpu["exact"].append(c1[1] - c0[1])
        tops["exact"].append([h.id for h in exact_hits[0]])
    rows = [[labels[k], *_ms(wall[k]), *_ms(cpu[k])[:2]] for k in labels]
    return rows, tops


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean share of the exact top 10 that a search also returned."""
    return float(np.mean([len(set(x) & set(y)) / max(len(y), 1) for x, y in zip(a, b, strict=True)]))


def recall(tops: list[list[str]], gold: list[str], k: int = 10) -> float:
    """Share of queries whose gold entry is in the top ``k``."""
    return float(np.mean([g in t[:k] for t, g in zip(tops, gold, strict=True)]))


def probe_sweep(index: ScriptIndex, queries: list[tuple[str, str]], exact_tops: list[list[str]],
                shares: tuple[float, ...]) -> list[list[str]]:
    """Search time and agreement with the full scan for several shares of lists scanned."""
    from scripts_bank import vectors

    rows = []
    default = vectors.PROBE_SHARE
    gold = [g for _, g in queries]
    n_lists = len(index.semantic.partition.centroids) if index.semantic.partition is not None else 0
    for share in shares:
        vectors.PROBE_SHARE = share
        times, tops = [], []
        for q, _ in queries:
            t0 = time.perf_counter()
            hits = index.search([q], k=10)[0]  # query vectors are cached by now
            times.append(1000 * (time.perf_counter() - t0))
            tops.append([h.id for h in hits])
        scanned = min(n_lists, max(1, int(np.ceil(share * n_lists))))
        rows.append([f"{share:.2f}{' (default)' if share == default else ''}", f"{scanned}/{n_lists}",
                     *_ms(times), f"{overlap(tops, exact_tops):.3f}", f"{recall(tops, gold):.3f}"])
    vectors.PROBE_SHARE = default
    return rows


def build_or_load(entries: list[BankEntry], vectors: Matrix, embedder: Embedder, weight: float,
                  cache_dir: Path, cache: str) -> tuple[ScriptIndex, Path, str]:
    """The bench's persisted index (rebuilt from the cached vectors in ``cold`` mode) and a note."""
    from scripts_bank import index_store
    from scripts_bank.bm25 import KeywordIndex
    from scripts_bank.lookup import ScriptIndex, entry_tokens
    from scripts_bank.vectors import SemanticIndex

    folder = index_store.index_folder(cache_dir, embedder.model_id, entries)
    if cache == "cold":
        shutil.rmtree(cache_dir / index_store.INDEX_DIR, ignore_errors=True)
    else:
        t0 = time.perf_counter()
        loaded = index_store.load_index(folder, entries, embedder=embedder, semantic_weight=weight)
        if loaded is not None:
            return loaded, folder, f"saved index loaded in {time.perf_counter() - t0:.1f} s (--cache warm)"
    log(f"[lookup_scale] tokenising {len(entries)} entries (jieba) …")
    t0 = time.perf_counter()
    keyword_index = KeywordIndex([entry_tokens(e) for e in entries])
    t1 = time.perf_counter()
    semantic = SemanticIndex.build(vectors)
    t2 = time.perf_counter()
    index = ScriptIndex(entries, embedder=embedder, semantic_weight=weight, semantic=semantic,
                        keyword_index=keyword_index)
    index_store.save_index(index, folder)
    t3 = time.perf_counter()
    note = (f"index built from the cached vectors: jieba + BM25 counts {t1 - t0:.1f} s, semantic lists "
            f"(k-means) + bank moments {t2 - t1:.1f} s, saved in {t3 - t2:.1f} s")
    return index, folder, note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000, help="bank entries (default 100000)")
    ap.add_argument("--queries", type=int, default=500, help="held-out real queries timed (>= 300)")
    ap.add_argument("--model", default=None, help="encoder (default: the configured one)")
    ap.add_argument("--cache", choices=("cold", "warm"), default="cold",
                    help="cold: rebuild the saved index from the cached vectors; warm: load it if saved")
    ap.add_argument("--max-pairs", type=int, default=None, help=argparse.SUPPRESS)  # run_all passes it
    ap.add_argument("--backends", default="default,torch,onnx-int8",
                    help="encoders of the restart runs (and ONNX ones profiled); the bank stays the torch "
                         "model's. default = load_encoder() as the app gets it")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the timed query encoder (default 1: on a shared machine two "
                         "spinning threads stall; the profile table compares)")
    ap.add_argument("--query-backend", default="default,torch",
                    help="encoders of the timed queries, comma-separated: default (load_encoder() as the "
                         "app gets it: the lean query path), torch (SentenceTransformer.encode), lean-torch, "
                         "onnx, onnx-int8; bank vectors stay torch's")
    ap.add_argument("--backend", default="torch", help=argparse.SUPPRESS)  # of a restart child
    ap.add_argument("--restart-child", nargs=3, metavar=("FOLDER", "BANK", "QUERY"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.restart_child:
        folder, bank_file, query = args.restart_child
        restart_child(folder, bank_file, args.model, args.backend, query)
        return 0
    from bench.lookup_bank import bank_vectors, build_scale_bank
    from scripts_bank import lookup
    from scripts_bank.lookup import BankEntry, ScriptIndex
    from scripts_bank.vectors import SemanticIndex
    from training.core.config import get_settings
    from training.nlp.embeddings import Embedder
    from training.nlp.encoder.load import load_encoder

    t_start = time.perf_counter()
    load0 = load_average()
    bank = build_scale_bank(args.size, args.queries)
    entries = [BankEntry(e["id"], e["question"], e["answer"]) for e in bank.entries]
    log(f"[lookup_scale] bank {len(entries)} entries, {len(bank.queries)} held-out queries")
    vectors, record = bank_vectors([e.question for e in entries], args.model)
    encoder = load_encoder(args.model, "torch")
    import torch

    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    embedder = Embedder(encoder)
    weight = get_settings().lookup_semantic_weight
    cache_dir = get_settings().cache_dir / "bench-lookup-scale-index"
    index, folder, build_note = build_or_load(entries, vectors, embedder, weight, cache_dir, args.cache)
    exact = ScriptIndex(entries, embedder=embedder, semantic_weight=weight, keyword_index=index.keyword_index,
                        semantic=SemanticIndex(vectors, index.semantic.mean, index.semantic.covariance))
    lookup.QUERY_CACHE_SIZE = len(bank.queries) + 16  # keep every query vector for the sweep below
    latency_rows: list[list[str]] = []
    tops: dict[str, list[list[str]]] = {}
    quality: list[str] = []
    gold = [g for _, g in bank.queries]
    for i, name in enumerate(b.strip() for b in args.query_backend.split(",") if b.strip()):
        index.embedder = exact.embedder = query_embedder(name, encoder, args.model, args.threads)
        index._query_vectors.clear()
        exact._query_vectors = index._query_vectors  # one query cache: the full scan times its search alone
        log(f"[lookup_scale] warm latency, queries on {name} (load {load_average()}) …")
        rows, run_tops = latency(index, bank.queries, exact if i == 0 else None)
        latency_rows += [[name, *row] for row in rows]
        quality.append(f"{name}: R@5 {recall(run_tops['partitioned'], gold, 5):.3f}, "
                       f"R@10 {recall(run_tops['partitioned'], gold):.3f}")
        if i == 0:
            tops = run_tops
    index.embedder = exact.embedder = query_embedder(
        args.query_backend.split(",")[0].strip(), encoder, args.model, args.threads)
    index._query_vectors.clear()  # the sweep re-encodes with the first query encoder, as the exact pass did
    log("[lookup_scale] lists sweep …")
    sweep = probe_sweep(index, bank.queries, tops["exact"], (0.02, 0.04, 0.08, 0.16))
    log("[lookup_scale] encoding profile …")
    torch.set_num_threads(default_threads)
    profile = encode_profile(encoder, [q for q, _ in bank.queries[:30]], args.model, backends)
    log("[lookup_scale] restart …")
    restarts = restart_runs(Path(__file__).resolve(), folder, entries, args.model, bank.queries[0][0],
                            backends, runs=2)
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20

    print(f"## Lookup at scale: {len(entries):,}-entry bank\n")
    print(f"1-min load average before the run: {load0}, after: {load_average()}; {encoder.model_id} "
          f"(query encoders: {args.query_backend}; {args.threads} torch thread(s) for the timed queries); "
          f"semantic weight {weight}.\n")
    print("Bank questions by source: " + "; ".join(f"{k}: {v:,}" for k, v in bank.sources.items()) + ".\n")
    print(f"- One-time encoding of the bank questions: {int(record['encoded']):,} texts in "
          f"{record['seconds']:.0f} s ({record['encoded'] / max(record['seconds'], 1e-9):.0f} sentences/s; "
          f"{int(record['this_run']):,} encoded by this run), cached in the bench's embedding store; "
          f"read back in {record['fetch']:.1f} s.")
    print(f"- {build_note}; saved index {size_mb:.0f} MB on disk.")
    print(f"- Quality at this size (sanity check): gold entry in the top 10 for "
          f"{recall(tops['partitioned'], gold):.3f} of the queries (full scan: "
          f"{recall(tops['exact'], gold):.3f}); the default search returns "
          f"{overlap(tops['partitioned'], tops['exact']):.3f} of the full scan's top 10. Per query "
          f"encoder: {'; '.join(quality)}.\n")
    print(f"### Warm single-query latency, ms ({len(bank.queries)} distinct held-out queries, k = 10)\n")
    print(markdown_table(["query encoder", "step", "p50", "p95", "p99", "CPU p50", "CPU p95"], latency_rows)
          + "\n")
    print("### Semantic lists scanned per query vs search time (ms) and agreement with the full scan\n")
    header = ["share of lists", "lists", "p50", "p95", "p99", "top-10 overlap", "R@10"]
    print(markdown_table(header, sweep) + "\n")
    print("### Where one query's encoding goes, ms (first 30 queries)\n")
    print(markdown_table(["threads", "step", "p50", "p95", "p99", "CPU p50 / p95"],
                         [row + [""] * (6 - len(row)) for row in profile]) + "\n")
    print("### Restart: a fresh process loads the encoder and the saved index and answers one query\n")
    print("Seconds, wall (CPU of the process in all threads).\n")
    header = ["run", "imports (torch, sentence-transformers, app)", "model load", "bank read (JSONL)",
              "index load", "first query", "ready (in process)", "wall incl. interpreter", "RSS MB",
              "peak RSS MB", "torch stack imported"]
    print(markdown_table(header, restarts) + "\n")
    log(f"[lookup_scale] done in {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
