"""AppTest: defects found walking every role through its pages (issue 16): safe defaults, forms
that empty in the browser after a save, nothing recorded for an empty answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from training.analytics.learner import PRACTICE_ACTION
from training.core.db import get_engine
from training.models import AuditLog, Cohort, Role, User
from training.ops.demo.history import seed_demo_history
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _user_id(role: Role) -> int:
    with Session(get_engine()) as session:
        found = session.exec(select(User).where(User.role == role.value)).first()
        assert found is not None and found.id is not None
        return found.id


@pytest.fixture
def demo_db(db_url: str) -> str:
    with Session(get_engine()) as session:
        seed_demo(session=session)
    return db_url


def _page(role: Role, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = _user_id(role)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _cohorts() -> dict[int, int | None]:
    with Session(get_engine()) as session:
        return {u.id or 0: u.cohort_id for u in session.exec(select(User)).all()}


def test_cohort_members_box_chooses_nobody_until_the_admin_does(demo_db: str) -> None:
    """调整成员: 保存 with the boxes untouched moved the first account (admin) out of or into a cohort."""
    before = _cohorts()
    at = _page(Role.ADMIN, "pages/admin_cohorts.py")
    assert at.selectbox(key="cohort_user").value is None
    assert at.selectbox(key="cohort_target").value is None
    at.button(key="cohort_save").click().run()
    assert [e.value for e in at.error] == ["请先选择用户和要调入的班组。"]
    assert _cohorts() == before, "nothing chosen, nothing moved"

    agent = _user_id(Role.AGENT)
    at.selectbox(key="cohort_user").select(agent).run()
    at.button(key="cohort_save").click().run()
    assert at.error and _cohorts() == before, "a person but no cohort yet"
    at.selectbox(key="cohort_target").select(0).run()  # the explicit 移出班组 choice
    at.button(key="cohort_save").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.endswith("移出班组。")
    assert _cohorts()[agent] is None
    with Session(get_engine()) as session:
        cohort = session.exec(select(Cohort)).first()
        assert cohort is not None
    at.selectbox(key="cohort_target").select(cohort.id).run()
    at.button(key="cohort_save").click().run()
    assert _cohorts()[agent] == cohort.id
    assert at.success[0].value.endswith(f"调入「{cohort.name}」。")


def _sent_empty(at: AppTest, key: str) -> bool:
    """The page tells the browser to show an empty box (a key only dropped on the server is not sent)."""
    box = at.text_input(key=key) if key in [w.key for w in at.text_input] else at.text_area(key=key)
    proto = box.proto
    return bool(proto.set_value) and proto.value == ""


def test_a_saved_user_form_is_emptied_in_the_browser_too(demo_db: str) -> None:
    """用户管理 新建用户: after 创建 the browser still showed the username, name and password, and a
    second 创建 said 用户名「…」已存在."""
    at = _page(Role.ADMIN, "pages/admin_users.py")
    at.text_input(key="new_username").input("zoulang")
    at.text_input(key="new_display_name").input("走廊")
    at.selectbox(key="new_role").select("trainer")
    at.text_input(key="new_password").input("zoulang-2026x")
    next(b for b in at.button if b.label == "创建").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("已创建用户 zoulang")
    assert all(_sent_empty(at, key) for key in ("new_username", "new_display_name", "new_password"))
    role = at.selectbox(key="new_role")
    assert role.value == "agent" and role.proto.set_value, "back to 客服 on the screen as well"
    assert not [w for w in at.warning if "default value" in w.value], "no English widget warning"


def test_a_saved_cohort_form_is_emptied_in_the_browser_too(demo_db: str) -> None:
    at = _page(Role.ADMIN, "pages/admin_cohorts.py")
    at.text_input(key="cohort_name").input("十二月班")
    at.text_input(key="cohort_description").input("十二月入职")
    next(b for b in at.button if b.label == "创建").click().run()
    assert at.success and _sent_empty(at, "cohort_name") and _sent_empty(at, "cohort_description")


def test_an_empty_new_user_form_asks_for_a_username(demo_db: str) -> None:
    """创建 on an empty form said 用户名只能包含字母、数字…, as if the name had bad characters."""
    at = _page(Role.ADMIN, "pages/admin_users.py")
    next(b for b in at.button if b.label == "创建").click().run()
    assert [e.value for e in at.error] == ["请填写用户名。"]


def test_practice_without_an_answer_is_asked_for_and_not_recorded(db_url: str) -> None:
    """错题本: 提交练习 with nothing chosen said 回答错误 and counted as a practice in 学习进度."""
    with Session(get_engine()) as session:
        seed_demo(session=session)
        seed_demo_history(session=session)
    at = _page(Role.AGENT, "pages/mistakes.py")

    def practices() -> int:
        with Session(get_engine()) as session:
            return len(session.exec(select(AuditLog).where(AuditLog.action == PRACTICE_ACTION)).all())

    before = practices()
    assert at.radio, "the first 错题本 entry of the demo agent is a knowledge question"
    next(b for b in at.button if b.label == "提交练习").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["请先选择答案。"]
    assert not [s for s in at.success if "回答" in s.value]
    assert practices() == before
    at.radio[0].set_value(at.radio[0].options[0])
    next(b for b in at.button if b.label == "提交练习").click().run()
    assert any("正确答案" in m.value for m in [*at.success, *at.error])
    assert practices() == before + 1
