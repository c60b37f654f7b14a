"""Browser logins that survive a refresh: random tokens in an HttpOnly cookie, hashed in the database.

How a login reaches the browser's cookie jar without the token ever being in a URL or a page:
1. the login form authenticates and calls :func:`open_login`, which stores a login row with a
   one-time hand-off code (hashed, valid for ``HANDOFF_TTL``) and returns the code;
2. the page posts that code to the app's own ``/api/session`` route, which calls
   :func:`redeem_handoff`: the code is spent, a fresh random token is stored (hashed) and set
   as an HttpOnly, SameSite=Strict cookie;
3. a refresh, a deep link or a new tab reads the cookie server-side (``st.context.cookies``) and
   calls :func:`resume_login`.
Every page run checks the row (:func:`check_login`): logout, a password change ("logout
everywhere"), a disabled account, ``IDLE_TIMEOUT`` without activity or ``SESSION_LIFETIME`` in
all end it, in every tab at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select, update

from training.auth.login import (
    DISABLED,
    IDLE_TIMEOUT,
    SESSION_IDLE,
    SESSION_LIFETIME,
    SESSION_REVOKED,
    SESSION_TOO_LONG,
    SessionEnded,
)
from training.models import LoginSession, User, utcnow

#: Name of the cookie that carries the login token.
COOKIE_NAME = "huashu_session"
#: How long the page has to trade its hand-off code for the cookie.
HANDOFF_TTL = timedelta(minutes=2)
#: A page run writes its "last seen" time at most this often (idle expiry is to the minute).
TOUCH_INTERVAL = timedelta(seconds=30)
LOGGED_OUT = "已退出登录。"

# Why a login ended (LoginSession.end_reason).
END_LOGOUT = "logout"
END_IDLE = "idle"
END_LIFETIME = "lifetime"
END_REVOKED = "revoked"
END_DISABLED = "disabled"
_END_MESSAGES = {END_LOGOUT: LOGGED_OUT, END_IDLE: SESSION_IDLE, END_LIFETIME: SESSION_TOO_LONG,
                 END_REVOKED: SESSION_REVOKED, END_DISABLED: DISABLED}


class LoginEnded(SessionEnded):
    """A login is over; ``reason`` is one of the END_* codes (the message is in Chinese)."""

    def __init__(self, reason: str) -> None:
        super().__init__(_END_MESSAGES.get(reason, LOGGED_OUT))
        self.reason = reason


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for UTC columns; compare them as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def open_login(*, session: Session, user: User, now: datetime | None = None) -> tuple[LoginSession, str]:
    """Start a login for an authenticated user; returns the row and its one-time hand-off code."""
    now = now or utcnow()
    assert user.id is not None
    code = secrets.token_urlsafe(32)
    login = LoginSession(user_id=user.id, handoff_hash=_digest(code), handoff_expires_at=now + HANDOFF_TTL,
                         session_version=user.session_version, started_at=now, last_seen_at=now)
    session.add(login)
    session.commit()
    session.refresh(login)
    return login, code


def redeem_handoff(*, session: Session, code: str, now: datetime | None = None) -> str | None:
    """Spend a hand-off code: the login's new cookie token, or None for an unknown or stale code."""
    now = now or utcnow()
    login = session.exec(select(LoginSession).where(LoginSession.handoff_hash == _digest(code))).first()
    if login is None or login.ended_at is not None:
        return None
    expired = login.handoff_expires_at is None or _aware(login.handoff_expires_at) < now
    login.handoff_hash, login.handoff_expires_at = None, None  # one use, valid or not
    token = None
    if not expired:
        token = secrets.token_urlsafe(32)
        login.token_hash = _digest(token)
    session.add(login)
    session.commit()
    return token


def _end(session: Session, login: LoginSession, reason: str, now: datetime) -> LoginEnded:
    login.ended_at, login.end_reason = now, reason
    login.token_hash = None  # the cookie's token is worthless from now on
    session.add(login)
    session.commit()
    return LoginEnded(reason)


def check_login(*, session: Session, login_id: int, now: datetime | None = None) -> User:
    """The user of a live login, with its last-seen time moved to ``now``.

    Raises LoginEnded (message in Chinese) when the login was ended, the account is gone or
    disabled, the password changed since, or the login was idle or is too old.
    """
    now = now or utcnow()
    login = session.get(LoginSession, login_id)
    if login is None:
        raise LoginEnded(END_LOGOUT)
    if login.ended_at is not None:
        raise LoginEnded(login.end_reason or END_LOGOUT)
    user = session.get(User, login.user_id)
    if user is None or not user.is_active:
        raise _end(session, login, END_DISABLED, now)
    if user.session_version != login.session_version:
        raise _end(session, login, END_REVOKED, now)
    if now - _aware(login.started_at) > SESSION_LIFETIME:
        raise _end(session, login, END_LIFETIME, now)
    if now - _aware(login.last_seen_at) > IDLE_TIMEOUT:
        raise _end(session, login, END_IDLE, now)
    if now - _aware(login.last_seen_at) >= TOUCH_INTERVAL:
        login.last_seen_at = now
        session.add(login)
        session.commit()
    return user


def resume_login(*, session: Session, token: str, now: datetime | None = None) -> tuple[User, int]:
    """The user and login id a cookie token stands for (a refresh, a deep link, a new tab).

    Raises LoginEnded when the token is unknown (logged out, forged) or the login is over.
    """
    login = session.exec(select(LoginSession).where(LoginSession.token_hash == _digest(token))).first()
    if login is None or login.id is None:
        raise LoginEnded(END_LOGOUT)
    return check_login(session=session, login_id=login.id, now=now), login.id


def end_login(*, session: Session, login_id: int | None = None, token: str | None = None,
              now: datetime | None = None) -> None:
    """Log out one login, found by id (the page) or by cookie token (the logout route)."""
    now = now or utcnow()
    login: LoginSession | None = None
    if login_id is not None:
        login = session.get(LoginSession, login_id)
    elif token:
        login = session.exec(select(LoginSession).where(LoginSession.token_hash == _digest(token))).first()
    if login is not None and login.ended_at is None:
        _end(session, login, END_LOGOUT, now)


def revoke_logins(*, session: Session, user_id: int, reason: str = END_REVOKED,
                  now: datetime | None = None) -> None:
    """End every live login of a user (password set, account disabled); the caller commits."""
    now = now or utcnow()
    session.exec(update(LoginSession)
                 .where(col(LoginSession.user_id) == user_id, col(LoginSession.ended_at).is_(None))
                 .values(ended_at=now, end_reason=reason, token_hash=None, handoff_hash=None))
