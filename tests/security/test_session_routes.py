"""The app's own cookie routes: a hand-off code buys one HttpOnly cookie, once; logout clears it."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from pages.ui import session_routes
from training.auth import accounts
from training.auth.login import SessionEnded
from training.auth.sessions import COOKIE_NAME, open_login, resume_login
from training.core.db import get_engine
from training.models import Role, User

pytestmark = pytest.mark.db


def _request(path: str, body: bytes = b"", *, origin: str | None = None,
             cookie: str | None = None) -> Request:
    headers = [(b"host", b"127.0.0.1:8501"), (b"content-type", b"application/json")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b"",
             "scheme": "http", "server": ("127.0.0.1", 8501)}
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def _call(endpoint, request: Request) -> Response:  # type: ignore[no-untyped-def]
    return asyncio.run(endpoint(request))


def _set_cookie(response: Response) -> str:
    return next(v.decode() for k, v in response.raw_headers if k == b"set-cookie")


@pytest.fixture
def user(db_url: str) -> User:
    with Session(get_engine()) as session:
        person = User(username="zhao", display_name="赵", role=Role.AGENT.value,
                      password_hash=accounts.hash_password("right-pass-1"))
        session.add(person)
        session.commit()
        session.refresh(person)
        return person


def test_handoff_code_buys_an_httponly_cookie_once(user: User) -> None:
    with Session(get_engine()) as session:
        _, code = open_login(session=session, user=user)
    body = json.dumps({"code": code}).encode()
    response = _call(session_routes.start_session,
                     _request(session_routes.SESSION_PATH, body, origin="http://127.0.0.1:8501"))
    assert response.status_code == 204
    cookie = _set_cookie(response)
    assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie and "Max-Age=" in cookie and code not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with Session(get_engine()) as session:
        assert resume_login(session=session, token=token)[0].id == user.id
    again = _call(session_routes.start_session, _request(session_routes.SESSION_PATH, body))
    assert again.status_code == 403  # spent


def test_bad_requests_get_no_cookie(user: User) -> None:
    with Session(get_engine()) as session:
        _, code = open_login(session=session, user=user)
    body = json.dumps({"code": code}).encode()
    foreign = _call(session_routes.start_session,
                    _request(session_routes.SESSION_PATH, body, origin="https://evil.example"))
    assert foreign.status_code == 403
    for junk in (b"", b"not json", b"[1]", json.dumps({"code": 5}).encode(), b"x" * 5000):
        response = _call(session_routes.start_session, _request(session_routes.SESSION_PATH, junk))
        assert response.status_code in (400, 413)
        assert not any(k == b"set-cookie" for k, _ in response.raw_headers)
    # The code was not spent by the refused requests.
    assert _call(session_routes.start_session, _request(session_routes.SESSION_PATH, body)).status_code == 204


def test_logout_route_ends_the_login_and_deletes_the_cookie(user: User) -> None:
    with Session(get_engine()) as session:
        _, code = open_login(session=session, user=user)
    response = _call(session_routes.start_session,
                     _request(session_routes.SESSION_PATH, json.dumps({"code": code}).encode()))
    token = _set_cookie(response).split(";")[0].split("=", 1)[1]
    out = _call(session_routes.end_session,
                _request(session_routes.LOGOUT_PATH, cookie=f"{COOKIE_NAME}={token}"))
    assert out.status_code == 204
    assert 'Max-Age=0' in _set_cookie(out) or "expires=" in _set_cookie(out).lower()
    with Session(get_engine()) as session, pytest.raises(SessionEnded):
        resume_login(session=session, token=token)
