"""Login hardening: throttling and lockout (controllable clock), password rules, session expiry,
logout everywhere on a password change, and passwords stored only as hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from training.auth import accounts, login
from training.auth import sessions as login_sessions
from training.auth.login import LOCKED, WRONG_CREDENTIALS, SessionEnded
from training.auth.passwords import AccountError, password_problems
from training.models import AuditLog, Role, User, utcnow
from training.models.accounts import LoginSession, LoginThrottle

PASSWORD = "right-pass-1"


def make(session: Session, username: str, role: Role = Role.AGENT, password: str = PASSWORD) -> User:
    user = User(username=username, display_name=username, role=role.value,
                password_hash=accounts.hash_password(password))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def attempt(session: Session, username: str, password: str, at: object) -> str:
    """The outcome of one login attempt: "ok" or the error message shown."""
    try:
        accounts.authenticate(session=session, username=username, password=password, now=at)  # type: ignore[arg-type]
    except AccountError as exc:
        return str(exc)
    return "ok"


# --- throttling and lockout -------------------------------------------------------------------


def test_four_failures_pass_the_fifth_locks_even_the_right_password(session: Session) -> None:
    make(session, "li")
    t0 = utcnow()
    for i in range(login.MAX_FAILED_LOGINS - 1):
        assert attempt(session, "li", "wrong-pass-1", t0 + timedelta(seconds=i)) == WRONG_CREDENTIALS
    assert attempt(session, "li", PASSWORD, t0 + timedelta(seconds=10)) == "ok"  # success resets the count
    for i in range(login.MAX_FAILED_LOGINS):
        assert attempt(session, "li", "wrong-pass-1", t0 + timedelta(seconds=20 + i)) == WRONG_CREDENTIALS
    assert attempt(session, "li", PASSWORD, t0 + timedelta(seconds=30)) == LOCKED
    user = session.exec(select(User).where(User.username == "li")).one()
    assert user.locked_until is not None


def test_lockout_lasts_its_window_on_a_controlled_clock(session: Session) -> None:
    make(session, "wang")
    t0 = utcnow()
    for _ in range(login.MAX_FAILED_LOGINS):
        attempt(session, "wang", "wrong-pass-1", t0)
    assert attempt(session, "wang", PASSWORD, t0 + login.LOCKOUT - timedelta(seconds=1)) == LOCKED
    assert attempt(session, "wang", PASSWORD, t0 + login.LOCKOUT + timedelta(seconds=1)) == "ok"
    assert session.get(LoginThrottle, "wang") is None  # a good login clears the name's record


def test_failures_older_than_the_window_are_forgotten(session: Session) -> None:
    make(session, "zhao")
    t0 = utcnow()
    for _ in range(login.MAX_FAILED_LOGINS - 1):
        attempt(session, "zhao", "wrong-pass-1", t0)
    later = t0 + login.FAILURE_WINDOW + timedelta(seconds=1)
    assert attempt(session, "zhao", "wrong-pass-1", later) == WRONG_CREDENTIALS  # count restarts at 1
    assert attempt(session, "zhao", PASSWORD, later + timedelta(seconds=1)) == "ok"


def test_unknown_and_known_usernames_get_identical_answers(session: Session) -> None:
    """Lockout applies to made-up names too, so the answers never reveal which accounts exist."""
    make(session, "sun")
    t0 = utcnow()
    known = [attempt(session, "sun", "wrong-pass-1", t0) for _ in range(login.MAX_FAILED_LOGINS + 2)]
    unknown = [attempt(session, "ghost", "wrong-pass-1", t0) for _ in range(login.MAX_FAILED_LOGINS + 2)]
    assert known == unknown == [WRONG_CREDENTIALS] * login.MAX_FAILED_LOGINS + [LOCKED] * 2
    assert attempt(session, "  GHOST ", "anything-1", t0) == LOCKED  # counted per trimmed, case-folded name
    locked = session.exec(select(AuditLog).where(AuditLog.action == "login.locked")).all()
    assert sorted(e.target for e in locked) == ["ghost", "sun"]


def test_admin_reset_lifts_the_lockout(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    user = make(session, "qian")
    t0 = utcnow()
    for _ in range(login.MAX_FAILED_LOGINS):
        attempt(session, "qian", "wrong-pass-1", t0)
    new = accounts.reset_password(session=session, actor=admin, user_id=user.id or 0)
    assert attempt(session, "qian", new, t0 + timedelta(seconds=1)) == "ok"


def test_disabled_account_message_only_after_the_right_password(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    user = make(session, "zhou")
    accounts.set_user_active(session=session, actor=admin, user_id=user.id or 0, active=False)
    assert attempt(session, "zhou", "wrong-pass-1", utcnow()) == WRONG_CREDENTIALS
    assert attempt(session, "zhou", PASSWORD, utcnow()) == login.DISABLED


# --- password rules ---------------------------------------------------------------------------

RULES = [
    ("short-1", "", "至少需要 8 个字符"),
    ("abcdefghij", "", "至少两类"),
    ("1234567890", "", "至少两类"),
    ("中文密码中文密码", "", "至少两类"),
    ("!@#$%^&*()", "", "至少两类"),
    ("lin.xiaomei", "lin.xiaomei", "不能与用户名相同"),
    ("LIN.XIAOMEI", "lin.xiaomei", "不能与用户名相同"),
    ("Password123", "", "过于常见"),
    ("qwer1234", "", "过于常见"),
    ("woaini1314", "", "过于常见"),
    ("blue-river-7", "lin.xiaomei", None),
    ("客服小美2026", "", None),
    ("only letters and spaces", "", None),
]


@pytest.mark.parametrize(("password", "username", "problem"), RULES, ids=[r[0] for r in RULES])
def test_password_rules(password: str, username: str, problem: str | None) -> None:
    problems = password_problems(password, username=username)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_services_apply_the_rules_and_generated_passwords_pass_them(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    with pytest.raises(AccountError, match="至少两类"):
        accounts.create_user(session=session, actor=admin, username="wu", display_name="吴",
                             role="agent", password="12345678901")
    with pytest.raises(AccountError, match="用户名相同"):
        accounts.create_user(session=session, actor=admin, username="wu.gang.88", display_name="吴",
                             role="agent", password="Wu.Gang.88")
    user = make(session, "zheng")
    with pytest.raises(AccountError, match="过于常见"):
        accounts.change_own_password(session=session, actor=user, old=PASSWORD, new="password1")
    with pytest.raises(AccountError, match="过于常见"):
        accounts.reset_password(session=session, actor=admin, user_id=user.id or 0, new_password="abcd1234")
    assert all(password_problems(accounts.generate_password()) == [] for _ in range(300))


def test_passwords_are_only_ever_stored_hashed(session: Session, db_url: str) -> None:
    admin = make(session, "root", Role.ADMIN, password="root-plain-Secret-1")
    user = accounts.create_user(session=session, actor=admin, username="feng", display_name="冯",
                                role="agent", password="first-plain-Secret-1")
    accounts.change_own_password(session=session, actor=user, old="first-plain-Secret-1",
                                 new="second-plain-Secret-2")
    third = accounts.reset_password(session=session, actor=admin, user_id=user.id or 0)
    accounts.authenticate(session=session, username="feng", password=third)
    attempt(session, "feng", "typo-plain-Secret-3", utcnow())
    plain = ["root-plain-Secret-1", "first-plain-Secret-1", "second-plain-Secret-2", third,
             "typo-plain-Secret-3"]
    stored = []
    conn = session.connection()
    for table in SQLModel.metadata.sorted_tables:
        stored += [repr(tuple(row)) for row in conn.execute(table.select())]
    dump = "\n".join(stored)
    assert all(p not in dump for p in plain)
    assert session.get(User, user.id).password_hash.startswith("$argon2id$")  # type: ignore[union-attr]
    if db_url.startswith("sqlite:///"):
        session.exec(text("PRAGMA wal_checkpoint(FULL)"))  # type: ignore[call-overload]
        path = Path(db_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"$argon2id$" in raw  # the file really holds the account table
        assert all(p.encode() not in raw for p in plain)


# --- login sessions ---------------------------------------------------------------------------


def _login(session: Session, user: User, *, minutes_ago: float = 0, idle: float = 0) -> int:
    """A login row started ``minutes_ago`` and last seen ``idle`` minutes ago; returns its id."""
    now = utcnow()
    row, _ = login_sessions.open_login(session=session, user=user, now=now - timedelta(minutes=minutes_ago))
    row.last_seen_at = now - timedelta(minutes=idle)
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def test_sessions_expire_when_idle_and_when_too_old(session: Session) -> None:
    user = make(session, "chen")
    idle = login.IDLE_TIMEOUT.total_seconds() / 60
    alive = _login(session, user, minutes_ago=idle + 5, idle=idle - 1)
    assert login_sessions.check_login(session=session, login_id=alive).id == user.id
    row = session.get(LoginSession, alive)
    assert row is not None and utcnow() - _utc(row.last_seen_at) < timedelta(seconds=5)
    with pytest.raises(SessionEnded, match="未操作"):
        login_sessions.check_login(session=session, login_id=_login(session, user, minutes_ago=idle + 5,
                                                                    idle=idle + 1))
    # Active all along, but past the absolute lifetime.
    start = utcnow() - login.SESSION_LIFETIME + timedelta(minutes=1)
    row, _ = login_sessions.open_login(session=session, user=user, now=start)
    assert row.id is not None
    now = start
    while now + timedelta(minutes=20) < start + login.SESSION_LIFETIME:
        now += timedelta(minutes=20)
        login_sessions.check_login(session=session, login_id=row.id, now=now)
    with pytest.raises(SessionEnded, match="小时"):
        login_sessions.check_login(session=session, login_id=row.id,
                                   now=start + login.SESSION_LIFETIME + timedelta(seconds=1))
    # Once ended, it stays ended (the cookie's token is cleared too).
    with pytest.raises(SessionEnded, match="小时"):
        login_sessions.check_login(session=session, login_id=row.id, now=now)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_password_change_and_reset_log_out_every_session(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    user = make(session, "lu")
    phone, laptop = _login(session, user), _login(session, user)
    updated = accounts.change_own_password(session=session, actor=user, old=PASSWORD, new="changed-pass-2")
    for login_id in (phone, laptop):
        with pytest.raises(SessionEnded, match="密码已修改"):
            login_sessions.check_login(session=session, login_id=login_id)
    fresh = _login(session, updated)
    assert login_sessions.check_login(session=session, login_id=fresh).id == user.id
    accounts.reset_password(session=session, actor=admin, user_id=user.id or 0)
    with pytest.raises(SessionEnded, match="密码已修改"):
        login_sessions.check_login(session=session, login_id=fresh)
    again = _login(session, session.get(User, user.id) or user)
    accounts.set_user_active(session=session, actor=admin, user_id=user.id or 0, active=False)
    with pytest.raises(SessionEnded, match="停用"):
        login_sessions.check_login(session=session, login_id=again)


def test_cookie_token_comes_from_a_one_time_handoff_and_is_stored_hashed(session: Session) -> None:
    user = make(session, "he")
    row, code = login_sessions.open_login(session=session, user=user)
    assert row.id is not None
    token = login_sessions.redeem_handoff(session=session, code=code)
    assert token and token != code
    assert login_sessions.redeem_handoff(session=session, code=code) is None  # spent
    stored = session.get(LoginSession, row.id)
    assert stored is not None and stored.token_hash not in (None, token) and stored.handoff_hash is None
    assert token not in str(session.exec(select(LoginSession)).all())
    # A refresh or a new tab resumes the same login from the cookie.
    resumed, login_id = login_sessions.resume_login(session=session, token=token)
    assert resumed.id == user.id and login_id == row.id
    with pytest.raises(SessionEnded):
        login_sessions.resume_login(session=session, token=token + "x")
    # Logout through the cookie ends the login for every tab holding it.
    login_sessions.end_login(session=session, token=token)
    with pytest.raises(SessionEnded):
        login_sessions.resume_login(session=session, token=token)
    with pytest.raises(SessionEnded):
        login_sessions.check_login(session=session, login_id=row.id)


def test_a_stale_handoff_code_gives_no_token(session: Session) -> None:
    user = make(session, "xu")
    _, code = login_sessions.open_login(session=session, user=user,
                                        now=utcnow() - login_sessions.HANDOFF_TTL - timedelta(seconds=1))
    assert login_sessions.redeem_handoff(session=session, code=code) is None
    assert login_sessions.redeem_handoff(session=session, code="made-up") is None
