"""Logging in: throttled authentication with temporary lockout, and login-session expiry.

Failures are counted per typed username whether or not an account has it, and per account, so
the answers to a guesser are the same for a real and a made-up username.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.passwords import DUMMY_HASH, AccountError, hash_password, needs_rehash, verify_password
from training.models import User, utcnow
from training.models.accounts import LoginThrottle

#: This many wrong passwords for one username within FAILURE_WINDOW lock it for LOCKOUT.
MAX_FAILED_LOGINS = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
#: A logged-in session ends after this long without a page run, and after SESSION_LIFETIME in any case.
IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_LIFETIME = timedelta(hours=12)

WRONG_CREDENTIALS = "用户名或密码错误。"
LOCKED = (f"登录失败次数过多，账号已临时锁定，请 {int(LOCKOUT.total_seconds() // 60)} 分钟后再试"
          "或联系管理员。")
DISABLED = "该账号已停用，请联系管理员。"
SESSION_IDLE = f"超过 {int(IDLE_TIMEOUT.total_seconds() // 60)} 分钟未操作，已自动退出，请重新登录。"
SESSION_TOO_LONG = f"登录已超过 {int(SESSION_LIFETIME.total_seconds() // 3600)} 小时，请重新登录。"
SESSION_REVOKED = "密码已修改，所有设备上的登录均已失效，请用新密码重新登录。"


def throttle_key(username: str) -> str:
    """The key failures are counted under: the typed name, trimmed and case-folded."""
    return username.strip().casefold()[:64]


def _is_locked(throttle: LoginThrottle | None, user: User | None, now: datetime) -> bool:
    by_name = throttle is not None and throttle.locked_until is not None and throttle.locked_until > now
    by_user = user is not None and user.locked_until is not None and user.locked_until > now
    return by_name or by_user


def _record_failure(
    session: Session, key: str, throttle: LoginThrottle | None, user: User | None, now: datetime,
) -> None:
    """Count one failure for the typed name and the account; lock both at the threshold."""
    # Forget stale rows so guessing made-up names cannot grow the table without bound.
    session.exec(delete(LoginThrottle).where(
        col(LoginThrottle.window_started_at) < now - FAILURE_WINDOW - LOCKOUT,
        or_(col(LoginThrottle.locked_until).is_(None), col(LoginThrottle.locked_until) < now),
        col(LoginThrottle.username_key) != key,
    ))
    if throttle is None or throttle.window_started_at <= now - FAILURE_WINDOW:
        throttle = throttle or LoginThrottle(username_key=key)
        throttle.failures, throttle.window_started_at = 0, now
        if user is not None:
            user.failed_logins = 0  # the account's count shares the name's window
    throttle.failures += 1
    locked = throttle.failures >= MAX_FAILED_LOGINS
    if user is not None:
        user.failed_logins += 1
        locked = locked or user.failed_logins >= MAX_FAILED_LOGINS
    if locked:
        throttle.locked_until, throttle.failures, throttle.window_started_at = now + LOCKOUT, 0, now
        if user is not None:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
        audit.record(session=session, actor=None, action="login.locked", target=key[:200])
    session.add(throttle)
    if user is not None:
        session.add(user)
    try:
        session.commit()
    except IntegrityError:  # a concurrent first failure for the same name inserted the row
        session.rollback()


def clear_failures(*, session: Session, user: User) -> None:
    """Lift the lockout of an account and of its username (an admin reset the password)."""
    user.failed_logins, user.locked_until = 0, None
    throttle = session.get(LoginThrottle, throttle_key(user.username))
    if throttle is not None:
        session.delete(throttle)


def authenticate(*, session: Session, username: str, password: str, now: datetime | None = None) -> User:
    """Return the user for valid credentials; raise AccountError otherwise.

    Five wrong passwords for one username within 15 minutes lock that username (and its account,
    if there is one) for 15 minutes; a made-up username gets exactly the same answers.
    ``now`` exists for tests (a controllable clock).
    """
    now = now or utcnow()
    name = username.strip()
    key = throttle_key(name)
    user = session.exec(select(User).where(User.username == name)).first()
    throttle = session.get(LoginThrottle, key)
    if _is_locked(throttle, user, now):
        verify_password(DUMMY_HASH, password)  # locked answers take as long as the others
        raise AccountError(LOCKED)
    valid = verify_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not valid:
        _record_failure(session, key, throttle, user, now)
        raise AccountError(WRONG_CREDENTIALS)
    if not user.is_active:
        raise AccountError(DISABLED)
    user.failed_logins, user.locked_until = 0, None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.add(user)
    if throttle is not None:
        session.delete(throttle)
    audit.record(session=session, actor=user, action="login", target=user.username)
    session.commit()
    session.refresh(user)
    return user


class SessionEnded(AccountError):
    """A logged-in session is over (idle, too old, password changed, account disabled).

    Login sessions themselves live in ``training.auth.sessions``.
    """
