"""HTTP routes on the app's own server (``st.App``): the login cookie is set and cleared here.

Streamlit talks to the browser over a WebSocket and cannot send a ``Set-Cookie`` header, and a
cookie written by page JavaScript cannot be HttpOnly. So after the login form succeeds, the page
posts a one-time hand-off code to ``/api/session``; this route spends the code and answers with
the login token in an HttpOnly, SameSite=Strict cookie. ``/api/logout`` ends the login the
cookie stands for and deletes the cookie. Neither the token nor the code is ever in a URL.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from training.auth.login import SESSION_LIFETIME
from training.auth.sessions import COOKIE_NAME, end_login, redeem_handoff
from training.core.config import get_settings
from training.core.db import get_engine

SESSION_PATH = "/api/session"
LOGOUT_PATH = "/api/logout"
_MAX_BODY = 1024


def _db() -> Session:
    return Session(get_engine())


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on POST; one from another site is refused (defence in depth)."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
    return urlsplit(origin).netloc == host


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded == "https" or get_settings().cookie_secure


def _redeem(code: str) -> str | None:
    with _db() as session:
        return redeem_handoff(session=session, code=code)


def _end(token: str) -> None:
    with _db() as session:
        end_login(session=session, token=token)


async def start_session(request: Request) -> Response:
    """Trade the hand-off code in the JSON body for the HttpOnly login cookie."""
    if not _same_origin(request):
        return Response(status_code=403)
    body = await request.body()
    if len(body) > _MAX_BODY:
        return Response(status_code=413)
    try:
        code = json.loads(body or b"{}").get("code")
    except (ValueError, AttributeError):
        code = None
    if not isinstance(code, str) or not code:
        return Response(status_code=400)
    token = await run_in_threadpool(_redeem, code)
    if token is None:
        return Response(status_code=403)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE_NAME, token, max_age=int(SESSION_LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


async def end_session(request: Request) -> Response:
    """End the cookie's login (if any) and delete the cookie."""
    if not _same_origin(request):
        return Response(status_code=403)
    token = request.cookies.get(COOKIE_NAME)
    if token:
        await run_in_threadpool(_end, token)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


_LOG = logging.getLogger("huashu")
SCRIPT_ERROR = ("页面出错了，这次操作没有完成。错误已记录在服务器日志中；"
                "请刷新页面重试，如仍出错请联系管理员。")


def show_script_error(exc: Exception) -> bool:
    """An uncaught error in a page: the traceback to the server log, a Chinese message to the user."""
    import streamlit as st

    _LOG.error("page error", exc_info=exc)
    st.error(SCRIPT_ERROR, icon=":material/error:")
    return True  # instead of Streamlit's English error box


ROUTES = [Route(SESSION_PATH, start_session, methods=["POST"]),
          Route(LOGOUT_PATH, end_session, methods=["POST"])]
