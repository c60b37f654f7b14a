"""In a real browser (issue 17.1): the best-script composer saves under the question selected.

A paper holds two customer questions of different categories, answered by three candidates. The
trainer opens 逐题评阅, switches the 题目 box from the first question to the second, merges an
answer and approves it: the script must be filed under the second question and its category,
not the first one the composer showed before the switch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_world import more_candidates, sit
from playwright.sync_api import expect
from sqlmodel import Session, col, create_engine, select

from e2e.browser import Flow, login
from training.exams import delivery as paper_delivery
from training.exams import papers
from training.models import Cohort, MinedQuestion, Script, User, utcnow

pytestmark = pytest.mark.e2e

FIRST, SECOND = ("我看了 没有", "物流配送"), ("运费谁出", "退换货")
REPLY = "亲，七天无理由退货的运费由买家承担，质量问题的运费由我们承担哦"
DRAFT_LABEL = "话术（可用占位符 {客户称呼} {订单号} 等）"


def _answered_paper(db_file: Path) -> int:
    """The two-question paper, published and answered; returns the second question's id."""
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        admin = session.exec(select(User).where(User.username == "demo_admin")).one()
        trainer = session.exec(select(User).where(User.username == "trainer")).one()
        questions = [MinedQuestion(question=q, category=c, in_question_bank=True) for q, c in (FIRST, SECOND)]
        session.add_all(questions)
        session.commit()
        paper = papers.create_paper(session=session, actor=trainer, title="两题考试", shuffle=False,
                                    pass_mark=0.5)
        papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                             mined_question_ids=[q.id or 0 for q in questions])
        cohort = session.exec(select(Cohort)).first()
        assert cohort is not None
        paper_delivery.publish_paper(session=session, actor=trainer, paper_id=paper.id or 0,
                                     cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
        for user in more_candidates(session, admin, 2):
            sit(session, user, paper.id or 0, reply=REPLY)
        second = questions[1].id or 0
    engine.dispose()
    return second


def test_script_is_saved_under_the_question_switched_to(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db_file = tmp_path / "e2e.db"
    second_id = _answered_paper(db_file)
    page = browser_page
    flow = Flow(page, tmp_path)

    with flow.step("登录", "home"):
        login(page, server, "trainer", "trainer-demo-2026")
        page.get_by_text("你好，").first.wait_for()

    with flow.step("逐题评阅", "first-question"):
        page.get_by_role("link", name="逐题评阅").click()
        page.get_by_role("button", name="保存话术").wait_for(timeout=300_000)  # ranking loads the encoder
        expect(page.get_by_label("顾客问题", exact=True)).to_have_value(FIRST[0])

    with flow.step("逐题评阅", "switched"):
        page.get_by_test_id("stSelectbox").filter(has_text="题目").click()
        page.get_by_role("option", name=f"{SECOND[0]}（已评 0/2）").click()
        page.locator(f'input[aria-label="顾客问题"][value="{SECOND[0]}"]').wait_for(timeout=120_000)
        question = page.get_by_label("顾客问题", exact=True)
        expect(question).to_have_count(1, timeout=60_000)  # the first question's box goes when the run ends
        expect(question).to_have_value(SECOND[0])
        page.get_by_role("button", name="保存话术").wait_for()

    with flow.step("逐题评阅", "approved"):
        page.get_by_text("纳入最佳话术").first.click()
        page.get_by_role("button", name="合并所选回答（1 条）到编辑框").click()
        editor = page.get_by_label(DRAFT_LABEL)
        expect(editor).to_have_value(REPLY)
        page.get_by_role("button", name="保存话术").click()
        page.get_by_text(f"已审定发布到话术库：「{SECOND[0]}」（{SECOND[1]}）。").wait_for()

    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine) as session:
        script = session.exec(select(Script).where(col(Script.mined_question_id).is_not(None))).one()
        assert (script.question, script.category, script.mined_question_id) == (*SECOND, second_id)
    engine.dispose()
