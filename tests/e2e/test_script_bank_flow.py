"""In a real browser: a 话术库 panel stays open through its actions, and 停用 asks first.

What only a browser shows: a panel (st.expander) the trainer opened keeps open when saving a new
version changes its label (v1 → v2), and 停用这条话术 asks for a confirmation naming the script
before the script leaves the list.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, create_engine, select

from e2e.browser import Flow, login
from scripts_bank.authoring import create_script
from training.models import Role, Script, User

pytestmark = pytest.mark.e2e

QUESTION = "破壁机可以打冰块吗"
ANSWER = "亲，可以的，加少量水一起打效果更好哦"
REVISED = "亲，可以打冰块，建议加少量水并用脉冲档，每次不超过30秒哦"


def _script(db_file: Path) -> int:
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        script = create_script(session=session, actor=trainer, question=QUESTION, answer=ANSWER,
                               category="售前咨询", approve=True)
    engine.dispose()
    return script.id


def _status(db_file: Path, script_id: int) -> str:
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine) as session:
        script = session.get(Script, script_id)
        assert script is not None
        status = script.status
    engine.dispose()
    return status


def test_panel_stays_open_and_archiving_asks_first(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db_file = tmp_path / "e2e.db"
    script_id = _script(db_file)
    page = browser_page
    flow = Flow(page, tmp_path)

    with flow.step("登录", "home"):
        login(page, server, "trainer", "trainer-demo-2026")
        page.get_by_text("你好，").first.wait_for()

    with flow.step("话术库", "opened"):
        page.get_by_role("link", name="话术库").click()
        panel = page.get_by_test_id("stExpander").filter(has_text=QUESTION)
        panel.get_by_text(QUESTION).first.click()
        panel.get_by_role("button", name="保存新版本").wait_for()

    with flow.step("话术库", "revised"):
        text = panel.get_by_label("修改话术（保存为新版本）")
        text.fill(REVISED)
        panel.get_by_role("button", name="保存新版本").click()
        page.get_by_text("第 2 版已审定发布。").wait_for()
        panel = page.get_by_test_id("stExpander").filter(has_text=QUESTION)
        panel.get_by_text("（v2）").first.wait_for()
        assert panel.get_by_role("button", name="保存新版本").is_visible(), "保存后面板被收起了"

    with flow.step("话术库", "asked"):
        panel.get_by_role("button", name="停用这条话术").click()
        page.get_by_text(f"确认停用「{QUESTION}」").first.wait_for()
        assert _status(db_file, script_id) == "approved", "确认之前话术就被停用了"

    with flow.step("话术库", "archived"):
        page.get_by_role("button", name=f"确认停用「{QUESTION}」").click()
        page.get_by_text(f"已停用话术「{QUESTION}」").wait_for()
        # The run that drew the message may still be replacing the old list: wait for it.
        expect(page.get_by_test_id("stExpander").filter(has_text=QUESTION)).to_have_count(0, timeout=15_000)
        assert _status(db_file, script_id) == "archived"
