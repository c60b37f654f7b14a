"""Taking exams: start/resume, autosave, one submission under races, deadlines, visibility, grading."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from scripts_bank.placeholders import placeholders_in
from scripts_bank.service import list_scripts, lookup_scripts
from training.auth.permissions import PermissionDenied
from training.exams import answering, feedback, grading, grading_views, papers, scores, sittings, submission
from training.exams import attempts as exams
from training.exams import delivery as paper_delivery
from training.models import (
    Answer,
    Attempt,
    AttemptStatus,
    AuditLog,
    Certificate,
    Cohort,
    KnowledgeItem,
    MinedQuestion,
    Role,
    User,
    utcnow,
)
from training.nlp.embeddings import DiskEmbeddingStore, Embedder
from training.nlp.keywords import STOPWORDS
from training.nlp.placeholder_syntax import without_placeholders
from training.ops.demo.constants import DEMO_DIR
from training.ops.demo.seed import seed_demo
from training.ranking.key_points import COURTESY, FUNCTION_WORDS

T = TypeVar("T")
DEMO_SCRIPTS = DEMO_DIR / "scripts.jsonl"


def _user(session: Session, role: Role) -> User:
    return session.exec(select(User).where(User.role == role.value)).one()


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    seed_demo(session=session)
    return {"trainer": _user(session, Role.TRAINER), "newhire": _user(session, Role.NEW_HIRE),
            "agent": _user(session, Role.AGENT)}


def _publish(session: Session, trainer: User, *, scenario: bool = True, objective: int = 2,
             minutes: int = 30, max_attempts: int = 1, opens_delta: timedelta = timedelta(0),
             closes_delta: timedelta | None = None) -> int:
    """A published paper for the demo cohort; returns the assignment id."""
    paper = papers.create_paper(session=session, actor=trainer, title="上岗考试", shuffle=False,
                                time_limit_minutes=minutes, pass_mark=0.6)
    mined = []
    if scenario:
        question = MinedQuestion(question="什么时候发货呀", category="物流配送", in_question_bank=True,
                                 context=[{"role": "customer", "text": "在吗"},
                                          {"role": "agent", "text": "亲，在的"}])
        session.add(question)
        session.commit()
        mined = [question.id or 0]
    items = [i.id or 0 for i in session.exec(select(KnowledgeItem).order_by(col(KnowledgeItem.id))).all()]
    papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                         mined_question_ids=mined, knowledge_item_ids=items[:objective])
    cohort = session.exec(select(Cohort)).one()
    now = utcnow()
    [assignment] = paper_delivery.publish_paper(
        session=session, actor=trainer, paper_id=paper.id or 0, cohort_ids=[cohort.id or 0],
        opens_at=now + opens_delta, closes_at=now + closes_delta if closes_delta else None,
        max_attempts=max_attempts)
    return assignment.id or 0


def _right_choice(session: Session, question: papers.PaperQuestion) -> str:
    item = session.get(KnowledgeItem, question.knowledge_item_id)
    assert item is not None
    return item.answer


def test_my_exams_start_is_idempotent_and_resume_finds_saved_answers(
    session: Session, engine: Engine, people: dict[str, User],
) -> None:
    assignment_id = _publish(session, people["trainer"])
    newhire = people["newhire"]
    [entry] = exams.my_exams(session=session, actor=newhire)
    assert (entry.state, entry.attempts_left, entry.best_score) == ("可参加", 1, None)
    first = exams.start_attempt(session=session, actor=newhire, assignment_id=assignment_id)
    again = exams.start_attempt(session=session, actor=newhire, assignment_id=assignment_id)
    assert first.id == again.id
    view = exams.open_attempt(session=session, actor=newhire, attempt_id=first.id or 0)
    scenario = next(q for q in view.questions if q.kind == papers.SCENARIO)
    assert scenario.context[0]["text"] == "在吗"  # the real chat context is part of the question
    answering.save_answer(session=session, actor=newhire, attempt_id=first.id or 0, slot_id=scenario.slot_id,
                          text="亲", elapsed_seconds=20)
    answering.save_answer(session=session, actor=newhire, attempt_id=first.id or 0, slot_id=scenario.slot_id,
                          text="亲，16点前付款当天发货哦", elapsed_seconds=10)
    answering.set_flag(session=session, actor=newhire, attempt_id=first.id or 0, slot_id=scenario.slot_id,
                       flagged=True)
    # A new session = a reloaded page or a restarted server.
    with Session(engine) as fresh:
        resumed = exams.open_attempt(session=fresh, actor=newhire, attempt_id=first.id or 0)
        answer = resumed.answers[scenario.slot_id]
        assert answer.text == "亲，16点前付款当天发货哦" and answer.flagged
        assert answer.time_spent_seconds == pytest.approx(30)
        assert answer.chars_per_minute == pytest.approx(len("亲，16点前付款当天发货哦") / 0.5)
        assert [q.slot_id for q in resumed.questions] == [q.slot_id for q in view.questions]
    assert session.exec(select(func.count()).select_from(Attempt)).one() == 1
    [entry] = exams.my_exams(session=session, actor=newhire)
    assert (entry.state, entry.open_attempt_id) == ("作答中", first.id)


def _race(engine: Engine, call: Callable[[Session], T], threads: int = 4) -> list[T]:
    """Run ``call`` in ``threads`` threads released together, each with its own session."""
    results: list[T] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(threads)

    def run() -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                results.append(call(own))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    return results


def test_concurrent_starts_and_submits_make_one_attempt_and_one_submission(
    session: Session, engine: Engine, people: dict[str, User],
) -> None:
    assignment_id = _publish(session, people["trainer"], scenario=False)
    newhire = people["newhire"]
    started = _race(engine, lambda own: exams.start_attempt(
        session=own, actor=newhire, assignment_id=assignment_id).id or 0)
    assert len(set(started)) == 1
    attempt_id = started[0]
    _race(engine, lambda own: submission.submit_attempt(session=own, actor=newhire, attempt_id=attempt_id))
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Attempt)).one() == 1
    submits = session.exec(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "attempt.submit")).one()
    assert submits == 1
    attempt = session.get(Attempt, attempt_id)
    assert attempt is not None and attempt.status == AttemptStatus.SUBMITTED
    with pytest.raises(sittings.ExamError, match="已提交"):
        answering.save_answer(session=session, actor=newhire, attempt_id=attempt_id,
                              slot_id=sittings.questions_of(attempt)[0].slot_id, choice="A")
    with pytest.raises(sittings.ExamError, match="次数已用完"):
        exams.start_attempt(session=session, actor=newhire, assignment_id=assignment_id)


def test_deadline_is_server_side_and_auto_submits_what_was_saved(
    session: Session, people: dict[str, User],
) -> None:
    assignment_id = _publish(session, people["trainer"], scenario=False, minutes=10,
                             opens_delta=timedelta(hours=-1))
    newhire = people["newhire"]
    past = utcnow() - timedelta(minutes=11)
    attempt = exams.start_attempt(session=session, actor=newhire, assignment_id=assignment_id, now=past)
    first = sittings.questions_of(attempt)[0]
    answering.save_answer(session=session, actor=newhire, attempt_id=attempt.id or 0, slot_id=first.slot_id,
                          choice=_right_choice(session, first), now=past + timedelta(minutes=2))
    with pytest.raises(sittings.ExamError, match="时间已到"):
        answering.save_answer(session=session, actor=newhire, attempt_id=attempt.id or 0,
                              slot_id=first.slot_id, choice="C")
    session.refresh(attempt)
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.auto_submitted
    assert attempt.submitted_at == attempt.deadline_at
    saved = session.exec(select(Answer).where(Answer.attempt_id == attempt.id,
                                              Answer.item_id == first.slot_id)).one()
    assert saved.choice == _right_choice(session, first) and saved.auto_score == 1.0
    # Objective-only papers are final at submission: 1 of 2 right.
    assert attempt.released_at is not None and attempt.score == pytest.approx(0.5)


def test_overdue_attempt_is_submitted_when_anyone_looks(session: Session, people: dict[str, User]) -> None:
    assignment_id = _publish(session, people["trainer"], scenario=False, minutes=5,
                             opens_delta=timedelta(hours=-1))
    newhire = people["newhire"]
    attempt = exams.start_attempt(session=session, actor=newhire, assignment_id=assignment_id,
                                  now=utcnow() - timedelta(minutes=6))
    [entry] = exams.my_exams(session=session, actor=newhire)
    session.refresh(attempt)
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.auto_submitted
    assert entry.state == "已交卷" and entry.open_attempt_id is None


def test_window_and_assignment_rules(session: Session, people: dict[str, User]) -> None:
    later = _publish(session, people["trainer"], opens_delta=timedelta(hours=1))
    with pytest.raises(sittings.ExamError, match="尚未开放"):
        exams.start_attempt(session=session, actor=people["newhire"], assignment_id=later)
    closed = _publish(session, people["trainer"], opens_delta=timedelta(hours=-2),
                      closes_delta=timedelta(hours=-1))
    with pytest.raises(sittings.ExamError, match="已结束"):
        exams.start_attempt(session=session, actor=people["newhire"], assignment_id=closed)
    short = _publish(session, people["trainer"], minutes=60, closes_delta=timedelta(minutes=5))
    attempt = exams.start_attempt(session=session, actor=people["newhire"], assignment_id=short)
    assert attempt.deadline_at <= utcnow() + timedelta(minutes=5)  # the window caps the time limit
    outsider = User(username="x", display_name="外人", role=Role.NEW_HIRE.value, password_hash="x")
    session.add(outsider)
    session.commit()
    with pytest.raises(sittings.ExamError, match="没有分配"):
        exams.start_attempt(session=session, actor=outsider, assignment_id=short)


def test_candidates_never_see_others_attempts_or_unreleased_results(
    session: Session, people: dict[str, User], embedder: Embedder,
) -> None:
    assignment_id = _publish(session, people["trainer"])
    attempt = exams.start_attempt(session=session, actor=people["newhire"], assignment_id=assignment_id)
    with pytest.raises(PermissionDenied):
        exams.open_attempt(session=session, actor=people["agent"], attempt_id=attempt.id or 0)
    with pytest.raises(PermissionDenied):
        answering.save_answer(session=session, actor=people["agent"], attempt_id=attempt.id or 0,
                              slot_id=sittings.questions_of(attempt)[0].slot_id, text="偷改")
    with pytest.raises(PermissionDenied):
        feedback.attempt_feedback(session=session, actor=people["agent"], attempt_id=attempt.id or 0)
    scenario = next(q for q in sittings.questions_of(attempt) if q.kind == papers.SCENARIO)
    answering.save_answer(session=session, actor=people["newhire"], attempt_id=attempt.id or 0,
                          slot_id=scenario.slot_id, text="亲，马上为您安排发货")
    # The approved scripts are the answers: hidden from the candidate until they hand in.
    with pytest.raises(PermissionDenied, match="考试进行中"):
        list_scripts(session=session, actor=people["newhire"])
    with pytest.raises(PermissionDenied, match="考试进行中"):
        lookup_scripts(session=session, actor=people["newhire"], query="发货", embedder=embedder,
                       semantic_weight=0.7)
    assert list_scripts(session=session, actor=people["agent"])  # others may still look up
    submission.submit_attempt(session=session, actor=people["newhire"], attempt_id=attempt.id or 0)
    with pytest.raises(feedback.FeedbackError, match="尚未发布"):
        feedback.attempt_feedback(session=session, actor=people["newhire"], attempt_id=attempt.id or 0)
    assert list_scripts(session=session, actor=people["newhire"])  # after submission: allowed again
    with pytest.raises(PermissionDenied):
        grading_views.paper_results(session=session, actor=people["newhire"], paper_id=1)


def test_scenario_scores_need_review_or_release(
    session: Session, people: dict[str, User], embedder: Embedder,
) -> None:
    assignment_id = _publish(session, people["trainer"], objective=1)
    trainer, newhire, agent = people["trainer"], people["newhire"], people["agent"]
    attempts = {}
    for who, reply in ((newhire, "亲，16点前付款当天发货，最晚48小时内发出哦"), (agent, "不知道")):
        attempt = exams.start_attempt(session=session, actor=who, assignment_id=assignment_id)
        for q in sittings.questions_of(attempt):
            if q.kind == papers.SCENARIO:
                answering.save_answer(session=session, actor=who, attempt_id=attempt.id or 0,
                                      slot_id=q.slot_id, text=reply)
            else:
                answering.save_answer(session=session, actor=who, attempt_id=attempt.id or 0,
                                      slot_id=q.slot_id, choice=_right_choice(session, q))
        submission.submit_attempt(session=session, actor=who, attempt_id=attempt.id or 0)
        attempts[who.username] = attempt
    session.refresh(attempts["newhire"])
    assert attempts["newhire"].released_at is None  # a scenario answer awaits review or release
    scenario_answer = session.exec(select(Answer).where(
        Answer.attempt_id == attempts["newhire"].id, col(Answer.text).contains("48"))).one()
    with pytest.raises(PermissionDenied):
        grading.review_answer(session=session, actor=agent, answer_id=scenario_answer.id or 0,
                              score=1.0, embedder=embedder)
    with pytest.raises(grading.GradingError):
        grading.review_answer(session=session, actor=trainer, answer_id=scenario_answer.id or 0,
                              score=1.5, embedder=embedder)
    grading.review_answer(session=session, actor=trainer, answer_id=scenario_answer.id or 0,
                          score=1.0, embedder=embedder)
    session.refresh(attempts["newhire"])
    session.refresh(scenario_answer)
    assert attempts["newhire"].released_at is not None  # every scenario answer reviewed -> final
    detail = scenario_answer.score_detail or {}
    assert scenario_answer.score == pytest.approx(0.7 * 1.0 + 0.3 * detail["semantic"], abs=1e-3)
    assert attempts["newhire"].score == pytest.approx((1.0 + (scenario_answer.score or 0)) / 2)
    rows = grading_views.paper_results(session=session, actor=trainer, paper_id=1)
    assert {(r.display_name, r.released, r.reviewed, r.to_review) for r in rows} == {
        ("张新人", True, 1, 1), ("李客服", False, 0, 1)}
    released = grading.release_results(session=session, actor=trainer, paper_id=1, embedder=embedder)
    assert released == 1
    session.refresh(attempts["agent"])
    assert attempts["agent"].released_at is not None and attempts["agent"].score is not None
    with pytest.raises(grading.GradingError, match=r"成绩已全部发布（共 2 份）"):
        grading.release_results(session=session, actor=trainer, paper_id=1, embedder=embedder)
    formula = scores.scoring_formula()
    assert "HUASHU_" not in formula and "培训师评分的平均值占 70%" in formula


def test_feedback_key_points_mistakes_and_practice(
    session: Session, people: dict[str, User], embedder: Embedder,
) -> None:
    from scripts_bank.authoring import create_script

    trainer, newhire = people["trainer"], people["newhire"]
    assignment_id = _publish(session, trainer, objective=1)
    question = session.exec(select(MinedQuestion)).one()
    script = create_script(session=session, actor=trainer, question="什么时候发货",
                           answer="亲，16点前付款当天发货，顺丰包邮哦", category="物流配送")
    question.covered_by_script_id = script.id
    session.add(question)
    session.commit()
    attempt = exams.start_attempt(session=session, actor=newhire, assignment_id=assignment_id)
    for q in sittings.questions_of(attempt):
        if q.kind == papers.SCENARIO:
            answering.save_answer(session=session, actor=newhire, attempt_id=attempt.id or 0,
                                  slot_id=q.slot_id, text="当天发货的")
        else:
            wrong = "A" if _right_choice(session, q) != "A" else "B"
            answering.save_answer(session=session, actor=newhire, attempt_id=attempt.id or 0,
                                  slot_id=q.slot_id, choice=wrong)
    submission.submit_attempt(session=session, actor=newhire, attempt_id=attempt.id or 0)
    grading.release_results(session=session, actor=trainer, paper_id=1, embedder=embedder)
    result = feedback.attempt_feedback(session=session, actor=newhire, attempt_id=attempt.id or 0)
    scenario = next(f for f in result.questions if f.question.kind == papers.SCENARIO)
    objective = next(f for f in result.questions if f.question.kind == papers.OBJECTIVE)
    assert scenario.script == "亲，16点前付款当天发货，顺丰包邮哦"
    assert scenario.key_points is not None
    assert "当天" in scenario.key_points.covered and "顺丰" in scenario.key_points.missed
    assert "".join(text for text, _ in scenario.key_points.segments) == scenario.script
    assert objective.score == 0.0 and objective.correct_answer and objective.explanation
    book = feedback.mistakes(session=session, actor=newhire)
    assert {m.question.kind for m in book} >= {papers.OBJECTIVE}
    entry = next(m for m in book if m.question.kind == papers.OBJECTIVE)
    before = session.exec(select(func.count()).select_from(Attempt)).one()
    result_again = feedback.practise(session=session, actor=newhire, key=entry.key,
                                     choice=objective.correct_answer)
    assert result_again.correct
    assert session.exec(select(func.count()).select_from(Attempt)).one() == before
    assert session.exec(select(func.count()).select_from(Certificate)).one() == 0
    with pytest.raises(feedback.FeedbackError):
        feedback.practise(session=session, actor=people["agent"], key=entry.key, choice="A")


def test_key_points_are_content_words_of_the_script() -> None:
    points = feedback.key_points("亲，您好！退货请在7天内申请，运费险会自动理赔。", "7天内申请退货就行")
    assert "退货" in points.covered and "申请" in points.covered
    assert "运费险" in points.missed and "理赔" in points.missed
    assert not {"亲", "您好"} & set(points.covered + points.missed)


def test_release_reports_progress_while_embedding(
    session: Session, people: dict[str, User], embedder: Embedder, tmp_path: Path,
) -> None:
    assignment_id = _publish(session, people["trainer"], objective=0)
    for who, reply in ((people["newhire"], "亲，当天发货"), (people["agent"], "亲，48小时内发出")):
        attempt = exams.start_attempt(session=session, actor=who, assignment_id=assignment_id)
        [question] = sittings.questions_of(attempt)
        answering.save_answer(session=session, actor=who, attempt_id=attempt.id or 0,
                              slot_id=question.slot_id, text=reply)
        submission.submit_attempt(session=session, actor=who, attempt_id=attempt.id or 0)
    cached = Embedder(embedder.encoder, DiskEmbeddingStore(tmp_path / "cache.db"))
    seen: list[float] = []
    assert grading.release_results(session=session, actor=people["trainer"], paper_id=1, embedder=cached,
                                   progress=seen.append) == 2
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


NOISE = {"天无", "需要", "这边", "如果", "客户", "称呼", "的话", "可以", "没有"}


def test_key_points_leave_out_placeholders_and_function_words() -> None:
    script = "{客户称呼}您好，7天无理由退货需要您这边先申请，如果有运费险会自动理赔，订单{订单号}。"
    points = feedback.key_points(script, "7天无理由，申请退货")
    shown = points.covered + points.missed
    assert not NOISE & set(shown) and "订单号" not in shown
    assert {"7天无理由", "退货", "申请"} <= set(points.covered)
    assert {"运费险", "理赔", "订单"} <= set(points.missed)
    assert "".join(text for text, _ in points.segments) == script


def test_key_points_of_every_demo_script_are_content_words() -> None:
    """The points a candidate is shown for each demo script: no stop words, no placeholder pieces."""
    scripts = [json.loads(line)["answer"] for line in DEMO_SCRIPTS.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    banned = NOISE | STOPWORDS | COURTESY | FUNCTION_WORDS
    for script in scripts:
        points = feedback.key_points(script, "")
        shown = points.covered + points.missed
        plain = without_placeholders(script)
        assert len(shown) >= 3, script
        assert not banned & set(shown), (script, banned & set(shown))
        assert all(len(p) >= 2 and p in plain for p in shown), (script, shown)
        assert "".join(text for text, _ in points.segments) == script
        for name in placeholders_in(script):  # a point from inside {…} must also stand outside it
            assert all(p not in name or p in plain for p in shown), (name, shown)


def test_trainer_grants_one_person_a_retake_with_a_fresh_draw(
    session: Session, people: dict[str, User],
) -> None:
    """允许补考: one person's own sitting 2, new random questions, nobody else's exams change."""
    from training.exams.retakes import RetakeError, grant_retake

    trainer, newhire, agent = people["trainer"], people["newhire"], people["agent"]
    paper = papers.create_paper(session=session, actor=trainer, title="上岗综合考试", shuffle=False)
    papers.add_random_slots(session=session, actor=trainer, paper_id=paper.id or 0, kind=papers.OBJECTIVE,
                            count=3)
    cohort = session.exec(select(Cohort)).one()
    paper_delivery.publish_paper(session=session, actor=trainer, paper_id=paper.id or 0,
                                 cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
    [entry] = exams.my_exams(session=session, actor=newhire)
    with pytest.raises(RetakeError, match="还可以参加"):
        grant_retake(session=session, actor=trainer, user_id=newhire.id or 0, paper_id=paper.id or 0)
    first = exams.start_attempt(session=session, actor=newhire, assignment_id=entry.assignment_id)
    for question in sittings.questions_of(first):
        answering.save_answer(session=session, actor=newhire, attempt_id=first.id or 0,
                              slot_id=question.slot_id, choice="Z")
    submission.submit_attempt(session=session, actor=newhire, attempt_id=first.id or 0)
    with pytest.raises(PermissionDenied):
        grant_retake(session=session, actor=agent, user_id=newhire.id or 0, paper_id=paper.id or 0)

    grant = grant_retake(session=session, actor=trainer, user_id=newhire.id or 0, paper_id=paper.id or 0)
    assert grant.sitting == 2 and grant.assignment.user_id == newhire.id
    [log] = session.exec(select(AuditLog).where(AuditLog.action == "retake.grant")).all()
    assert log.actor_id == trainer.id and log.detail == {"user": newhire.id, "paper": paper.id, "number": 2,
                                                         "days": 7}
    with pytest.raises(RetakeError, match="还可以参加"):  # granted once; no second open retake
        grant_retake(session=session, actor=trainer, user_id=newhire.id or 0, paper_id=paper.id or 0)
    assert len(exams.my_exams(session=session, actor=agent)) == 1  # the cohort sees no new card
    cards = exams.my_exams(session=session, actor=newhire)
    retake = next(c for c in cards if c.retake)
    assert retake.state == "可参加" and [c.state for c in cards if not c.retake] == ["已交卷"]
    second = exams.start_attempt(session=session, actor=newhire, assignment_id=retake.assignment_id)
    assert (first.number, second.number) == (1, 2)
    drawn = {q.knowledge_item_id for q in sittings.questions_of(second)}
    assert drawn and not drawn & {q.knowledge_item_id for q in sittings.questions_of(first)}
    rows = grading_views.paper_results(session=session, actor=trainer, paper_id=paper.id or 0)
    assert [r.number for r in rows] == [1, 2]
