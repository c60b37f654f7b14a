"""In a real browser: a trainer builds a 4-turn 模拟接待 from the demo chat log and assigns it; a new
hire completes it, reloading once in the middle; the transcript shows four scored turns with
response times; the trainer sees the result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, create_engine, select

from e2e.browser import Flow, login, logout, pick_in_multiselect
from training.chats.importer import import_chat_log
from training.models import DrillRun, DrillTurn, Role, User
from training.ops.demo.constants import DEMO_COHORT

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = ["电饭煲是IH的吗", "内胆涂层安全吗", "能煮粥吗 会不会溢出来", "好 多少天发货"]
REPLIES = ["亲，是的哦，这款是IH电磁加热的，受热更均匀", "内胆是食品级不粘涂层，可以放心使用哦",
           "可以煮粥的亲，有煮粥模式，按水位线加水不会溢出", "亲，16点前付款当天发货，一般2-3天送到"]


def _import_demo_log(db_file: Path) -> None:
    """What a trainer has done before: the demo chat log imported."""
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        raw = (ROOT / "data" / "demo" / "chatlog.tsv").read_bytes()
        import_chat_log(session=session, actor=trainer, raw=raw, file_name="chatlog.tsv")
    engine.dispose()


def test_trainer_builds_drill_new_hire_completes_it(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _import_demo_log(tmp_path / "e2e.db")
    page = browser_page
    flow = Flow(page, tmp_path)

    with flow.step("模拟接待管理", "built"):
        login(page, server, "trainer", "trainer-demo-2026")
        page.get_by_role("link", name="模拟接待管理").click()
        page.get_by_test_id("stSelectbox").filter(has_text="会话（共").click()
        page.keyboard.type("电饭煲是IH")
        page.get_by_role("option", name=re.compile("电饭煲是IH的吗 · 4 轮")).click()
        page.get_by_text("顾客：内胆涂层安全吗").wait_for()
        page.get_by_role("button", name="保存").click()
        page.get_by_text("已保存「电饭煲是IH的吗」（4 轮）").wait_for()

    with flow.step("模拟接待管理", "assigned"):
        page.get_by_role("tab", name="已建的模拟接待").click()
        pick_in_multiselect(page, "分配给班组", DEMO_COHORT)
        page.get_by_role("button", name="分配给班组").click()
        page.get_by_text("已分配给所选班组").wait_for()
        logout(page)

    with flow.step("模拟接待", "started"):
        login(page, server, "newhire", "newhire-demo-2026")
        page.get_by_role("link", name="模拟接待").click()
        page.get_by_role("button", name="开始").click()

    for i, (customer, reply) in enumerate(zip(CUSTOMER, REPLIES, strict=True)):
        with flow.step("模拟接待", f"turn-{i + 1}"):
            page.get_by_text(customer, exact=True).first.wait_for()
            box = page.get_by_role("textbox", name="您的回复")
            box.click()
            box.press_sequentially(reply, delay=25)
            page.get_by_role("button", name="发送").click()
            page.get_by_text(reply, exact=True).first.wait_for(timeout=180_000)
        if i == 1:
            with flow.step("模拟接待", "reloaded"):
                page.reload(wait_until="networkidle")  # back at the same turn, the conversation kept
                page.get_by_text(REPLIES[1], exact=True).first.wait_for()
                page.get_by_text(CUSTOMER[2], exact=True).first.wait_for()
                assert page.get_by_label("用户名").count() == 0

    with flow.step("模拟接待", "transcript"):
        page.get_by_text("接待记录：电饭煲是IH的吗").wait_for(timeout=300_000)  # scoring loads the encoder
        expect(page.get_by_text(re.compile("回复用时 \\d+ 秒（目标"))).to_have_count(4, timeout=60_000)
        page.get_by_text("第 4 轮", exact=False).first.wait_for()
        logout(page)

    with flow.step("模拟接待管理", "results"):
        login(page, server, "trainer", "trainer-demo-2026")
        page.get_by_role("link", name="模拟接待管理").click()
        page.get_by_role("tab", name="已建的模拟接待").click()
        page.get_by_text("最慢的轮次").first.wait_for()

    engine = create_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
    with Session(engine) as session:
        run = session.exec(select(DrillRun)).one()
        turns = session.exec(select(DrillTurn).where(DrillTurn.run_id == run.id)).all()
        assert run.finished_at is not None and len(turns) == 4
        assert all(t.score is not None and t.response_seconds is not None for t in turns)
    engine.dispose()
