"""Exam bench: start, autosave and submit latency, and the time to score and release a paper.

Customer turns and real agent replies come from the JDDC chat sample in ``../shared/data``
(masked on import, as the app does). A paper of Q scenario questions (each a customer turn with
its preceding context) is taken by C candidates whose answers are real agent replies; every
answer is saved twice (autosave), then all attempts are submitted and the trainer releases the
results, which embeds every answer and ranks each question's C answers.

    python bench/exams.py [--questions 20] [--candidates 30] [--database-url URL]

Without ``--database-url`` a temporary SQLite file is used. Prints figures; never fails on time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/exams.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from sqlmodel import Session, select  # noqa: E402

from training.chats.parsers import parse_chat_log  # noqa: E402
from training.core.config import EMBEDDED_MODEL, PROJECT_ROOT  # noqa: E402
from training.core.db import make_engine  # noqa: E402
from training.core.migrate import upgrade_database  # noqa: E402
from training.exams import answering, papers, sittings, submission
from training.exams import attempts as exams  # noqa: E402
from training.exams import delivery as paper_delivery
from training.exams.grading import release_results  # noqa: E402
from training.models import Cohort, MinedQuestion, Role, User, utcnow  # noqa: E402
from training.nlp.embeddings import Embedder  # noqa: E402
from training.nlp.encoder.load import load_encoder  # noqa: E402
from training.ops.demo.seed import seed_demo  # noqa: E402

SAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "jddc_chat_sample" / "chat_0.1per.txt"


def _turns(limit: int) -> tuple[list[tuple[list[dict[str, str]], str]], list[str]]:
    """(context, customer turn) pairs followed by an agent reply, and all agent replies."""
    log = parse_chat_log(SAMPLE.read_bytes(), file_name=SAMPLE.name, limit_bytes=None)
    by_session: dict[str, list] = {}
    for line in log.lines:
        by_session.setdefault(line.session_key, []).append(line)
    questions, replies = [], []
    for lines in by_session.values():
        for i in range(1, len(lines) - 1):
            if lines[i].role == "customer" and lines[i + 1].role == "agent" and len(lines[i].text) >= 6:
                context = [{"role": x.role, "text": x.text} for x in lines[max(0, i - 3):i]]
                if len(questions) < limit:
                    questions.append((context, lines[i].text))
                break
        replies.extend(x.text for x in lines if x.role == "agent" and len(x.text) >= 8)
    return questions, replies


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='huashu-bench-')}/bench.db"
    upgrade_database(url)
    engine = make_engine(url)
    rng = random.Random(7)
    questions, replies = _turns(args.questions)
    print(f"data: {len(questions)} customer turns, {len(replies)} real agent replies from {SAMPLE.name}")
    with Session(engine, expire_on_commit=False) as session:
        seed_demo(session=session)
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        cohort = session.exec(select(Cohort)).one()
        mined = []
        for context, text in questions:
            row = MinedQuestion(question=text, category="其他", context=context, in_question_bank=True)
            session.add(row)
            mined.append(row)
        session.commit()
        paper = papers.create_paper(session=session, actor=trainer, title="bench", shuffle=True)
        papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                             mined_question_ids=[q.id or 0 for q in mined])
        [assignment] = paper_delivery.publish_paper(
            session=session, actor=trainer, paper_id=paper.id or 0, cohort_ids=[cohort.id or 0],
            opens_at=utcnow(), closes_at=None)
        candidates = [User(username=f"bench{i}", display_name=f"考生{i}", role=Role.NEW_HIRE.value,
                           password_hash="x", cohort_id=cohort.id) for i in range(args.candidates)]
        session.add_all(candidates)
        session.commit()
    starts, saves, submits = [], [], []
    for candidate in candidates:
        with Session(engine, expire_on_commit=False) as session:
            t0 = time.perf_counter()
            attempt = exams.start_attempt(session=session, actor=candidate, assignment_id=assignment.id or 0)
            starts.append(time.perf_counter() - t0)
            for question in sittings.questions_of(attempt):
                reply = rng.choice(replies)
                for text in (reply[: len(reply) // 2], reply):  # typing, then the full reply
                    t0 = time.perf_counter()
                    answering.save_answer(session=session, actor=candidate, attempt_id=attempt.id or 0,
                                          slot_id=question.slot_id, text=text, elapsed_seconds=20)
                    saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            submission.submit_attempt(session=session, actor=candidate, attempt_id=attempt.id or 0)
            submits.append(time.perf_counter() - t0)
    print(f"start attempt: {_ms(starts)}")
    print(f"autosave:      {_ms(saves)}")
    print(f"submit:        {_ms(submits)}")
    t0 = time.perf_counter()
    embedder = Embedder(load_encoder(EMBEDDED_MODEL))
    print(f"encoder load:  {time.perf_counter() - t0:.1f} s")
    with Session(engine, expire_on_commit=False) as session:
        t0 = time.perf_counter()
        released = release_results(session=session, actor=trainer, paper_id=paper.id or 0, embedder=embedder)
        took = time.perf_counter() - t0
    answers = args.questions * args.candidates
    print(f"release: {released} attempts, {answers} scenario answers ranked in {took:.1f} s "
          f"({answers / took:.0f} answers/s, embedding included)")
    engine.dispose()


if __name__ == "__main__":
    main()
