"""One question bank across imports: the JD chat-log sample imported twice, mined each time.

The second import is the same file with every session id renamed (as next month's export of the
same conversations would be). It must leave the number of clusters unchanged and double every
frequency. Prints both figures, the questions mining kept, the fragments it dropped, the
near-duplicate pairs offered for merging, and the timings. Uses a throw-away SQLite database and
the app's own import and mining services (masking, the embedding cache in the database).

    python bench/bank_reimport.py [--data PATH] [--sessions N] [--model M]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bank_reimport.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from bench.datasets import data_root, load_average, log, markdown_table  # noqa: E402

JD_SAMPLE = Path("jddc_chat_sample") / "chat_0.1per.txt"


def renamed(raw: bytes, prefix: str) -> bytes:
    """The same JD TSV with every session id prefixed (a new export of the same sessions)."""
    out = []
    for line in raw.decode("utf-8").splitlines():
        out.append(prefix + line if line.strip() else line)
    return ("\n".join(out) + "\n").encode("utf-8")


def first_sessions(raw: bytes, count: int | None) -> bytes:
    """The lines of the first ``count`` sessions (all when None)."""
    if count is None:
        return raw
    keep: list[str] = []
    seen: set[str] = set()
    for line in raw.decode("utf-8").splitlines():
        key = line.split("\t", 1)[0]
        if key not in seen:
            if len(seen) == count:
                break
            seen.add(key)
        keep.append(line)
    return ("\n".join(keep) + "\n").encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help=f"chat log (default <data root>/{JD_SAMPLE})")
    ap.add_argument("--sessions", type=int, default=None, help="only the first N sessions")
    ap.add_argument("--model", default=None, help="passed to load_encoder(model)")
    args = ap.parse_args(argv)

    from sqlmodel import Session, select

    from training.chats.importer import import_chat_log
    from training.core.db import make_engine
    from training.core.migrate import upgrade_database
    from training.mining.duplicates import merge_candidates
    from training.mining.service import mine_import
    from training.models import MinedQuestion, Role, User
    from training.nlp.embeddings import DbEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder

    path = args.data or data_root() / JD_SAMPLE
    raw = first_sessions(path.read_bytes(), args.sessions)
    encoder = load_encoder(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        embedder = Embedder(encoder, DbEmbeddingStore(engine))
        with Session(engine, expire_on_commit=False) as session:
            trainer = User(username="bench", display_name="bench", role=Role.TRAINER.value, password_hash="x")
            session.add(trainer)
            session.commit()
            figures: list[list[str]] = []
            frequencies: list[dict[str, int]] = []
            for n, upload in enumerate((raw, renamed(raw, "next-month-")), start=1):
                result = import_chat_log(session=session, actor=trainer, raw=upload,
                                         file_name=f"export{n}.tsv")
                t0 = time.perf_counter()
                outcome = mine_import(session=session, actor=trainer, import_id=result.import_id,
                                      embedder=embedder)
                seconds = time.perf_counter() - t0
                clusters = session.exec(select(MinedQuestion)).all()
                frequencies.append({str(c.id): c.frequency for c in clusters})
                figures.append([f"import {n}", str(result.session_count), str(outcome.question_count),
                                str(outcome.new_count), str(outcome.joined_count), str(len(clusters)),
                                str(sum(c.frequency for c in clusters)), f"{seconds:.1f}"])
                log(f"[bank] import {n}: {len(clusters)} clusters")
            doubled = sum(frequencies[1].get(k, 0) == 2 * v for k, v in frequencies[0].items())
            pairs = merge_candidates(session=session, actor=trainer, embedder=embedder, limit=1000)
        engine.dispose()

    print("## One question bank across imports (JD chat-log sample, imported twice)\n")
    print(f"{path.name}: {'all' if args.sessions is None else args.sessions} sessions; encoder "
          f"{encoder.model_id}; load average {load_average()}\n")
    print(markdown_table(["", "sessions", "questions", "new clusters", "joined clusters",
                          "clusters in bank", "sum of frequencies", "mining (s)"], figures))
    print(f"\nClusters whose frequency doubled: {doubled} of {len(frequencies[0])}; "
          f"near-duplicate pairs offered for merging: {len(pairs)}\n")
    rows = [[f"{p.similarity:.3f}", f"{p.first.question[:30]} ×{p.first.frequency}",
             f"{p.second.question[:30]} ×{p.second.frequency}"] for p in pairs[:10]]
    print(markdown_table(["cosine", "keeps", "merges"], [[c.replace("|", "/") for c in r] for r in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
