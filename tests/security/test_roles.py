"""Every role x every service operation that matters: allowed or denied at the service layer.

The calls go to the real services on a real migrated database (SQLite, or PostgreSQL when
HUASHU_TEST_DATABASE_URL is set). A denied call must raise PermissionDenied and change no row.
One world is built per module (seeding costs seconds); every operation brings its own fresh
target, so the order of the cases does not matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from exam_world import demo_people, more_candidates, publish, sit
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from scripts_bank import authoring, service
from security.world import database, fingerprint
from training.auth import accounts, audit
from training.auth.permissions import PermissionDenied
from training.exams import attempts as exams
from training.exams import delivery as paper_delivery
from training.exams import feedback, grading, grading_views, knowledge, papers, review_board, submission
from training.models import Answer, Role, User
from training.nlp.embeddings import Embedder

pytestmark = pytest.mark.db
STAFF = {"admin", "trainer"}
ACTIVE = {"admin", "trainer", "agent", "new_hire"}
ADMIN = {"admin"}
ACTORS = ["admin", "trainer", "agent", "new_hire", "anonymous", "deactivated"]


@dataclass
class World:
    """The demo people, a submitted attempt to read and review, and a paper open for sitting."""

    people: dict[str, User | None]
    paper_id: int
    attempt_id: int
    answer_id: int
    open_paper_id: int
    retake_paper_id: int
    next_paper_id: int
    made: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Operation:
    """One service call: who may make it, and whether an allowed call writes rows."""

    allowed: set[str]
    run: Callable[[Session, World, User | None], Any]
    writes: bool = False
    prepare: Callable[[Session, World, str], Any] | None = None
    cleanup: Callable[[Session, World, str], None] | None = None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, World]]:
    with database(tmp_path_factory.mktemp("roles")) as engine, Session(engine, expire_on_commit=False) as s:
        demo = demo_people(s)
        admin = s.exec(select(User).where(User.role == Role.ADMIN.value)).one()
        candidate, disabled = more_candidates(s, admin, 2)
        disabled.role, disabled.is_active = Role.ADMIN.value, False  # a former admin, switched off
        s.add(disabled)
        s.commit()
        paper_id = publish(s, demo.trainer, "角色矩阵试卷", scenario=True, objective=2)
        attempt_id = sit(s, candidate, paper_id, reply="亲，付款后48小时内发货哦")
        answer = s.exec(select(Answer).where(Answer.attempt_id == attempt_id, Answer.text != "")).first()
        assert answer is not None and answer.id is not None
        open_paper_id = publish(s, demo.trainer, "考试中试卷", scenario=False, objective=2)
        retake_paper_id = publish(s, demo.trainer, "已考试卷", scenario=False, objective=2)
        next_paper_id = publish(s, demo.trainer, "下一场考试", scenario=False, objective=2)
        people: dict[str, User | None] = {
            "admin": admin, "trainer": demo.trainer, "agent": demo.agent, "new_hire": demo.newhire,
            "anonymous": None, "deactivated": disabled,
        }
        yield engine, World(people, paper_id, attempt_id, answer.id, open_paper_id, retake_paper_id,
                            next_paper_id)


def _draft(s: Session, w: World, _: str) -> tuple[int, int]:
    view = authoring.create_script(session=s, actor=w.people["trainer"], question="能开发票吗",
                                   answer="可以的亲，下单时填写抬头即可", category="发票", approve=False)
    return view.id, view.version


def _approved(s: Session, w: World, _: str) -> int:
    return authoring.create_script(session=s, actor=w.people["trainer"], question="包邮吗",
                                   answer="亲，满99元包邮哦", category="物流配送").id


def _someone(s: Session, w: World, role: str) -> int:
    user = accounts.create_user(session=s, actor=w.people["admin"], username=f"target_{role}_{len(w.made)}",
                                display_name="目标", role="agent", password="target-pass-1")
    w.made.append(user.id or 0)
    return user.id or 0


def _sit_down(s: Session, w: World, role: str) -> None:
    """Candidates start the open paper, so the call is made mid-exam."""
    actor = w.people[role]
    if role in {"agent", "new_hire"} and actor is not None:
        entry = next(e for e in exams.my_exams(session=s, actor=actor) if e.paper_id == w.open_paper_id)
        exams.start_attempt(session=s, actor=actor, assignment_id=entry.assignment_id)


def _stand_up(s: Session, w: World, role: str) -> None:
    actor = w.people[role]
    if role in {"agent", "new_hire"} and actor is not None:
        for entry in exams.my_exams(session=s, actor=actor):
            if entry.paper_id == w.open_paper_id and entry.open_attempt_id:
                submission.submit_attempt(session=s, actor=actor, attempt_id=entry.open_attempt_id)


NO_ENCODER = cast(Embedder, None)  # reviewing without releasing needs no encoder; a use would fail

OPERATIONS: dict[str, Operation] = {
    # Papers and their answer keys
    "read_paper": Operation(STAFF, lambda s, w, a: papers.paper_items(
        session=s, actor=a, paper_id=w.paper_id)),
    "preview_paper": Operation(STAFF, lambda s, w, a: paper_delivery.preview_paper(
        session=s, actor=a, paper_id=w.paper_id)),
    "read_answer_keys": Operation(STAFF, lambda s, w, a: knowledge.list_items(session=s, actor=a)),
    "export_paper": Operation(STAFF, lambda s, w, a: paper_delivery.export_paper_xlsx(
        session=s, actor=a, paper_id=w.paper_id), writes=True),
    # Candidates' answers and results
    "read_results": Operation(STAFF, lambda s, w, a: grading_views.paper_results(
        session=s, actor=a, paper_id=w.paper_id)),
    "read_answers": Operation(STAFF, lambda s, w, a: review_board.paper_questions(
        session=s, actor=a, paper_id=w.paper_id)),
    "read_review_targets": Operation(STAFF, lambda s, w, a: grading_views.review_targets(
        session=s, actor=a, attempt_id=w.attempt_id)),
    "read_others_feedback": Operation(STAFF, lambda s, w, a: feedback.attempt_feedback(
        session=s, actor=a, attempt_id=w.attempt_id)),
    "review_answer": Operation(STAFF, lambda s, w, a: grading.review_answer(
        session=s, actor=a, answer_id=w.answer_id, score=0.8, embedder=NO_ENCODER, finalize=False),
        writes=True),
    # The script bank
    "read_scripts": Operation(ACTIVE, lambda s, w, a: service.list_scripts(session=s, actor=a)),
    "read_scripts_during_exam": Operation(STAFF, lambda s, w, a: service.facets(session=s, actor=a),
                                          prepare=_sit_down, cleanup=_stand_up),
    "create_script": Operation(STAFF, lambda s, w, a: authoring.create_script(
        session=s, actor=a, question="退货运费谁出", answer="亲，质量问题由我们承担运费", category="退换货"),
        writes=True),
    "edit_script": Operation(STAFF, lambda s, w, a: authoring.propose_revision(
        session=s, actor=a, script_id=w.made[-1], answer="亲，全场满99元包邮哦"), writes=True,
        prepare=lambda s, w, r: w.made.append(_approved(s, w, r))),
    "approve_script": Operation(STAFF, lambda s, w, a: authoring.approve_version(
        session=s, actor=a, script_id=w.made[-2], version=w.made[-1]), writes=True,
        prepare=lambda s, w, r: w.made.extend(_draft(s, w, r))),
    "export_scripts": Operation(STAFF, lambda s, w, a: authoring.export_scripts(session=s, actor=a),
                                writes=True),
    # Users and roles
    "list_users": Operation(STAFF, lambda s, w, a: accounts.list_users(session=s, actor=a)),
    "create_user": Operation(ADMIN, lambda s, w, a: accounts.create_user(
        session=s, actor=a, username=f"made_by_{len(w.made)}", display_name="新同事", role="agent",
        password="fresh-pass-1"), writes=True, prepare=lambda s, w, r: w.made.append(0)),
    "set_role": Operation(ADMIN, lambda s, w, a: accounts.set_role(
        session=s, actor=a, user_id=w.made[-1], role="trainer"), writes=True, prepare=_someone),
    "reset_password": Operation(ADMIN, lambda s, w, a: accounts.reset_password(
        session=s, actor=a, user_id=w.made[-1]), writes=True, prepare=_someone),
    "disable_user": Operation(ADMIN, lambda s, w, a: accounts.set_user_active(
        session=s, actor=a, user_id=w.made[-1], active=False), writes=True, prepare=_someone),
    "create_cohort": Operation(ADMIN, lambda s, w, a: accounts.create_cohort(
        session=s, actor=a, name=f"班组{len(w.made)}"), writes=True,
        prepare=lambda s, w, r: w.made.append(0)),
    # The audit log
    "read_audit_log": Operation(ADMIN, lambda s, w, a: audit.read_log(session=s, actor=a)),
    "export_audit_log": Operation(ADMIN, lambda s, w, a: audit.export_log(session=s, actor=a), writes=True),
}

CASES = [(actor, name, actor in op.allowed) for name, op in OPERATIONS.items() for actor in ACTORS]


@pytest.mark.parametrize(("actor", "operation", "allowed"), CASES,
                         ids=[f"{a}-{o}-{'allowed' if ok else 'denied'}" for a, o, ok in CASES])
def test_role_matrix(world: tuple[Engine, World], actor: str, operation: str, allowed: bool) -> None:
    engine, w = world
    op = OPERATIONS[operation]
    with Session(engine, expire_on_commit=False) as s:
        if op.prepare is not None:
            op.prepare(s, w, actor)
        person = w.people[actor]
        if person is not None:
            person = s.get(User, person.id)  # fresh from this session, as a page run would read it
        before = fingerprint(engine)
        try:
            if allowed:
                result = op.run(s, w, person)
                assert result is not None
                if op.writes:
                    assert fingerprint(engine) != before, f"{operation} by {actor} changed nothing"
            else:
                with pytest.raises(PermissionDenied):
                    op.run(s, w, person)
                s.rollback()
                assert fingerprint(engine) == before, f"denied {operation} by {actor} changed rows"
        finally:
            s.rollback()
            if op.cleanup is not None:
                op.cleanup(s, w, actor)


def test_matrix_covers_every_role_and_both_outcomes() -> None:
    assert {a for a, _, _ in CASES} == set(ACTORS)
    assert len(CASES) == len(ACTORS) * len(OPERATIONS)
    for name, op in OPERATIONS.items():
        assert op.allowed and op.allowed != set(ACTORS), f"{name} must be denied to someone"


def test_candidate_cannot_read_earlier_answer_keys_during_a_retake(world: tuple[Engine, World]) -> None:
    """Released feedback shows answer keys and scripts: hidden while the candidate sits another exam."""
    engine, w = world
    with Session(engine, expire_on_commit=False) as s:
        agent = s.get(User, (w.people["agent"] or User()).id)
        assert agent is not None
        first = sit(s, agent, w.retake_paper_id)
        assert feedback.attempt_feedback(session=s, actor=agent, attempt_id=first).questions
        entry = next(e for e in exams.my_exams(session=s, actor=agent) if e.paper_id == w.next_paper_id)
        sitting = exams.start_attempt(session=s, actor=agent, assignment_id=entry.assignment_id)
        try:
            before = fingerprint(engine)
            with pytest.raises(PermissionDenied, match="考试进行中"):
                feedback.attempt_feedback(session=s, actor=agent, attempt_id=first)
            key = next(iter(m.key for m in feedback.mistakes(session=s, actor=agent)), "k0")
            with pytest.raises(PermissionDenied, match="考试进行中"):
                feedback.practise(session=s, actor=agent, key=key, choice="A")
            with pytest.raises(PermissionDenied, match="考试进行中"):
                service.list_scripts(session=s, actor=agent)
            s.rollback()
            assert fingerprint(engine) == before
        finally:
            submission.submit_attempt(session=s, actor=agent, attempt_id=sitting.id or 0)
        assert feedback.attempt_feedback(session=s, actor=agent, attempt_id=first).questions
