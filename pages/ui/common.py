"""Shared UI plumbing for the pages: cached resources, the logged-in user, error display."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pages.ui.markdown import md_escape
from pages.ui.session_routes import LOGOUT_PATH, SESSION_PATH
from training.auth.permissions import PermissionDenied
from training.auth.sessions import (
    COOKIE_NAME,
    END_LOGOUT,
    LoginEnded,
    check_login,
    end_login,
    open_login,
    resume_login,
)
from training.core import generations
from training.core.config import get_settings
from training.core.db import make_engine
from training.core.errors import UserError
from training.models import ROLE_LABELS, Role, User
from training.nlp.embeddings import DbEmbeddingStore, Embedder

T = TypeVar("T")
USER_KEY = "user_id"
LOGIN_KEY = "login_session_id"
HANDOFF_KEY = "login_handoff"
CLEAR_COOKIE_KEY = "login_clear_cookie"
NOTICE_KEY = "logout_notice"


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The process-wide engine for the configured database."""
    return _engine(get_settings().resolved_database_url)


@contextmanager
def db_session() -> Iterator[Session]:
    """A short-lived session for one page action."""
    with Session(engine(), expire_on_commit=False) as session:
        yield session


@st.cache_resource(show_spinner="正在加载语义模型（首次启动需要约一分钟）……")
def _embedder(url: str, model: str) -> Embedder:
    from training.nlp.encoder.load import load_encoder

    return Embedder(load_encoder(model), DbEmbeddingStore(_engine(url)))


@st.cache_data(max_entries=16, show_spinner=False)
def _active_model(url: str, generation: int) -> str:
    from training.nlp.model_versions import active_model

    with Session(_engine(url)) as session:
        return active_model(session=session)


def forget_active_model() -> None:
    """Drop the cached active-model answers (tests that reuse one database URL)."""
    _active_model.clear()
    generations.forget()


def embedder() -> Embedder:
    """The active sentence encoder (see 模型管理) with the database embedding cache.

    Each model is loaded once per process. Which model is active is cached per value of the
    database's ``model`` change counter (``training.core.generations``), which this process reads
    at most once a second: a switch on any replica reaches every replica within that second.
    """
    url = get_settings().resolved_database_url
    return _embedder(url, _active_model(url, generations.read(_engine(url), generations.MODEL)))


def log_in(user: User) -> None:
    """Start this browser's login (the login page calls it after authenticating).

    The login row's one-time hand-off code waits in the session state until the shell posts it
    to ``/api/session``, which answers with the HttpOnly cookie a refresh or a new tab resumes.
    """
    with db_session() as session:
        login, code = open_login(session=session, user=user)
    st.session_state[USER_KEY] = user.id
    st.session_state[LOGIN_KEY] = login.id
    st.session_state[HANDOFF_KEY] = code


def log_out(notice: str | None = None) -> None:
    """End this browser's login everywhere; ``notice`` is shown on the login page once."""
    login_id = st.session_state.pop(LOGIN_KEY, None)
    st.session_state.pop(USER_KEY, None)
    st.session_state.pop(HANDOFF_KEY, None)
    if login_id is not None:
        with db_session() as session:
            end_login(session=session, login_id=login_id)
    st.session_state[CLEAR_COOKIE_KEY] = True
    if notice:
        st.session_state[NOTICE_KEY] = notice


def _forget(notice: str | None) -> None:
    """Drop a login that ended elsewhere (idle, logout in another tab, password changed)."""
    for key in (USER_KEY, LOGIN_KEY, HANDOFF_KEY):
        st.session_state.pop(key, None)
    st.session_state[CLEAR_COOKIE_KEY] = True
    if notice:
        st.session_state[NOTICE_KEY] = notice


def current_user() -> User | None:
    """The logged-in user, re-read from the database on every run (so disabling bites at once).

    A browser session without a login (a refresh, a deep link, a new tab) resumes the login its
    HttpOnly cookie stands for. The login ends, with a Chinese notice, when it was idle or is too
    old, when it was logged out in another tab, when the password changed since (logout
    everywhere) or when the account was disabled.
    """
    user_id = st.session_state.get(USER_KEY)
    with db_session() as session:
        if user_id is None:
            token = st.context.cookies.get(COOKIE_NAME)
            if not isinstance(token, str) or not token:
                return None
            try:
                user, resumed_id = resume_login(session=session, token=token)
            except LoginEnded as exc:
                _forget(None if exc.reason == END_LOGOUT else str(exc))
                return None
            st.session_state[USER_KEY], st.session_state[LOGIN_KEY] = user.id, resumed_id
            return user
        login_id: int | None = st.session_state.get(LOGIN_KEY)
        if login_id is None:
            # A user id put into the session state directly (AppTest): its login starts now.
            found = session.get(User, user_id)
            if found is None:
                _forget(None)
                return None
            login, _ = open_login(session=session, user=found)
            assert login.id is not None  # stored and refreshed by open_login
            login_id = st.session_state[LOGIN_KEY] = login.id
        try:
            return check_login(session=session, login_id=login_id)
        except LoginEnded as exc:
            _forget(str(exc) if exc.reason != END_LOGOUT else "已在其他页面退出登录，请重新登录。")
            return None


def cookie_script() -> str | None:
    """The one-off script that sets or clears the login cookie in this browser, if one is due.

    Only random codes the server made go into it, never user text.
    """
    code = st.session_state.pop(HANDOFF_KEY, None)
    if code is not None:
        st.session_state.pop(CLEAR_COOKIE_KEY, None)
        body = json.dumps({"code": code})
        return (f"<script>fetch({json.dumps(SESSION_PATH)}, {{method: 'POST', credentials: 'same-origin',"
                f" headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}});</script>")
    if st.session_state.pop(CLEAR_COOKIE_KEY, False):
        return (f"<script>fetch({json.dumps(LOGOUT_PATH)}, {{method: 'POST', credentials: 'same-origin'}});"
                "</script>")
    return None


def chinese_chrome_css(upload_limit_mb: int) -> str:
    """Stylesheet that puts Chinese over the few English words Streamlit's own widgets print.

    The uploader's "Upload" button and "… MB per file" line, the "Press Enter to submit form"
    hint and the "Stop" button beside the running indicator are drawn by Streamlit's frontend
    with no option to change them; the text is
    hidden and replaced with a CSS ``content``. Only numbers from the settings go in.
    """
    return f"""<style>
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"] p {{ font-size: 0; }}
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"] p::after {{
  content: "选择文件"; font-size: 0.875rem; }}
[data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; }}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{
  content: "或把文件拖到这里 · 单个文件不超过 {int(upload_limit_mb)} MB"; font-size: 0.875rem; }}
[data-testid="InputInstructions"] {{ display: none; }}
[data-testid="stStatusWidget"] button {{ display: none; }}
</style>"""


@contextmanager
def progress_bar(text: str) -> Iterator[Callable[[float], None]]:
    """A progress bar for one long service call; yields the ``progress`` callback to pass it."""
    bar = st.progress(0.0, text=text)

    def progress(fraction: float) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=text)

    try:
        yield progress
    finally:
        bar.empty()


def show_table(frame: pd.DataFrame, *, empty: str, **kwargs: Any) -> None:
    """``frame`` as a table, or the Chinese ``empty`` line when it has no rows.

    Streamlit draws an empty frame as a grid saying "empty" in English; users get a sentence instead.
    """
    if frame.empty:
        st.caption(empty)
        return
    st.dataframe(frame, **kwargs)


def role_label(role: str) -> str:
    """Chinese name of a role."""
    return ROLE_LABELS.get(Role(role), role)


def filter_label(value: str | None) -> str:
    """A filter's choice as shown: None, the choice that filters nothing, reads 全部."""
    return "全部" if value is None else value


def run_action(action: Callable[[], T], *, success: str | None = None) -> T | None:
    """Run a service call; show its user-facing error in Chinese instead of a traceback."""
    try:
        result = action()
    except (UserError, PermissionDenied) as exc:
        st.error(md_escape(str(exc)))  # messages quote user text (names, cells): shown as typed
        return None
    if success:
        st.success(md_escape(success))
    return result
