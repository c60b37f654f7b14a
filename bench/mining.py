"""Question-mining bench: ``mine_questions`` on the raw JD chat-log sample, timed.

Reads ``jddc_chat_sample/chat_0.1per.txt`` (994 sessions, 12,136 utterances; 7 TAB-separated
columns: session, customer, sender 0 = customer / 1 = agent, transferred, repeat, sku, content)
with a few lines of its own, so the bench does not depend on the importer. Prints the model load
time, the mining time (extraction + encoding + clustering, with a
progress bar on stderr as the CLI shows it), the number of customer turns,
questions and clusters, and the top clusters with their frequency and category.

By default the embedding cache is empty (cold: every distinct question is encoded, as on a first
import); ``--warm`` uses a disk cache under the data dir, as a re-import would.

    python bench/mining.py [--data PATH] [--threshold T] [--top 20] [--warm] [--model M]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/mining.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from tqdm import tqdm  # noqa: E402

from bench.datasets import data_root, load_average, log, markdown_table, self_cpu_seconds  # noqa: E402
from training.chats.types import AGENT, CUSTOMER, ChatLine  # noqa: E402

JD_SAMPLE = Path("jddc_chat_sample") / "chat_0.1per.txt"


def read_jddc_tsv(path: Path) -> list[ChatLine]:
    """Chat lines of a JD 7-column TSV export (no masking: the sample is desensitised already)."""
    lines: list[ChatLine] = []
    with path.open(encoding="utf-8") as fh:
        for seq, raw in enumerate(fh):
            cols = raw.rstrip("\n").split("\t")
            if len(cols) >= 7:
                role = CUSTOMER if cols[2] == "0" else AGENT
                sku = "" if cols[5] == "nan" else cols[5]
                lines.append(ChatLine(cols[0], seq, role, "\t".join(cols[6:]), sku=sku))
    return lines


def customer_turns(lines: list[ChatLine]) -> int:
    """Runs of consecutive customer messages within a session."""
    turns, previous = 0, ("", "")
    for line in lines:
        if line.role == CUSTOMER and previous != (line.session_key, CUSTOMER):
            turns += 1
        previous = (line.session_key, line.role)
    return turns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help=f"chat log (default <data root>/{JD_SAMPLE})")
    ap.add_argument("--threshold", type=float, default=None, help="cosine threshold (default: tuned)")
    ap.add_argument("--top", type=int, default=20, help="clusters to print")
    ap.add_argument("--warm", action="store_true", help="use the disk embedding cache")
    ap.add_argument("--model", default=None, help="passed to load_encoder(model)")
    args = ap.parse_args(argv)

    from training.core.config import get_settings
    from training.mining.mine import DEFAULT_THRESHOLD, extract_questions, mine_questions
    from training.nlp.embeddings import DiskEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder

    path = args.data or data_root() / JD_SAMPLE
    lines = read_jddc_tsv(path)
    sessions = len({line.session_key for line in lines})

    t0 = time.perf_counter()
    encoder = load_encoder(args.model)
    load_seconds = time.perf_counter() - t0
    store = DiskEmbeddingStore(get_settings().cache_dir / "bench-embeddings.sqlite") if args.warm else None
    embedder = Embedder(encoder, store)

    log(f"[mining] {path}: {sessions} sessions, {len(lines)} utterances")
    t0 = time.perf_counter()
    questions = extract_questions(lines)
    extract_seconds = time.perf_counter() - t0

    cpu0 = self_cpu_seconds()
    t0 = time.perf_counter()
    with tqdm(total=1.0, desc="mining", file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}") as bar:

        def progress(fraction: float) -> None:
            bar.update(fraction - bar.n)

        clusters = mine_questions(lines, embedder=embedder, threshold=args.threshold, progress=progress)
    seconds = time.perf_counter() - t0
    cpu = self_cpu_seconds() - cpu0
    distinct = len({q.text for q in questions})

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    print("## Question mining on the JD chat-log sample\n")
    print(
        f"{path.name}: {sessions} sessions, {len(lines)} utterances; encoder {encoder.model_id}; "
        f"threshold {threshold}; cache {'warm (disk)' if args.warm else 'cold (none)'}; "
        f"load average {load_average()}\n"
    )
    print(
        markdown_table(
            ["figure", "value"],
            [
                ["model load (s)", f"{load_seconds:.1f}"],
                ["mining time, wall (s)", f"{seconds:.1f}"],
                ["mining time, CPU (s)", f"{cpu:.1f}"],
                ["  of which extraction (s)", f"{extract_seconds:.2f}"],
                ["customer turns", str(customer_turns(lines))],
                ["questions", str(len(questions))],
                ["distinct question texts", str(distinct)],
                ["clusters", str(len(clusters))],
                ["clusters with frequency > 1", str(sum(c.frequency > 1 for c in clusters))],
                [
                    "questions in clusters with frequency > 1",
                    str(sum(c.frequency for c in clusters if c.frequency > 1)),
                ],
            ],
        )
    )
    print(f"\n### Top {args.top} clusters\n")
    rows = [
        [
            str(i),
            str(c.frequency),
            c.category,
            c.question[:40].replace("|", "/"),
            " / ".join(e[:20] for e in c.examples[:3]).replace("|", "/"),
        ]
        for i, c in enumerate(clusters[: args.top], start=1)
    ]
    print(markdown_table(["#", "freq", "category", "question", "examples (first 3)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
