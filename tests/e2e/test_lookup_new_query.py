"""In a real browser (issue 17.6): one customer's order number never reaches the next one's script.

The agent looks up one customer's question and types the 订单号 into its placeholder box; then a
new customer asks something else. The new query's placeholder boxes must be empty and no script
on the page may carry the previous order number.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, create_engine, select

from e2e.browser import Flow, login
from scripts_bank.authoring import create_script
from training.models import Role, User

pytestmark = pytest.mark.e2e

SCRIPTS = {
    "快递到哪了，怎么还没到": "{客户称呼}您好，您的订单{订单号}正在派送中，请耐心等待",
    "订单能改地址吗": "亲，订单{订单号}还没发货的话可以修改地址哦",
}
ORDER = "QH20261123001"


def _approved_scripts(db_file: Path) -> None:
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        for question, answer in SCRIPTS.items():
            create_script(session=session, actor=trainer, question=question, answer=answer,
                          category="物流配送", approve=True)
    engine.dispose()


def _ask(page, text: str) -> None:  # type: ignore[no-untyped-def]
    query = page.get_by_label("顾客说了什么？")
    query.fill(text)
    query.press("Enter")


def test_placeholders_are_empty_for_the_next_customer(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _approved_scripts(tmp_path / "e2e.db")
    page = browser_page
    flow = Flow(page, tmp_path)

    with flow.step("登录", "home"):
        login(page, server, "agent", "agent-demo-2026")
        page.get_by_text("你好，李客服").wait_for()

    with flow.step("话术查询", "first-customer"):
        page.get_by_role("link", name="话术查询").click()
        _ask(page, "我的包裹怎么还没送到")
        box = page.get_by_label("订单号", exact=True)
        box.wait_for(timeout=180_000)  # the first lookup loads the encoder
        box.fill(ORDER)
        box.press("Enter")
        page.get_by_text(ORDER).first.wait_for()  # filled into the script shown

    with flow.step("话术查询", "next-customer"):
        _ask(page, "下单后地址写错了能改吗")
        page.get_by_text("订单{订单号}还没发货").first.wait_for(timeout=60_000)
        boxes = page.get_by_label("订单号", exact=True)
        expect(boxes).to_have_count(1, timeout=60_000)  # the last query's box is gone once the run ends
        expect(boxes).to_have_value("")
        assert page.get_by_text(ORDER).count() == 0, "上一位顾客的订单号出现在了新查询的话术里"
