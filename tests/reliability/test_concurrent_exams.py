"""Fifty candidates autosave through the real service and all hand in at the same moment.

Each request gets its own session from the app's engine, as a Streamlit rerun does. At the
moment of submission every candidate's page also fires duplicate submits and one last-second
autosave (an answer changed just before clicking 交卷), all released by one barrier.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from exam_world import demo_people, more_candidates, publish
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from training.exams import answering, papers, sittings, submission
from training.exams import attempts as exams
from training.exams.knowledge import grade
from training.models import Answer, Attempt, AttemptStatus, AuditLog, KnowledgeItem, Role, User

CANDIDATES = 50
ROUNDS = 5
DUPLICATE_SUBMITS = 2


@dataclass
class Seat:
    """One candidate's attempt and what the server acknowledged saving, per slot."""

    user_id: int
    attempt_id: int = 0
    scenario_slot: int = 0
    objective_slot: int = 0
    right: str = ""
    wrong: str = ""


@dataclass
class Ledger:
    """Everything the candidates' requests saw, shared between threads."""

    lock: threading.Lock
    acknowledged: dict[tuple[int, int], tuple[str, str]]  # (attempt, slot) -> (text, choice)
    writes: int = 0
    refused: int = 0
    unexpected: list[BaseException] | None = None

    def saved(self, attempt_id: int, slot_id: int, value: tuple[str, str]) -> None:
        with self.lock:
            self.acknowledged[(attempt_id, slot_id)] = value
            self.writes += 1

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            assert self.unexpected is not None
            self.unexpected.append(exc)


def _reply(candidate: int, round_: int) -> str:
    """A reply that grows each round, unique to the candidate (so a mix-up shows)."""
    return "".join(f"[{candidate}-{k}]亲，您的订单已加急处理，今天16点前发出哦。" for k in range(round_ + 1))


def _run_all(targets: list[Callable[[], None]]) -> None:
    workers = [threading.Thread(target=t) for t in targets]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
    assert not any(w.is_alive() for w in workers), "a candidate's request hung"


def test_fifty_candidates_autosave_and_submit_at_once(db_url: str, engine: Engine, session: Session) -> None:
    if engine.dialect.name == "sqlite":
        assert session.exec(text("PRAGMA journal_mode")).one()[0] == "wal"  # type: ignore[call-overload]
    people = demo_people(session)
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).first()
    assert admin is not None
    users = more_candidates(session, admin, CANDIDATES)
    paper_id = publish(session, people.trainer, "并发交卷考试", scenario=True, objective=1)
    seats = [Seat(user_id=u.id or 0) for u in users]
    ledger = Ledger(threading.Lock(), {}, unexpected=[])

    @contextmanager
    def request(seat: Seat) -> Iterator[tuple[Session, User]]:
        """One page run: a fresh session and the logged-in user loaded in it."""
        with Session(engine, expire_on_commit=False) as own:
            user = own.get(User, seat.user_id)
            assert user is not None
            yield own, user

    def sit(number: int, seat: Seat) -> None:
        rng = random.Random(number)
        try:
            with request(seat) as (own, user):
                entry = next(e for e in exams.my_exams(session=own, actor=user) if e.paper_id == paper_id)
                attempt = exams.start_attempt(session=own, actor=user, assignment_id=entry.assignment_id)
                view = exams.open_attempt(session=own, actor=user, attempt_id=attempt.id or 0)
                seat.attempt_id = attempt.id or 0
                for question in view.questions:
                    if question.kind == papers.SCENARIO:
                        seat.scenario_slot = question.slot_id
                    else:
                        item = own.get(KnowledgeItem, question.knowledge_item_id)
                        assert item is not None and item.options
                        seat.objective_slot, seat.right = question.slot_id, item.answer
                        seat.wrong = next(o[0] for o in item.options if o[0] != item.answer)
            for round_ in range(ROUNDS):
                reply = _reply(number, round_)
                with request(seat) as (own, user):
                    answering.save_answer(session=own, actor=user, attempt_id=seat.attempt_id,
                                          slot_id=seat.scenario_slot, text=reply, elapsed_seconds=0.2)
                ledger.saved(seat.attempt_id, seat.scenario_slot, (reply, ""))
                if round_ == 0:
                    with request(seat) as (own, user):
                        answering.save_answer(session=own, actor=user, attempt_id=seat.attempt_id,
                                              slot_id=seat.objective_slot, choice=seat.wrong)
                    ledger.saved(seat.attempt_id, seat.objective_slot, ("", seat.wrong))
                time.sleep(rng.uniform(0.1, 0.3))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            ledger.failed(exc)

    _run_all([lambda n=n, s=s: sit(n, s) for n, s in enumerate(seats)])  # type: ignore[misc]
    assert ledger.unexpected == []

    # The moment: every candidate clicks 交卷 (several times) while a last answer change is in flight.
    moment = threading.Barrier(CANDIDATES * (2 + DUPLICATE_SUBMITS))
    submitted: list[tuple[int, str]] = []

    def submit(seat: Seat) -> None:
        try:
            moment.wait(60)
            with request(seat) as (own, user):
                attempt = submission.submit_attempt(session=own, actor=user, attempt_id=seat.attempt_id)
                with ledger.lock:
                    submitted.append((seat.attempt_id, attempt.status))
        except BaseException as exc:  # noqa: BLE001
            ledger.failed(exc)

    def last_second_save(seat: Seat) -> None:
        try:
            moment.wait(60)
            with request(seat) as (own, user):
                try:
                    answering.save_answer(session=own, actor=user, attempt_id=seat.attempt_id,
                                          slot_id=seat.objective_slot, choice=seat.right)
                except sittings.ExamError as exc:  # the service's own answer: too late, already in
                    assert str(exc) == "试卷已提交，不能再修改。"
                    with ledger.lock:
                        ledger.refused += 1
                    return
            ledger.saved(seat.attempt_id, seat.objective_slot, ("", seat.right))
        except BaseException as exc:  # noqa: BLE001
            ledger.failed(exc)

    targets: list[Callable[[], None]] = []
    for seat in seats:
        targets += [lambda s=seat: submit(s)] * (1 + DUPLICATE_SUBMITS)  # type: ignore[misc]
        targets.append(lambda s=seat: last_second_save(s))  # type: ignore[misc]
    _run_all(targets)
    assert ledger.unexpected == [], ledger.unexpected[:3]

    with Session(engine) as check:
        attempt_ids = [s.attempt_id for s in seats]
        attempts = check.exec(select(Attempt).where(col(Attempt.id).in_(attempt_ids))).all()
        answers = {(a.attempt_id, a.item_id): a for a in check.exec(
            select(Answer).where(col(Answer.attempt_id).in_(attempt_ids))).all()}
        audits = Counter(check.exec(select(AuditLog.target).where(AuditLog.action == "attempt.submit")).all())
        per_user = Counter(check.exec(select(Attempt.user_id).where(
            col(Attempt.user_id).in_([s.user_id for s in seats]))).all())
        by_id = {a.id: a for a in attempts}
        items = {s.attempt_id: check.get(KnowledgeItem, next(
            q.knowledge_item_id for q in sittings.questions_of(by_id[s.attempt_id])
            if q.slot_id == s.objective_slot)) for s in seats}

    lost = 0
    for (attempt_id, slot_id), (reply, choice) in ledger.acknowledged.items():
        stored = answers.get((attempt_id, slot_id))
        if stored is None or stored.text != reply or stored.choice != choice:
            lost += 1
    submissions = sum(audits[str(i)] for i in attempt_ids)
    print(f"answers written {ledger.writes}, lost {lost}, submissions {submissions} "
          f"(last-second saves refused as already submitted: {ledger.refused})")

    assert len(set(attempt_ids)) == CANDIDATES and all(per_user[s.user_id] == 1 for s in seats)
    assert ledger.writes == CANDIDATES * (ROUNDS + 1) + (CANDIDATES - ledger.refused)
    assert lost == 0
    assert all(answers[(s.attempt_id, s.scenario_slot)].text == _reply(n, ROUNDS - 1)
               for n, s in enumerate(seats))
    assert submissions == CANDIDATES and all(audits[str(i)] == 1 for i in attempt_ids)
    assert {a.status for a in attempts} == {AttemptStatus.SUBMITTED}
    assert all(a.submitted_at is not None and not a.auto_submitted for a in attempts)
    assert len(submitted) == CANDIDATES * (1 + DUPLICATE_SUBMITS)
    assert {status for _, status in submitted} == {AttemptStatus.SUBMITTED}
    for seat in seats:
        # The objective grade is of the choice stored: no save slipped in after grading.
        answer = answers[(seat.attempt_id, seat.objective_slot)]
        item = items[seat.attempt_id]
        assert item is not None
        assert answer.auto_score == grade(item, answer.choice), (seat, answer)
