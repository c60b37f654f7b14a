"""In a real browser: an agent finds an approved script by paraphrase and copies it, placeholders filled.

A trainer has approved a shipping script with two placeholders (through the service layer, as the
review page does at the end of test_trainer_flow). The agent types what a customer said in other
words on 话术查询, gets that script first, fills 客户称呼 and 订单号, and clicks the card's visible
复制 button (no hover needed): the clipboard must hold exactly the filled text. Then the agent asks
about the weather: the page says 没有可靠的匹配话术, shows no card outside the collapsed 可信度低
list, and the agent reports the query as uncovered (issue 17.5).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, create_engine, select

from e2e.browser import Flow, login
from scripts_bank.authoring import create_script
from training.models import LookupLog, Role, User

pytestmark = pytest.mark.e2e

QUESTION = "我下午付款今天能发货吗"
SCRIPT = "{客户称呼}您好，16点前付款当天发货，默认中通快递，订单{订单号}发出后可在订单详情查看物流哦"
PARAPHRASE = "今天下单的话今天能发出来吗"
VALUES = {"客户称呼": "李先生", "订单号": "QH20261123001"}
OFF_TOPIC = "今天天气怎么样"
FILLED = "李先生您好，16点前付款当天发货，默认中通快递，订单QH20261123001发出后可在订单详情查看物流哦"


def _approved_script(db_file: Path) -> int:
    """The trainer approves the shipping script; returns its id."""
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        script = create_script(session=session, actor=trainer, question=QUESTION, answer=SCRIPT,
                               category="物流配送", approve=True)
    engine.dispose()
    return script.id


def test_agent_copies_filled_script_found_by_paraphrase(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script_id = _approved_script(tmp_path / "e2e.db")
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.rstrip("/"))
    flow = Flow(page, tmp_path)

    with flow.step("登录", "home"):
        login(page, server, "agent", "agent-demo-2026")
        page.get_by_text("你好，李客服").wait_for()

    with flow.step("话术查询", "found"):
        page.get_by_role("link", name="话术查询").click()
        query = page.get_by_label("顾客说了什么？")
        query.fill(PARAPHRASE)
        query.press("Enter")
        page.get_by_label("客户称呼", exact=True).wait_for(timeout=180_000)  # first lookup loads the encoder
        assert page.get_by_test_id("stCode").first.inner_text().strip() == SCRIPT, "审定话术没有排在第一位"

    with flow.step("话术查询", "filled"):
        for name, value in VALUES.items():
            box = page.get_by_label(name, exact=True)
            box.fill(value)
            box.press("Enter")
        page.get_by_test_id("stCode").filter(has_text=FILLED).wait_for()
        assert page.get_by_test_id("stCode").first.inner_text().strip() == FILLED, "占位符没有填入第一条话术"

    with flow.step("话术查询", "copied"):
        copy = page.get_by_role("button", name="复制", exact=True).first
        assert copy.is_visible(), "复制按钮要一直可见，不能只在悬停时出现"
        copy.click()
        page.get_by_role("status").filter(has_text="已复制到剪贴板").wait_for()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert copied == FILLED, f"剪贴板内容不对：{copied!r}"
        assert page.get_by_text("综合").count() == 0, "不应显示原始分数"
        assert page.get_by_text("可信度：高").or_(page.get_by_text("可信度：中")).count() > 0

    with flow.step("话术查询", "no-match"):
        query = page.get_by_label("顾客说了什么？")
        query.fill(OFF_TOPIC)
        query.press("Enter")
        page.get_by_text("没有可靠的匹配话术", exact=False).wait_for()
        # The previous answer's code block stays on screen (greyed) until the rerun ends; wait for that.
        shown = page.get_by_test_id("stCode").filter(visible=True)
        try:
            expect(shown).to_have_count(0, timeout=15_000)
        except AssertionError:
            raise AssertionError("不可靠的话术不应直接展示") from None
        page.get_by_role("button", name="上报为未覆盖的问题").click()
        page.get_by_text("已上报为未覆盖的问题", exact=False).wait_for()

    engine = create_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
    with Session(engine) as session:
        agent = session.exec(select(User).where(User.username == "agent")).one()
        log = session.exec(select(LookupLog).where(LookupLog.user_id == agent.id)
                           .order_by(col(LookupLog.id).desc())).first()
        assert log is not None and log.query == OFF_TOPIC
        assert log.matched is False and log.reported_at is not None
        found = session.exec(select(LookupLog).where(LookupLog.user_id == agent.id,
                                                     LookupLog.query == PARAPHRASE)).one()
        assert found.matched is True and (found.hits or [])[0] == script_id
    engine.dispose()
