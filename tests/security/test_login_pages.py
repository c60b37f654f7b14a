"""AppTest: lockout on the login form, idle expiry and logout everywhere as a browser session sees them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from training.auth import accounts, login
from training.core.db import get_engine
from training.models import LoginSession, User, utcnow
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[2] / "app.py")
USER_KEY, LOGIN_KEY, NOTICE_KEY = "user_id", "login_session_id", "logout_notice"  # pages.ui.common's keys


def age_login(at: AppTest, **ago: timedelta) -> None:
    """Move the browser's login row back in time (``started_at=…``, ``last_seen_at=…``)."""
    with Session(get_engine()) as session:
        row = session.get(LoginSession, at.session_state[LOGIN_KEY])
        assert row is not None
        for field, delta in ago.items():
            setattr(row, field, utcnow() - delta)
        session.add(row)
        session.commit()


@pytest.fixture
def demo_db(db_url: str) -> str:
    with Session(get_engine()) as session:
        seed_demo(session=session)
    return db_url


def log_in(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click()
    at.run()
    if USER_KEY in at.session_state:
        at.run()  # the login page ends its run with st.rerun()
    assert not at.exception, at.exception
    return at


def on_login_page(at: AppTest) -> bool:
    return USER_KEY not in at.session_state and any(t.key == "login_username" for t in at.text_input)


def test_login_form_locks_known_and_unknown_names_alike(demo_db: str) -> None:
    for name in ("trainer", "no-such-user"):
        shown = [log_in(name, "wrong-pass-1").error[0].value for _ in range(login.MAX_FAILED_LOGINS + 1)]
        assert shown == [login.WRONG_CREDENTIALS] * login.MAX_FAILED_LOGINS + [login.LOCKED]
    at = log_in("trainer", "trainer-demo-2026")
    assert on_login_page(at) and at.error[0].value == login.LOCKED


def test_idle_session_is_logged_out_with_a_notice(demo_db: str) -> None:
    at = log_in("agent", "agent-demo-2026")
    assert not on_login_page(at)
    age_login(at, last_seen_at=login.IDLE_TIMEOUT + timedelta(seconds=5))
    at.run()
    assert on_login_page(at)
    assert [w.value for w in at.warning] == [login.SESSION_IDLE]
    assert NOTICE_KEY not in at.session_state  # shown once
    at.run()
    assert not at.warning


def test_session_past_its_lifetime_is_logged_out(demo_db: str) -> None:
    at = log_in("agent", "agent-demo-2026")
    age_login(at, started_at=login.SESSION_LIFETIME + timedelta(seconds=5))
    at.run()
    assert on_login_page(at) and [w.value for w in at.warning] == [login.SESSION_TOO_LONG]


def test_changing_the_password_logs_out_the_other_devices_only(demo_db: str) -> None:
    laptop = log_in("agent", "agent-demo-2026")
    phone = log_in("agent", "agent-demo-2026")
    laptop.switch_page("pages/account.py")
    laptop.run()
    laptop.text_input(key="old_password").input("agent-demo-2026")
    laptop.text_input(key="new_password").input("agent-new-2027")
    laptop.text_input(key="new_password_again").input("agent-new-2027")
    next(b for b in laptop.button if b.label == "修改密码").click()
    laptop.run()
    assert not laptop.exception and laptop.success, [e.value for e in laptop.error]
    laptop.run()
    assert not on_login_page(laptop), "the device that changed the password stays logged in"
    phone.run()
    assert on_login_page(phone)
    assert [w.value for w in phone.warning] == [login.SESSION_REVOKED]
    assert not on_login_page(log_in("agent", "agent-new-2027"))


def test_admin_reset_logs_the_user_out(demo_db: str) -> None:
    at = log_in("newhire", "newhire-demo-2026")
    with Session(get_engine()) as session:
        admin = session.exec(select(User).where(User.username == "demo_admin")).one()
        target = session.exec(select(User).where(User.username == "newhire")).one()
        accounts.reset_password(session=session, actor=admin, user_id=target.id or 0)
    at.run()
    assert on_login_page(at) and [w.value for w in at.warning] == [login.SESSION_REVOKED]


def test_logout_in_one_tab_ends_the_other(demo_db: str) -> None:
    first = log_in("agent", "agent-demo-2026")
    # A second tab resumed the same login from the cookie: same login row.
    second = AppTest.from_file(APP, default_timeout=120)
    second.session_state[USER_KEY] = first.session_state[USER_KEY]
    second.session_state[LOGIN_KEY] = first.session_state[LOGIN_KEY]
    second.run()
    assert not on_login_page(second)
    next(b for b in first.button if b.key == "logout").click()
    first.run()
    assert on_login_page(first) and not first.warning
    second.run()
    assert on_login_page(second)
    assert [w.value for w in second.warning] == ["已在其他页面退出登录，请重新登录。"]
