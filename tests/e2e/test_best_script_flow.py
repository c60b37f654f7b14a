"""In a real browser: from a closed exam to an approved script, then an agent finds it by paraphrase.

The trainer opens 逐题评阅, sees every candidate's answer to the question ranked and blind, scores
the top one on the rubric, merges the two good answers into one script with a placeholder and
approves it; an agent types a paraphrase on 话术查询, fills the placeholder and gets the filled text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_world import more_candidates, publish, sit
from sqlmodel import Session, create_engine, select

from e2e.browser import login as sign_in
from e2e.browser import snapper
from training.models import Review, Role, Script, ScriptVersion, User

pytestmark = pytest.mark.e2e

REPLIES = ["亲，16点前付款当天就能发货哦，默认中通快递", "我不知道",
           "亲亲，下午四点前拍下的订单当天发出，您放心"]
SCRIPT = "{客户称呼}您好，16点前付款当天发货，默认中通快递，发出后可在订单详情查看物流哦"


def _closed_exam(db_file: Path) -> None:
    """Three candidates have answered the paper's scenario question and submitted."""
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        admin = session.exec(select(User).where(User.username == "demo_admin")).one()
        paper_id = publish(session, trainer, "发货时效考试", scenario=True, objective=0,
                           prompt="我下午付款今天能发货吗")
        for user, reply in zip(more_candidates(session, admin, 3), REPLIES, strict=True):
            sit(session, user, paper_id, reply=reply)
    engine.dispose()


def test_closed_exam_to_approved_script_to_lookup(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _closed_exam(tmp_path / "e2e.db")
    page = browser_page
    snap = snapper(page, tmp_path)

    sign_in(page, server, "trainer", "trainer-demo-2026")
    page.get_by_role("link", name="逐题评阅").click()
    page.get_by_text("第 1 名").first.wait_for(timeout=180_000)  # first ranking loads the encoder
    assert page.get_by_text("考生0").count() == 0, "answers are shown without their authors"
    page.get_by_role("button", name="保存话术").wait_for()  # the whole page has rendered
    snap("ranked")
    for criterion in ("礼貌称呼（0.2）", "准确解决（0.4）", "主动超预期（0.2）", "合规表达（0.2）"):
        level = page.get_by_role("spinbutton", name=criterion).first  # the top card's rubric
        level.wait_for()
        level.click()
        level.press_sequentially("4")
        level.press("Tab")
        assert level.input_value() == "4"
    page.get_by_role("button", name="保存评分").first.click()
    page.get_by_text("评分已保存。").wait_for()
    snap("reviewed")

    picks = page.get_by_text("纳入最佳话术")
    picks.nth(0).click()
    picks.nth(1).click()
    page.get_by_role("button", name="合并所选回答（2 条）到编辑框").click()
    editor = page.get_by_label("话术（可用占位符 {客户称呼} {订单号} 等）")
    page.wait_for_function(
        "() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('16点前付款'))")
    editor.fill(SCRIPT)
    page.get_by_role("button", name="保存话术").click()
    page.get_by_text("已审定发布到话术库。").wait_for()
    snap("approved")

    page.get_by_role("button", name="退出登录").click()
    sign_in(page, server, "agent", "agent-demo-2026")
    page.get_by_role("link", name="话术查询").click()
    query = page.get_by_label("顾客说了什么？")
    query.fill("今天下单的话今天能发出来吗")
    query.press("Enter")
    page.get_by_label("客户称呼").wait_for(timeout=120_000)
    page.get_by_label("客户称呼").fill("李先生")
    page.get_by_label("客户称呼").press("Enter")
    page.get_by_text("李先生您好，16点前付款当天发货").first.wait_for()
    snap("lookup")

    engine = create_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
    with Session(engine) as session:
        script = session.exec(select(Script).where(Script.question == "我下午付款今天能发货吗")).one()
        version = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
        assert script.status == "approved" and version.answer == SCRIPT
        assert len(version.source_answer_ids or []) == 2
        assert session.exec(select(Review)).one().score == pytest.approx(1.0)
    engine.dispose()
