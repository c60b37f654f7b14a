"""Restart part of ``bench/lookup_scale.py``: a fresh process loads the encoder and the saved index.

The child process times, wall and CPU: imports (the encoder stack and the app's lookup modules),
model load, reading the bank (a JSONL file standing in for the database), loading the saved
index, and its first query; then prints them with its RSS as one JSON line. With an ONNX backend
the query encoder is that backend while the index keeps the torch model's vectors (its model id
is borrowed): a timing of the restart path, not a quality figure. Backend ``default`` is what the
app gets from ``load_encoder()`` with the default settings: torch's model id, queries through
the lean path (``training.nlp.encoder.query``), torch imported only if something needs it; the
child reports which of torch / transformers / sentence-transformers it ended up importing.

Run alone (after ``bench/lookup_scale.py`` has saved the 100k index):

    python bench/lookup_restart.py [--size 100000] [--backends default,torch,onnx-int8] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/lookup_restart.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

STEPS = ("imports", "model", "bank", "index", "query", "ready")


def clock() -> tuple[float, float]:
    """(wall, CPU of this process in all threads) in ms: CPU is the steadier figure under load."""
    return 1000 * time.perf_counter(), 1000 * time.process_time()


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
                  if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class Renamed:
    """An encoder presented under another model id (see the module docstring)."""

    def __init__(self, encoder: Any, model_id: str) -> None:
        self._encoder = encoder
        self.model_id = model_id

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> Any:
        return self._encoder.encode(texts, batch_size=batch_size, show_progress=show_progress)


def restart_child(folder: str, bank_file: str, model: str | None, backend: str, query: str) -> None:
    """A restarted process: load encoder and saved index, answer one query, print timings as JSON."""
    marks = [clock()]
    if backend == "torch":
        import sentence_transformers  # noqa: F401  - what load_encoder imports, timed apart
    elif backend == "default":
        pass  # the app's lookup modules alone: the encoder imports what it needs when loaded
    else:
        import onnxruntime  # noqa: F401
        import transformers  # noqa: F401
    from scripts_bank.index_store import load_index
    from scripts_bank.lookup import BankEntry
    from training.nlp.embeddings import Embedder
    from training.nlp.encoder.load import load_encoder
    marks.append(clock())
    encoder: Any = load_encoder(model) if backend == "default" else load_encoder(model, backend)
    bank_model = json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))["model_id"]
    if encoder.model_id != bank_model:
        encoder = Renamed(encoder, bank_model)
    marks.append(clock())
    with open(bank_file, encoding="utf-8") as fh:
        entries = [BankEntry(**json.loads(line)) for line in fh]
    marks.append(clock())
    index = load_index(Path(folder), entries, embedder=Embedder(encoder), semantic_weight=0.7)
    if index is None:
        raise SystemExit("saved index not loadable")
    marks.append(clock())
    hits = index.search([query], k=10)[0]
    marks.append(clock())
    rss, peak = rss_mb()
    out = {step: [(end[0] - start[0]) / 1000, (end[1] - start[1]) / 1000]
           for step, start, end in zip(STEPS, marks[:-1], marks[1:], strict=False)}
    out["ready"] = [(marks[-1][0] - marks[0][0]) / 1000, (marks[-1][1] - marks[0][1]) / 1000]
    heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
    print(json.dumps({**out, "hits": len(hits), "rss": rss, "peak": peak, "heavy": heavy}))


def restart_runs(script: Path, folder: Path, entries: Sequence[Any], model: str | None, query: str,
                 backends: Sequence[str], runs: int) -> list[list[str]]:
    """Table rows of ``runs`` restarted processes per backend (``script --restart-child``)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="huashu-lookup-scale-") as tmp:
        bank_file = Path(tmp) / "bank.jsonl"
        with bank_file.open("w", encoding="utf-8") as fh:
            for e in entries:
                fh.write(json.dumps({"id": e.id, "question": e.question, "answer": e.answer},
                                    ensure_ascii=False) + "\n")
        for backend in backends:
            cmd = [sys.executable, str(script), "--restart-child", str(folder), str(bank_file), query,
                   "--backend", backend] + (["--model", model] if model else [])
            for run in range(1, runs + 1):
                t0 = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                wall = time.perf_counter() - t0
                if done.returncode != 0:
                    rows.append([f"{backend} #{run}", f"failed: {done.stderr.strip().splitlines()[-1:]}"])
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append([f"{backend} #{run}", *(f"{r[k][0]:.2f} ({r[k][1]:.2f})" for k in STEPS),
                             f"{wall:.2f}", f"{r['rss']:.0f}", f"{r['peak']:.0f}",
                             ", ".join(r.get("heavy", [])) or "none"])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--model", default=None)
    ap.add_argument("--backends", default="default,torch,onnx-int8")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    from bench.datasets import load_average, markdown_table
    from bench.lookup_bank import build_scale_bank
    from scripts_bank import index_store
    from scripts_bank.lookup import BankEntry
    from training.core.config import get_settings
    from training.nlp.encoder.load import load_encoder

    bank = build_scale_bank(args.size, args.queries)
    entries = [BankEntry(e["id"], e["question"], e["answer"]) for e in bank.entries]
    model_id = load_encoder(args.model, "torch").model_id  # lazy: torch is not loaded for this
    saved = get_settings().cache_dir / "bench-lookup-scale-index"
    folder = index_store.index_folder(saved, model_id, entries)
    if not (folder / "meta.json").is_file():
        raise SystemExit(f"no saved index at {folder}: run bench/lookup_scale.py first")
    loads = [os.getloadavg()]
    rows = restart_runs(Path(__file__).resolve().parent / "lookup_scale.py", folder, entries, args.model,
                        bank.queries[0][0], [b.strip() for b in args.backends.split(",") if b.strip()],
                        args.runs)
    loads.append(os.getloadavg())
    print(f"## Restart: fresh process, saved {len(entries):,}-entry index, first query\n")
    print("Load average 1/5/15 min before: " + "/".join(f"{x:.2f}" for x in loads[0]) + ", after: "
          + "/".join(f"{x:.2f}" for x in loads[1]) + f" (1-min now {load_average()}). Seconds, wall (CPU).\n")
    header = ["run", "imports", "model load", "bank read (JSONL)", "index load", "first query",
              "ready (in process)", "wall incl. interpreter", "RSS MB", "peak RSS MB", "torch stack imported"]
    print(markdown_table(header, rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
