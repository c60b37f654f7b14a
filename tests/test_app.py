"""AppTest: login, each role's menu and home page, admin forms, and service-layer guards."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from training.core.db import get_engine
from training.models import Cohort, Role, User
from training.ops.demo.constants import DEMO_USERS
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120


@pytest.fixture
def demo_db(db_url: str) -> str:
    with Session(get_engine()) as session:
        seed_demo(session=session)
    return db_url


def login(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click()
    at.run()
    if "user_id" in at.session_state:
        at.run()  # the login page ends its run with st.rerun(); the menu appears on the next
    return at


def user_id(username: str) -> int:
    with Session(get_engine()) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        assert user.id is not None
        return user.id


def test_wrong_password_shows_error_and_stays_on_login(demo_db: str) -> None:
    at = login("trainer", "wrong-password")
    assert not at.exception
    assert [e.value for e in at.error] == ["用户名或密码错误。"]
    assert at.text_input(key="login_username") is not None


def test_empty_login_form_is_refused(demo_db: str) -> None:
    at = login("", "")
    assert [e.value for e in at.error] == ["请输入用户名和密码。"]


@pytest.mark.parametrize("demo", DEMO_USERS, ids=[d.role.value for d in DEMO_USERS])
def test_each_role_lands_on_its_home_page(demo_db: str, demo: object) -> None:
    at = login(demo.username, demo.password)  # type: ignore[attr-defined]
    assert not at.exception
    assert at.title[0].value == f"你好，{demo.display_name}"  # type: ignore[attr-defined]
    labels = [m.label for m in at.metric]
    assert "已审定话术" in labels
    scripts = next(m for m in at.metric if m.label == "已审定话术")
    assert int(scripts.value) >= 10
    if demo.role == Role.NEW_HIRE:  # type: ignore[attr-defined]
        assert any("上岗证书" in m.value for m in at.markdown)


def test_logout_returns_to_login(demo_db: str) -> None:
    at = login("agent", "agent-demo-2026")
    at.button(key="logout").click()
    at.run()
    assert at.text_input(key="login_username") is not None


def test_admin_creates_user_through_the_form(demo_db: str) -> None:
    at = login("demo_admin", "admin-demo-2026")
    at.switch_page("pages/admin_users.py")
    at.run()
    assert not at.exception
    at.text_input(key="new_username").input("xiaomei")
    at.text_input(key="new_display_name").input("小美")
    at.selectbox(key="new_role").select("new_hire")
    at.text_input(key="new_password").input("xiaomei-2026")
    next(b for b in at.button if b.label == "创建").click()
    at.run()
    assert [s.value for s in at.success] == ["已创建用户 xiaomei（小美，新人）。"]
    with Session(get_engine()) as session:
        created = session.exec(select(User).where(User.username == "xiaomei")).one()
        assert created.role == "new_hire" and created.password_hash.startswith("$argon2")


def test_admin_creates_cohort_and_moves_a_member(demo_db: str) -> None:
    at = login("demo_admin", "admin-demo-2026")
    at.switch_page("pages/admin_cohorts.py")
    at.run()
    at.text_input(key="cohort_name").input("十二月班")
    next(b for b in at.button if b.label == "创建").click()
    at.run()
    assert not at.exception and at.success[0].value == "已创建班组 十二月班。"
    with Session(get_engine()) as session:
        cohort = session.exec(select(Cohort).where(Cohort.name == "十二月班")).one()
    at.run()  # the page lists cohorts on its next run
    at.selectbox(key="cohort_user").select(user_id("agent"))
    at.selectbox(key="cohort_target").select(cohort.id)
    at.button(key="cohort_save").click()
    at.run()
    with Session(get_engine()) as session:
        assert session.get(User, user_id("agent")).cohort_id == cohort.id  # type: ignore[union-attr]


def test_agent_menu_has_no_admin_pages(demo_db: str) -> None:
    at = login("agent", "agent-demo-2026")
    with pytest.raises(ValueError):
        at.switch_page("pages/admin_users.py")


def test_agent_running_admin_page_file_gets_nothing(demo_db: str) -> None:
    """Even run directly, bypassing the menu, the page's service calls refuse the agent."""
    at = AppTest.from_file(str(Path(APP).parent / "pages" / "admin_users.py"),
                           default_timeout=TIMEOUT)
    at.session_state["user_id"] = user_id("agent")
    at.run()
    assert "无权" in " ".join(e.value for e in at.error)
    assert all("demo_admin" not in str(df.value) for df in at.dataframe)
    at.text_input(key="new_username").input("sneaky")
    at.text_input(key="new_display_name").input("x")
    at.text_input(key="new_password").input("sneaky-pass-1")
    next(b for b in at.button if b.label == "创建").click()
    at.run()
    with Session(get_engine()) as session:
        assert session.exec(select(User).where(User.username == "sneaky")).first() is None


def test_disabled_user_is_logged_out_on_next_run(demo_db: str) -> None:
    at = login("agent", "agent-demo-2026")
    with Session(get_engine()) as session:
        agent = session.get(User, user_id("agent"))
        assert agent is not None
        agent.is_active = False
        session.add(agent)
        session.commit()
    at.run()
    assert at.text_input(key="login_username") is not None


@pytest.mark.encoder
def test_agent_looks_up_a_script(demo_db: str, real_encoder: object) -> None:
    at = login("agent", "agent-demo-2026")
    at.switch_page("pages/script_lookup.py")
    at.run()
    at.text_input(key="lookup_query").input("啥时候发货啊")
    at.run()
    assert not at.exception
    assert at.code, "expected script texts rendered as copyable code blocks"
    assert "发货" in at.markdown[0].value
