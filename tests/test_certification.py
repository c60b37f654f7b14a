"""Certification: programmes, issuing on final results, duty gate, re-certification, trainer views."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from scripts_bank import authoring as scripts
from training.auth.permissions import PermissionDenied
from training.certification import programmes as cert
from training.certification import readouts as views
from training.certification.certificate_page import certificate_html, certificate_view
from training.certification.certificates import evaluate_certificates, valid_certificates
from training.certification.duty import duty_status
from training.certification.programmes import CertificationError
from training.certification.recertification import flag_for_recertification
from training.exams.knowledge import KnowledgeDraft, KnowledgeError, update_item
from training.models import (
    Attempt,
    AuditLog,
    Certificate,
    Certification,
    Cohort,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    KnowledgeItem,
    MinedQuestion,
    Role,
    User,
)
from training.ops.demo.seed import seed_demo

# Today at 12:00 China time (same calendar day in UTC); services called without ``now`` agree.
NOW = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)
DAY = f"{NOW:%Y%m%d}"


@dataclass
class World:
    trainer: User
    agent: User
    newhire: User
    cohort: Cohort


@pytest.fixture
def world(session: Session) -> World:
    seed_demo(session=session)

    def one(role: Role) -> User:
        return session.exec(select(User).where(User.role == role.value)).one()

    cohort = session.exec(select(Cohort)).one()
    return World(one(Role.TRAINER), one(Role.AGENT), one(Role.NEW_HIRE), cohort)


def make_paper(
    session: Session,
    title: str,
    *,
    knowledge_ids: Sequence[int] = (),
    mined_ids: Sequence[int] = (),
    random_objective: int = 0,
    pass_mark: float = 0.8,
) -> ExamPaper:
    paper = ExamPaper(title=title, status="published", pass_mark=pass_mark, published_at=NOW)
    session.add(paper)
    session.flush()
    assert paper.id is not None
    slots = [
        ExamItem(paper_id=paper.id, position=0, kind="objective", knowledge_item_id=k, prompt="知识题")
        for k in knowledge_ids
    ]
    slots += [
        ExamItem(paper_id=paper.id, position=0, kind="scenario", mined_question_id=m, prompt="情景题")
        for m in mined_ids
    ]
    slots += [
        ExamItem(paper_id=paper.id, position=0, kind="random_objective", prompt="随机知识题")
        for _ in range(random_objective)
    ]
    for position, slot in enumerate(slots, start=1):
        slot.position = position
    session.add_all(slots)
    session.commit()
    return paper


def assign(
    session: Session, paper: ExamPaper, *, cohort: Cohort | None = None, user: User | None = None
) -> ExamAssignment:
    assignment = ExamAssignment(
        paper_id=paper.id or 0,
        cohort_id=cohort.id if cohort else None,
        user_id=user.id if user else None,
        opens_at=NOW - timedelta(days=30),
        max_attempts=5,
    )
    session.add(assignment)
    session.commit()
    return assignment


def sit(
    session: Session,
    assignment: ExamAssignment,
    user: User,
    score: float | None,
    *,
    submitted_at: datetime | None = NOW - timedelta(hours=2),
    released: bool = True,
    questions: list[dict[str, Any]] | None = None,
) -> Attempt:
    """One attempt as the exam and grading modules would leave it."""
    number = (
        len(
            session.exec(
                select(Attempt).where(Attempt.assignment_id == assignment.id, Attempt.user_id == user.id)
            ).all()
        )
        + 1
    )
    started = (submitted_at or NOW) - timedelta(minutes=30)
    attempt = Attempt(
        assignment_id=assignment.id or 0,
        user_id=user.id or 0,
        number=number,
        started_at=started,
        deadline_at=started + timedelta(hours=1),
        submitted_at=submitted_at,
        status="submitted" if submitted_at else "in_progress",
        score=score,
        released_at=submitted_at + timedelta(minutes=5) if released and submitted_at else None,
        questions=questions,
    )
    session.add(attempt)
    session.commit()
    return attempt


def programme(
    session: Session, world: World, papers: Sequence[ExamPaper], name: str = "上岗认证", **kwargs: Any
) -> Certification:
    return cert.create_certification(
        session=session, actor=world.trainer, name=name, paper_ids=[p.id or 0 for p in papers], **kwargs
    )


def knowledge_id(session: Session, index: int = 0) -> int:
    return session.exec(select(KnowledgeItem.id).order_by(KnowledgeItem.id)).all()[index] or 0


def certified(session: Session, world: World, **kwargs: Any) -> tuple[Certification, Certificate]:
    """A programme of one paper on the first knowledge item, and the agent's certificate."""
    paper = make_paper(session, "退换货上岗考", knowledge_ids=[knowledge_id(session)])
    prog = programme(session, world, [paper], **kwargs)
    sit(session, assign(session, paper, cohort=world.cohort), world.agent, 0.9)
    issued = evaluate_certificates(session=session, user_id=world.agent.id or 0, now=NOW)
    assert len(issued) == 1
    return prog, issued[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "  "}, "请填写认证名称"),
        ({"paper_ids": []}, "至少选择一份试卷"),
        ({"paper_ids": [9999]}, "试卷不存在"),
        ({"pass_mark": 0.0}, "及格线"),
        ({"pass_mark": 1.2}, "及格线"),
        ({"valid_days": 0}, "有效期"),
        ({"valid_days": 3651}, "有效期"),
        ({"name": "已有认证"}, "已存在"),
    ],
)
def test_programme_validation(session: Session, world: World, kwargs: dict[str, Any], message: str) -> None:
    paper = make_paper(session, "发票考", knowledge_ids=[knowledge_id(session)])
    programme(session, world, [paper], name="已有认证")
    args: dict[str, Any] = {"name": "发票认证", "paper_ids": [paper.id or 0], **kwargs}
    with pytest.raises(CertificationError, match=message):
        cert.create_certification(session=session, actor=world.trainer, **args)
    assert len(cert.list_certifications(session=session, actor=world.agent)) == 1


def test_agents_cannot_create_programmes(session: Session, world: World) -> None:
    paper = make_paper(session, "发票考", knowledge_ids=[knowledge_id(session)])
    with pytest.raises(PermissionDenied):
        cert.create_certification(session=session, actor=world.agent, name="x", paper_ids=[paper.id or 0])
    prog = programme(session, world, [paper, paper], required_for_duty=False, valid_days=30)
    assert cert.certification_papers(session=session, certification_id=prog.id or 0) == [paper.id]
    assert [p.name for p in cert.list_certifications(session=session, actor=world.newhire)] == ["上岗认证"]


def test_issue_requires_every_paper_passed_and_released(session: Session, world: World) -> None:
    first = make_paper(session, "售后考", knowledge_ids=[knowledge_id(session, 0)])
    second = make_paper(session, "物流考", knowledge_ids=[knowledge_id(session, 1)])
    prog = programme(session, world, [first, second], pass_mark=0.8, valid_days=90)
    on_first, on_second = (assign(session, p, cohort=world.cohort) for p in (first, second))
    uid = world.agent.id or 0
    sit(session, on_first, world.agent, 0.8, submitted_at=NOW - timedelta(days=2))
    assert evaluate_certificates(session=session, user_id=uid, now=NOW) == []  # second paper not sat
    sit(session, on_second, world.agent, 0.79)
    assert evaluate_certificates(session=session, user_id=uid, now=NOW) == []  # below the pass mark
    pending = sit(session, on_second, world.agent, 0.95, released=False)
    assert evaluate_certificates(session=session, user_id=uid, now=NOW) == []  # result not final yet
    pending.released_at = NOW - timedelta(minutes=1)
    session.add(pending)
    session.commit()
    assert evaluate_certificates(session=session, user_id=world.newhire.id or 0, now=NOW) == []

    issued = evaluate_certificates(session=session, user_id=uid, now=NOW)
    assert len(issued) == 1
    got = issued[0]
    assert got.certification_id == prog.id and got.attempt_id == pending.id
    assert got.number == f"HS-{DAY}-{got.id:05d}" and re.fullmatch(r"HS-\d{8}-\d{5,}", got.number)
    assert got.issued_at == NOW and got.expires_at == NOW + timedelta(days=90)
    assert session.exec(select(AuditLog).where(AuditLog.action == "certificate.issue")).one()
    assert evaluate_certificates(session=session, user_id=uid, now=NOW + timedelta(days=1)) == []
    assert len(session.exec(select(Certificate)).all()) == 1


def test_expired_certificates_stop_counting(session: Session, world: World) -> None:
    prog, got = certified(session, world, valid_days=10)
    uid = world.agent.id or 0
    later = NOW + timedelta(days=11)
    assert valid_certificates(session=session, user_id=uid, now=NOW + timedelta(days=9)) == [got]
    assert valid_certificates(session=session, user_id=uid, now=later) == []
    status = duty_status(session=session, actor=world.agent, now=later)
    assert not status.on_duty and [p.id for p in status.missing] == [prog.id]
    # The results the expired certificate was built on do not renew it: a new sitting does.
    assert evaluate_certificates(session=session, user_id=uid, now=later) == []
    assignment = session.exec(select(ExamAssignment)).one()
    sit(session, assignment, world.agent, 1.0, submitted_at=later - timedelta(hours=1))
    renewed = evaluate_certificates(session=session, user_id=uid, now=later)
    assert len(renewed) == 1 and renewed[0].expires_at == later + timedelta(days=10)


def test_duty_gate_and_expiry_reminders(session: Session, world: World) -> None:
    assert duty_status(session=session, actor=world.agent, now=NOW).on_duty  # no programme yet
    optional_paper = make_paper(session, "选修", knowledge_ids=[knowledge_id(session, 2)])
    programme(session, world, [optional_paper], name="选修认证", required_for_duty=False)
    prog, got = certified(session, world, valid_days=60)
    status = duty_status(session=session, actor=world.agent, now=NOW)
    assert status.on_duty and status.certificates == [got] and status.missing == []
    assert status.expiring == [] and status.flagged == []
    newhire = duty_status(session=session, actor=world.newhire, now=NOW)
    assert not newhire.on_duty and [p.name for p in newhire.missing] == [prog.name]
    in_29 = duty_status(session=session, actor=world.agent, now=got.expires_at - timedelta(days=29))
    in_31 = duty_status(session=session, actor=world.agent, now=got.expires_at - timedelta(days=31))
    assert in_29.expiring == [got] and in_29.on_duty
    assert in_31.expiring == []


def test_permissions_on_status_certificates_and_views(session: Session, world: World) -> None:
    _, got = certified(session, world)
    other = world.newhire.id or 0
    with pytest.raises(PermissionDenied):
        duty_status(session=session, actor=world.newhire, user_id=world.agent.id)
    with pytest.raises(PermissionDenied):
        certificate_view(session=session, actor=world.newhire, certificate_id=got.id or 0)
    assert not duty_status(session=session, actor=world.newhire, user_id=other).on_duty
    assert duty_status(session=session, actor=world.trainer, user_id=world.agent.id, now=NOW).on_duty
    for reader in (world.agent, world.trainer):
        view = certificate_view(session=session, actor=reader, certificate_id=got.id or 0, now=NOW)
        assert view.number == got.number and view.holder == world.agent.display_name and view.valid
    with pytest.raises(PermissionDenied):
        views.eligibility(session=session, actor=world.agent)
    with pytest.raises(PermissionDenied):
        views.person_history(session=session, actor=world.agent, user_id=other)
    with pytest.raises(PermissionDenied):
        views.cohort_progress(session=session, actor=world.agent, cohort_id=world.cohort.id or 0)


def test_script_revision_flags_holders(session: Session, world: World) -> None:
    script = scripts.create_script(
        session=session,
        actor=world.trainer,
        question="七天无理由退货怎么算",
        answer="亲，签收后七天内可申请",
        category="退换货",
    )
    mined = MinedQuestion(
        question="能七天无理由吗", category="退换货", in_question_bank=True, covered_by_script_id=script.id
    )
    session.add(mined)
    session.commit()
    paper = make_paper(session, "退换货考", mined_ids=[mined.id or 0])
    unrelated = make_paper(session, "发票考", knowledge_ids=[knowledge_id(session)])
    programme(session, world, [paper], name="退换货认证")
    programme(session, world, [unrelated], name="发票认证")
    for p in (paper, unrelated):
        sit(session, assign(session, p, user=world.agent), world.agent, 1.0)
    held = evaluate_certificates(session=session, user_id=world.agent.id or 0)
    assert len(held) == 2

    scripts.revise_script(session=session, actor=world.trainer, script_id=script.id, answer="亲，签收七天内")
    flagged = duty_status(session=session, actor=world.agent).flagged
    assert len(flagged) == 1 and flagged[0].certification_id == held[0].certification_id
    first_flag = flagged[0].recert_flagged_at
    assert flagged[0].recert_reason == "话术「七天无理由退货怎么算」已更新为第 2 版"
    assert duty_status(session=session, actor=world.agent).on_duty  # still valid until expiry

    scripts.revise_script(session=session, actor=world.trainer, script_id=script.id, answer="亲，七天内")
    session.refresh(flagged[0])
    assert flagged[0].recert_flagged_at == first_flag
    assert flagged[0].recert_reason.splitlines() == [
        "话术「七天无理由退货怎么算」已更新为第 2 版",
        "话术「七天无理由退货怎么算」已更新为第 3 版",
    ]


def test_knowledge_update_flags_fixed_items_and_random_draws(session: Session, world: World) -> None:
    fixed_id, drawn_id, untouched_id = (knowledge_id(session, i) for i in range(3))
    fixed = make_paper(session, "固定题卷", knowledge_ids=[fixed_id])
    drawn = make_paper(session, "随机题卷", random_objective=1)
    programme(session, world, [fixed], name="固定认证")
    programme(session, world, [drawn], name="随机认证")
    sit(session, assign(session, fixed, user=world.agent), world.agent, 1.0)
    snapshot = [{"slot_id": 1, "kind": "objective", "mined_question_id": None, "knowledge_item_id": drawn_id}]
    sit(session, assign(session, drawn, user=world.agent), world.agent, 1.0, questions=snapshot)
    fixed_cert, drawn_cert = evaluate_certificates(session=session, user_id=world.agent.id or 0)

    draft = KnowledgeDraft("truefalse", "<b>质保</b>期为两年", [], "对")
    with pytest.raises(KnowledgeError):
        update_item(
            session=session,
            actor=world.trainer,
            item_id=drawn_id,
            draft=KnowledgeDraft("truefalse", "x", [], "也许"),
        )
    with pytest.raises(PermissionDenied):
        update_item(session=session, actor=world.agent, item_id=drawn_id, draft=draft)
    update_item(session=session, actor=world.trainer, item_id=untouched_id, draft=draft)
    assert duty_status(session=session, actor=world.agent).flagged == []

    item = update_item(session=session, actor=world.trainer, item_id=drawn_id, draft=draft)
    assert item.stem == "<b>质保</b>期为两年" and item.answer == "对"
    assert duty_status(session=session, actor=world.agent).flagged == [drawn_cert]
    assert drawn_cert.recert_reason == "知识题「<b>质保</b>期为两年」已修改"
    assert flag_for_recertification(session=session, knowledge_item_id=fixed_id, reason="答案更正") == 1
    assert fixed_cert.recert_flagged_at is not None and fixed_cert.recert_reason == "答案更正"
    assert flag_for_recertification(session=session, knowledge_item_id=fixed_id, reason="答案更正") == 1
    assert fixed_cert.recert_reason == "答案更正"  # no duplicate reason


def test_recertification_needs_a_new_pass_after_the_flag(session: Session, world: World) -> None:
    _, old = certified(session, world)
    uid = world.agent.id or 0
    flagged_at = NOW + timedelta(days=5)
    assert (
        flag_for_recertification(
            session=session, knowledge_item_id=knowledge_id(session), reason="退货政策调整", now=flagged_at
        )
        == 1
    )
    session.commit()
    assignment = session.exec(select(ExamAssignment)).one()
    assert evaluate_certificates(session=session, user_id=uid, now=flagged_at + timedelta(days=1)) == []
    sit(session, assignment, world.agent, 0.5, submitted_at=flagged_at + timedelta(days=1))
    assert evaluate_certificates(session=session, user_id=uid, now=flagged_at + timedelta(days=1)) == []
    sit(session, assignment, world.agent, 0.85, submitted_at=flagged_at + timedelta(days=2))
    later = flagged_at + timedelta(days=3)
    new = evaluate_certificates(session=session, user_id=uid, now=later)
    assert len(new) == 1 and new[0].id != old.id and new[0].recert_flagged_at is None
    assert old.revoked_at == later
    status = duty_status(session=session, actor=world.agent, now=later)
    assert status.on_duty and status.certificates == [new[0]] and status.flagged == []
    assert evaluate_certificates(session=session, user_id=uid, now=later) == []


def test_certificate_page_escapes_user_text(session: Session, world: World) -> None:
    world.agent.display_name = '<script>alert("x")</script>'
    session.add(world.agent)
    session.commit()
    _, got = certified(session, world, product_line="厨房<小电>")
    flag_for_recertification(session=session, knowledge_item_id=knowledge_id(session), reason="<img src=x>")
    page = certificate_html(
        certificate_view(session=session, actor=world.trainer, certificate_id=got.id or 0)
    )
    assert "<script>" not in page and "<img" not in page and "<小电>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "厨房&lt;小电&gt;" in page
    assert "上岗资格证书" in page and got.number in page and f"{NOW:%Y年%m月%d日}" in page
    assert "@page" in page and page.startswith("<!DOCTYPE html>")


def test_cohort_progress_statuses(session: Session, world: World) -> None:
    extra = [
        User(
            username=f"agent{i}",
            display_name=f"客服{i}",
            role=Role.AGENT.value,
            password_hash="x",
            cohort_id=world.cohort.id,
        )
        for i in (2, 3)
    ]
    session.add_all(extra)
    session.commit()
    shared = make_paper(session, "班组卷", knowledge_ids=[knowledge_id(session)], pass_mark=0.6)
    personal = make_paper(session, "补考卷", knowledge_ids=[knowledge_id(session, 1)])
    on_shared = assign(session, shared, cohort=world.cohort)
    on_personal = assign(session, personal, user=world.agent)
    sit(session, on_shared, world.agent, 0.4)
    sit(session, on_shared, world.agent, 0.7)  # passes this paper's own mark of 60%
    sit(session, on_personal, world.agent, None, submitted_at=None)
    sit(session, on_shared, world.newhire, 0.9, released=False)
    sit(session, on_shared, extra[0], 0.5)
    rows = views.cohort_progress(session=session, actor=world.trainer, cohort_id=world.cohort.id or 0)
    got = {(r.display_name, r.paper_title): (r.status, r.best_score, r.attempts_used) for r in rows}
    assert got == {
        (world.agent.display_name, "班组卷"): ("通过", 0.7, 2),
        (world.agent.display_name, "补考卷"): ("作答中", None, 1),
        (world.newhire.display_name, "班组卷"): ("待发布成绩", None, 1),
        ("客服2", "班组卷"): ("未通过", 0.5, 1),
        ("客服3", "班组卷"): ("未开始", None, 0),
    }


def test_trainer_board_and_history(session: Session, world: World) -> None:
    prog, got = certified(session, world, valid_days=20)
    board = {r.username: r for r in views.eligibility(session=session, actor=world.trainer, now=NOW)}
    assert set(board) == {world.agent.username, world.newhire.username}
    assert board["agent"].on_duty and board["agent"].certificate_numbers == [got.number]
    assert board["agent"].earliest_expiry == NOW + timedelta(days=20)
    assert board["agent"].cohort == world.cohort.name and not board["agent"].flagged
    assert not board["newhire"].on_duty and board["newhire"].missing == [prog.name]
    history = views.person_history(session=session, actor=world.trainer, user_id=world.agent.id or 0, now=NOW)
    assert history.user.id == world.agent.id
    assert [(a.paper_title, a.score, a.released) for a in history.attempts] == [("退换货上岗考", 0.9, True)]
    assert [(h.programme, h.valid) for h in history.certificates] == [(prog.name, True)]
    expired = views.person_history(
        session=session, actor=world.trainer, user_id=world.agent.id or 0, now=NOW + timedelta(days=21)
    )
    assert [h.valid for h in expired.certificates] == [False]
