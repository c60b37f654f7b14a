"""Scaling bench: mining and ranking time at 1x, 4x and 16x the JD chat-log sample.

Issue 7: "Mining and ranking cost must grow linearly with the data". The 1x log is the JD sample
(``jddc_chat_sample/chat_0.1per.txt``: 994 sessions, 12,136 utterances). The kx log is k replicas
of it: replica 0 is the sample as it is; replica r >= 1 copies every session under a new session
id (``<id>~r``) and, with probability ``VARY`` (0.5) per customer message, appends a real
customer message of another session that says something but asks nothing (a "statement" such as
"我昨天下的单"; JD joins a burst of messages with spaces, so this reads as a two-message burst).
The statement keeps a question a question and a non-question a non-question, so the number of
questions grows exactly k-fold, while the varied questions are new texts that no dedup removes
(distinct question texts: see the first table). Replica r draws from its own seeded generator,
so the 4x log is the first 4 replicas of the 16x log. Agent messages are copied unchanged.

Ranking input at each size: one group per extracted question that has an agent reply (the
question alone, no context), answers = its own reply + the replies of the next
``RANK_ANSWERS - 1`` such questions of the log; all groups are one ``rank_answers`` batch.

Encoding is linear by construction (each distinct text is encoded once, in length-sorted
batches), and at 16x it would take most of an hour on this machine, so the timed runs use a warm
embedding cache (``<data dir>/cache/bench-scale-embeddings.sqlite``, bench-owned, safe to delete):
a first pass fills it with every text of the largest size (timed; a later run finds it full and
encodes nothing), and the encoding rate is measured on a fixed sample encoded directly, without
the cache, in every run. The timed runs then measure the algorithms: text rules, cache look-ups,
clustering, ranking signals. Sizes run in the order 1, 4, 16, 16, 4, 1 (medians reported).

    python bench/scale.py [--sizes 1,4,16] [--repeats 2] [--model M] [--max-pairs N (sizes 1,4)]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/scale.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from bench.datasets import SEED, data_root, load_average, log, markdown_table, self_cpu_seconds  # noqa: E402
from bench.mining import JD_SAMPLE, read_jddc_tsv  # noqa: E402
from training.chats.types import CUSTOMER, ChatLine  # noqa: E402
from training.mining.text import clean_customer_message, content_segments, is_question  # noqa: E402

#: Probability that a customer message of a replica gets a statement of another session appended.
VARY = 0.5
#: Answers per ranking group: the question's own reply and the replies of the next questions.
RANK_ANSWERS = 5
#: Texts encoded directly (no cache) in every run to measure the encoding rate.
RATE_SAMPLE = 500
CACHE_FILE = "bench-scale-embeddings.sqlite"


def statement_donors(lines: Sequence[ChatLine]) -> list[ChatLine]:
    """Customer messages that say something (after cleaning) but ask nothing."""
    donors = []
    for line in lines:
        if line.role == CUSTOMER:
            segments = content_segments(clean_customer_message(line.text))
            if segments and not is_question(" ".join(segments)):
                donors.append(line)
    return donors


def scaled_log(lines: Sequence[ChatLine], factor: int, donors: Sequence[ChatLine]) -> list[ChatLine]:
    """``factor`` replicas of the log: the original, then varied copies under new session ids."""
    out = list(lines)
    for r in range(1, factor):
        rng = random.Random(SEED + r)  # replica r is the same in every larger log
        for line in lines:
            text = line.text
            if line.role == CUSTOMER and rng.random() < VARY:
                donor = donors[rng.randrange(len(donors))]
                if donor.session_key != line.session_key:
                    text = f"{line.text} {donor.text}"
            out.append(replace(line, session_key=f"{line.session_key}~{r}", text=text))
    return out


def rank_groups(questions: Sequence[Any]) -> list[Any]:
    """One ranking group per question with an agent reply: its reply and the next ones'."""
    from training.ranking.rank import RankGroup

    answered = [q for q in questions if q.agent_reply]
    n = len(answered)
    return [RankGroup(q.text, [answered[(i + j) % n].agent_reply for j in range(RANK_ANSWERS)])
            for i, q in enumerate(answered)]


class TimedEncoder:
    """Passes ``encode`` through, adding up the texts and the seconds spent in it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id: str = inner.model_id
        self.texts = 0
        self.seconds = 0.0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
               prompt_name: str | None = None) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress,
                                     prompt_name=prompt_name)
        finally:
            self.texts += len(texts)
            self.seconds += time.perf_counter() - t0


@contextmanager
def timed_attr(owner: Any, name: str, total: list[float]) -> Iterator[None]:
    """Temporarily wrap ``owner.name`` so the seconds spent in it add up in ``total[0]``."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - t0

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


@dataclass
class Run:
    """One timed run of mining or ranking at one size."""

    seconds: float
    cpu: float
    parts: dict[str, float]
    count: int  # clusters (mining) or answers (ranking)


def measure(body: Callable[[dict[str, float]], int]) -> Run:
    """Wall and CPU seconds of ``body``, which fills in its own phase times."""
    parts: dict[str, float] = {}
    cpu0, t0 = self_cpu_seconds(), time.perf_counter()
    count = body(parts)
    return Run(time.perf_counter() - t0, self_cpu_seconds() - cpu0, parts, count)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1,4,16", help="multiples of the JD sample")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per size (interleaved)")
    ap.add_argument("--model", default=None, help="passed to load_encoder(model)")
    ap.add_argument("--max-pairs", type=int, default=None,
                    help="run_all's quick pass: any value limits the sizes to 1,4")
    ap.add_argument("--cache", default=None, help=argparse.SUPPRESS)  # run_all; always warm here
    args = ap.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    if args.max_pairs is not None:
        sizes = [k for k in sizes if k <= 4] or sizes[:1]

    import training.mining.mine as mining
    from training.core.config import get_settings
    from training.mining.mine import extract_questions, mine_questions
    from training.mining.text import embedding_text
    from training.nlp.embeddings import DiskEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder
    from training.ranking.rank import ANSWER_PROMPT, RankWeights, rank_answers, rank_texts

    base = read_jddc_tsv(data_root() / JD_SAMPLE)
    donors = statement_donors(base)
    logs = {k: scaled_log(base, k, donors) for k in sizes}
    questions = {k: extract_questions(logs[k]) for k in sizes}
    groups = {k: rank_groups(questions[k]) for k in sizes}
    encoder = load_encoder(args.model)
    timed_encoder = TimedEncoder(encoder)
    cache_path = get_settings().cache_dir / CACHE_FILE
    embedder = Embedder(timed_encoder, DiskEmbeddingStore(cache_path))

    # Fill the cache with every text of the largest size (the smaller logs are its replicas).
    top = sizes[-1]
    mining_texts = list(dict.fromkeys(embedding_text(q.text) for q in questions[top]))
    passages, queries = rank_texts(groups[top])
    log(f"[scale] filling {cache_path.name}: {len(mining_texts)} mining + {len(queries)} query "
        f"+ {len(passages)} passage texts (only those missing are encoded) …")
    fill_t0 = time.perf_counter()
    embedder.embed(mining_texts, show_progress=True)
    embedder.embed(queries, show_progress=True)
    embedder.embed(passages, show_progress=True, prompt=ANSWER_PROMPT)
    fill = (timed_encoder.texts, timed_encoder.seconds, time.perf_counter() - fill_t0)
    sample = random.Random(SEED).sample(mining_texts, min(RATE_SAMPLE, len(mining_texts)))
    t0 = time.perf_counter()
    encoder.encode(sample, batch_size=64)
    rate = len(sample) / (time.perf_counter() - t0)

    def mine(k: int) -> Callable[[dict[str, float]], int]:
        def body(parts: dict[str, float]) -> int:
            t0 = time.perf_counter()
            extract_questions(logs[k])  # timed alone: mine_questions runs it once more
            parts["extract"] = time.perf_counter() - t0
            lookup, cluster = [0.0], [0.0]
            with timed_attr(embedder, "embed", lookup), timed_attr(mining, "leader_clusters", cluster):
                count = len(mine_questions(logs[k], embedder=embedder))
            parts["lookup"], parts["cluster"] = lookup[0], cluster[0]
            return count
        return body

    def rank(k: int) -> Callable[[dict[str, float]], int]:
        def body(parts: dict[str, float]) -> int:
            lookup = [0.0]
            with timed_attr(embedder, "embed", lookup):
                ranked = rank_answers(groups[k], embedder=embedder, weights=RankWeights())
            parts["lookup"] = lookup[0]
            return sum(len(r) for r in ranked)
        return body

    runs: dict[tuple[str, int], list[Run]] = {}
    order = [*sizes, *reversed(sizes)] * ((args.repeats + 1) // 2)
    for k in order[: args.repeats * len(sizes)]:
        for kind, body in (("mining", mine(k)), ("ranking", rank(k))):
            encoded = timed_encoder.texts
            run = measure(body)
            if timed_encoder.texts != encoded:
                log(f"[scale] warning: {kind} at {k}x encoded {timed_encoder.texts - encoded} texts")
            runs.setdefault((kind, k), []).append(run)
            log(f"[scale] {kind} {k}x: {run.seconds:.2f} s wall, {run.cpu:.2f} s CPU "
                f"(load {load_average()})")

    print_report(sizes, logs, questions, groups, runs, fill, rate, len(sample))
    return 0


def print_report(sizes: list[int], logs: dict[int, list[ChatLine]], questions: dict[int, list[Any]],
                 groups: dict[int, list[Any]], runs: dict[tuple[str, int], list[Run]],
                 fill: tuple[int, float, float], rate: float, sample: int) -> None:
    """The Markdown tables: data per size, encoding, mining and ranking times."""
    from training.mining.text import dedupe_key, embedding_text
    from training.ranking.rank import rank_texts

    print("## Scaling: mining and ranking at 1x / 4x / 16x the JD sample\n")
    print(f"Load average at the end {load_average()}; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB.\n")
    rows = []
    texts: dict[int, int] = {}
    for k in sizes:
        passages, queries = rank_texts(groups[k])
        mining_texts = {embedding_text(q.text) for q in questions[k]}
        texts[k] = len(mining_texts | set(queries)) + len(passages)
        rows.append([f"{k}x", str(len({line.session_key for line in logs[k]})), str(len(logs[k])),
                     str(len(questions[k])), str(len({dedupe_key(q.text) for q in questions[k]})),
                     str(len(groups[k])), str(sum(len(g.answers) for g in groups[k])), str(texts[k]),
                     f"{texts[k] / rate:.0f}"])
    print(markdown_table(["size", "sessions", "utterances", "questions", "distinct questions",
                          "rank groups", "answers", "texts to embed", "est. encode s"], rows))
    print(f"\nEncoding: {rate:.1f} texts/s on {sample} mining texts encoded directly (batch 64, no "
          f"cache); `est. encode s` = texts to embed / that rate. Cache fill this run: "
          f"{fill[0]} texts encoded in {fill[1]:.1f} s"
          + (f" ({fill[0] / fill[1]:.1f} texts/s)" if fill[0] else " (cache was full)") + ".\n")

    def table(kind: str, unit: str, per: Callable[[int], int], parts: Sequence[str]) -> None:
        base = statistics.median(r.seconds for r in runs[(kind, sizes[0])])
        base_cpu = statistics.median(r.cpu for r in runs[(kind, sizes[0])])
        out = []
        for k in sizes:
            rs = runs[(kind, k)]
            wall, cpu = statistics.median(r.seconds for r in rs), statistics.median(r.cpu for r in rs)
            out.append([f"{k}x", str(per(k)), f"{wall:.2f}", f"{cpu:.2f}",
                        *(f"{statistics.median(r.parts[p] for r in rs):.2f}" for p in parts),
                        f"{wall / per(k) * 1e6:.1f}", f"{cpu / per(k) * 1e6:.1f}",
                        f"{wall / base:.1f}x", f"{cpu / base_cpu:.1f}x",
                        " / ".join(f"{r.seconds:.2f}" for r in rs)])
        print(f"### {kind.capitalize()} (warm embedding cache)\n")
        print(markdown_table(["size", unit, "wall s", "CPU s", *(f"{p} s" for p in parts),
                              f"wall ms per 1k {unit}", f"CPU ms per 1k {unit}",
                              f"wall growth vs {sizes[0]}x", "CPU growth", "runs (wall s)"], out))
        print()

    table("mining", "utterances", lambda k: len(logs[k]), ("extract", "lookup", "cluster"))
    table("ranking", "answers", lambda k: sum(len(g.answers) for g in groups[k]), ("lookup",))
    print("Mining wall = `mine_questions` (extraction + cache look-up + clustering + cluster "
          "building); `extract s` is a separate call of `extract_questions`, `lookup s` the time in "
          "`Embedder.embed` (all cached), `cluster s` the time in `leader_clusters`. Ranking wall = "
          "one `rank_answers` call over all groups.")


if __name__ == "__main__":
    sys.exit(main())
