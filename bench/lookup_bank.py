"""The 100,000-entry script bank of ``bench/lookup_scale.py``, composed from real texts.

Questions: every distinct sentence (4-64 characters, at least one Chinese character) of the
question-pair sets (LCQMC, BQ, AFQMC, STS-B) and the customer side of the JD/Taobao dialogues
(JDDC 2018 context segments, which mix both sides of the chat, JDDC 2019 customer turns, the
raw JD chat sample, ECD contexts).
When fewer distinct sentences exist than the bank needs, the rest are composites: two real JD
customer utterances joined by "，" (customers often ask two things in one message). Answers:
real agent replies (JDDC 2018 replies, JDDC 2019 answers, chat-sample agent turns, ECD
responses) drawn with a fixed seed; they only feed the keyword index, as in the app.

Queries are held out of the bank: the first question of each matching (label 1) pair of BQ,
AFQMC and LCQMC whose second question is in the bank; that second question is the query's gold
entry (so the bench can also report recall at 100k, a sanity check of the search).
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.datasets import (
    SEED,
    data_root,
    load_afqmc,
    load_bq_corpus,
    load_ecd_test,
    load_jddc2019_dev,
    load_lcqmc,
    load_stsb,
    log,
    unsegment,
)

_CJK = re.compile(r"[\u4e00-\u9fff]")
MIN_CHARS, MAX_CHARS = 4, 64


@dataclass(frozen=True)
class ScaleBank:
    """Bank entries, held-out queries with their gold entry, and where the questions came from."""

    entries: list[dict[str, str]]
    queries: list[tuple[str, str]]  # (query text, gold entry id)
    sources: dict[str, int]


def _usable(text: str) -> bool:
    return MIN_CHARS <= len(text) <= MAX_CHARS and bool(_CJK.search(text))


def _jd_customer_texts(root: Path) -> tuple[list[str], list[str]]:
    """(customer utterances, agent replies) of the JD chat sample, JDDC 2018 and JDDC 2019."""
    customer: list[str] = []
    agent: list[str] = []
    with (root / "jddc_chat_sample" / "chat_0.1per.txt").open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 7:
                (customer if parts[2] == "0" else agent).append(parts[6].strip())
    base = root / "jddc2018_baseline"
    for split in ("train", "dev"):
        for line in (base / f"{split}Questions.txt").read_text(encoding="utf-8").splitlines():
            customer += [s.strip() for s in line.split(",") if s.strip()]
        for line in (base / f"{split}Answers.txt").read_text(encoding="utf-8").splitlines():
            reply = "，".join(s.strip() for s in line.split(",") if s.strip())
            if reply:
                agent.append(reply)
    for turn in load_jddc2019_dev(root):
        if turn.question:
            customer.append(turn.question)
        agent += [a for _, a in turn.human_answers]
    for group in load_ecd_test(root):
        customer += [t.text for t in group.context if t.role == "customer"] + [group.question]
        agent.append(group.candidates[group.true_index])
    return customer, agent


def build_scale_bank(size: int, n_queries: int, seed: int = SEED) -> ScaleBank:
    """A bank of ``size`` entries and up to ``n_queries`` held-out queries (see the module docstring)."""
    root = data_root()
    pairs = {"bq_corpus": load_bq_corpus(root), "afqmc": load_afqmc(root), "lcqmc": load_lcqmc(root)}
    rng = random.Random(seed)
    matching = [(a.strip(), b.strip()) for ps in pairs.values() for a, b, y in ps
                if y > 0.5 and _usable(a.strip()) and _usable(b.strip()) and a.strip() != b.strip()]
    rng.shuffle(matching)
    held: dict[str, str] = {}
    for a, b in matching:
        if len(held) >= n_queries:
            break
        if a not in held and b not in held:
            held[a] = b
    customer, agent = _jd_customer_texts(root)
    stsb = load_stsb(root, splits=("train", "dev", "test"))
    candidates = {
        "question pairs (BQ, AFQMC, LCQMC)": [t for ps in pairs.values() for a, b, _ in ps for t in (a, b)],
        "STS-B": [t for a, b, _ in stsb for t in (a, b)],
        "JD/Taobao customer turns": customer,
    }
    golds = list(dict.fromkeys(held.values()))
    origin: dict[str, str] = dict.fromkeys(golds, "question pairs (BQ, AFQMC, LCQMC)")
    for name, texts in candidates.items():
        for text in texts:
            text = unsegment(text) if name == "JD/Taobao customer turns" else text.strip()
            if _usable(text) and text not in held:
                origin.setdefault(text, name)
    n_real = len(origin)
    short = [t for t in dict.fromkeys(unsegment(c) for c in customer) if _usable(t) and len(t) <= 30]
    while len(origin) < size:
        text = f"{rng.choice(short)}，{rng.choice(short)}"
        if text not in held:
            origin.setdefault(text, "composites of two JD customer turns")
    real = list(origin)[len(golds):n_real]
    random.Random(seed + 1).shuffle(real)  # a smaller bank is a subset of a larger one
    chosen = (golds + real + list(origin)[n_real:])[:size]
    rng.shuffle(chosen)
    replies = sorted({a for a in agent if a.strip()})
    entries = [{"id": f"s{i}", "question": q, "answer": rng.choice(replies)}
               for i, q in enumerate(chosen)]
    by_text = {e["question"]: e["id"] for e in entries}
    queries = [(a, by_text[b]) for a, b in held.items() if b in by_text]
    sources: dict[str, int] = {}
    for text in chosen:
        sources[origin[text]] = sources.get(origin[text], 0) + 1
    sources["(distinct real sentences available)"] = n_real
    return ScaleBank(entries, queries, sources)


CHUNK = 2000


def _cache_paths() -> tuple[Path, Path]:
    from training.core.config import get_settings

    cache = get_settings().cache_dir
    return cache / "bench-lookup-scale.sqlite", cache / "bench-lookup-scale.json"


def bank_vectors(texts: list[str], model: str | None) -> tuple[npt.NDArray[np.float32], dict[str, float]]:
    """Vectors of ``texts`` from the bench's embedding cache, encoding (and recording) what is missing.

    Returns:
        The vectors and ``{"encoded": texts encoded in total, "seconds": their encoding time,
        "this_run": texts encoded by this call, "fetch": seconds to read the cache}``.
    """
    from training.nlp.embeddings import DiskEmbeddingStore, Embedder, text_hash
    from training.nlp.encoder.load import load_encoder

    store_path, meta_path = _cache_paths()
    encoder = load_encoder(model, "torch")  # the bench's vectors stay valid whatever the app's backend
    store = DiskEmbeddingStore(store_path)
    meta: dict[str, dict[str, float]] = {}
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    record = meta.setdefault(encoder.model_id, {"encoded": 0, "seconds": 0.0})
    t0 = time.perf_counter()
    present = store.get_many(encoder.model_id, [text_hash(t) for t in dict.fromkeys(texts)])
    fetch = time.perf_counter() - t0
    missing = [t for t in dict.fromkeys(texts) if text_hash(t) not in present]
    embedder = Embedder(encoder, store)
    if missing:
        log(f"[lookup_scale] encoding {len(missing)} bank questions once (cached in {store_path}) …")
    for start in range(0, len(missing), CHUNK):
        part = missing[start : start + CHUNK]
        t0 = time.perf_counter()
        embedder.embed(part)
        record["encoded"] += len(part)
        record["seconds"] += time.perf_counter() - t0
        meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        log(f"[lookup_scale]   {start + len(part)}/{len(missing)} encoded, "
            f"{record['encoded'] / max(record['seconds'], 1e-9):.0f} sentences/s")
    t0 = time.perf_counter()
    vectors = embedder.embed(texts)
    fetch += time.perf_counter() - t0 if missing else 0.0
    return vectors, {**record, "this_run": len(missing), "fetch": fetch}
