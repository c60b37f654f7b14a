"""In a real browser: a new hire passes the gate exam (a refresh mid-typing keeps the login, the exam
and the text), the trainer releases results, and the new hire sees score, feedback and certificate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session, col, create_engine, select

from e2e.browser import login as sign_in
from e2e.browser import logout, snapper
from scripts_bank.service import list_scripts
from training.certification.programmes import create_certification
from training.exams import delivery as paper_delivery
from training.exams import papers
from training.models import Attempt, Certificate, Cohort, KnowledgeItem, MinedQuestion, Role, User, utcnow

pytestmark = pytest.mark.e2e

REPLY = "亲，16点前付款当天就能发货哦，默认中通快递"


def _prepare(db_file: Path) -> list[str]:
    """What a trainer has done before: a published paper and a 上岗认证 programme."""
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        scripts = list_scripts(session=session, actor=trainer)
        script = next(s for s in scripts if "发货" in s.question)
        question = MinedQuestion(question="我下午付款今天能发货吗", category="物流配送",
                                 in_question_bank=True, covered_by_script_id=script.id,
                                 context=[{"role": "customer", "text": "在吗"},
                                          {"role": "agent", "text": "在的亲，请问有什么可以帮您？"}])
        session.add(question)
        session.commit()
        items = session.exec(select(KnowledgeItem).where(KnowledgeItem.kind == "single")
                             .order_by(col(KnowledgeItem.id))).all()[:2]
        paper = papers.create_paper(session=session, actor=trainer, title="新人上岗考试", shuffle=False,
                                    pass_mark=0.6, time_limit_minutes=30)
        papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                             mined_question_ids=[question.id or 0],
                             knowledge_item_ids=[i.id or 0 for i in items])
        cohort = session.exec(select(Cohort)).one()
        paper_delivery.publish_paper(session=session, actor=trainer, paper_id=paper.id or 0,
                                     cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
        create_certification(session=session, actor=trainer, name="上岗认证", paper_ids=[paper.id or 0],
                             pass_mark=0.6, valid_days=180)
        right = [next(o for o in (i.options or []) if o.startswith(i.answer)) for i in items]
    engine.dispose()
    return right


def test_new_hire_exam_to_certificate(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    right_options = _prepare(tmp_path / "e2e.db")
    page = browser_page
    snap = snapper(page, tmp_path)

    def login(username: str, password: str) -> None:
        sign_in(page, server, username, password)

    login("newhire", "newhire-demo-2026")
    page.get_by_text("上岗前须取得：上岗认证").first.wait_for()
    snap("gate")
    page.get_by_role("button", name="开始考试").click()
    box = page.get_by_role("textbox", name="你的回复")
    box.wait_for()
    box.click()
    box.press_sequentially(REPLY[:8], delay=60)  # typing, the cursor stays in the box
    page.get_by_text("已自动保存").first.wait_for()  # saved a moment after the typing stopped
    box.press_sequentially(REPLY[8:], delay=60)
    page.wait_for_timeout(3000)
    assert page.evaluate("document.activeElement && document.activeElement.tagName") == "TEXTAREA"
    snap("answered")

    page.reload(wait_until="networkidle")  # still logged in, back in the exam, nothing lost
    page.get_by_role("textbox", name="你的回复").wait_for()
    assert page.get_by_role("textbox", name="你的回复").input_value() == REPLY
    assert page.get_by_label("用户名").count() == 0
    snap("resumed")
    for number, option in enumerate(right_options, start=2):  # the paper is not shuffled
        page.get_by_role("button", name="下一题").click()
        page.get_by_text(f"第 {number} 题", exact=True).wait_for()
        page.get_by_text(option, exact=True).click()
        page.get_by_role("button", name=f"{number}✓").wait_for()  # saved: the navigator ticks it
    page.get_by_text("确认交卷").click()
    page.get_by_role("button", name="交卷", exact=True).click()
    page.get_by_text("试卷已提交").first.wait_for()
    snap("submitted")

    logout(page)  # wait for the login form: navigating away at once can cut the logout run short
    login("trainer", "trainer-demo-2026")
    page.get_by_role("link", name="考试与认证").click()
    page.get_by_role("button", name="发布成绩").click()
    page.get_by_role("button", name=re.compile("^确认发布 1 份成绩")).click()  # it asks first
    page.get_by_text(re.compile("已发布 1 份成绩")).first.wait_for(timeout=180_000)
    snap("released")

    logout(page)  # wait for the login form: navigating away at once can cut the logout run short
    login("newhire", "newhire-demo-2026")
    page.get_by_text("你好，张新人").wait_for()  # certified: the gate is gone, home page again
    page.get_by_role("link", name="我的考试").click()
    page.get_by_role("button", name="查看成绩").click()
    page.get_by_text("通过", exact=True).first.wait_for()
    page.get_by_text("审定话术").first.wait_for()
    page.get_by_text("已覆盖要点").first.wait_for()
    snap("feedback")
    page.get_by_role("button", name="返回我的考试").click()
    page.get_by_role("button", name="查看证书").click()
    page.get_by_text("上岗资格证书").first.wait_for()
    snap("certificate")

    engine = create_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
    with Session(engine) as session:
        attempt = session.exec(select(Attempt)).one()
        certificate = session.exec(select(Certificate)).one()
        assert attempt.released_at is not None and (attempt.score or 0) >= 0.6
        assert page.get_by_text(certificate.number).count() >= 1
    engine.dispose()
