"""Shared UI plumbing for the pages: cached resources, the logged-in user, error display."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pages.exam_view import md_escape
from training.config import get_settings
from training.db import make_engine
from training.embeddings import DbEmbeddingStore, Embedder
from training.errors import UserError
from training.login import LoginTicket, SessionEnded, check_ticket, issue_ticket
from training.models import ROLE_LABELS, Role, User
from training.permissions import PermissionDenied

T = TypeVar("T")
USER_KEY = "user_id"
TICKET_KEY = "login_ticket"
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
    from training.encoder import load_encoder

    return Embedder(load_encoder(model), DbEmbeddingStore(_engine(url)))


#: Seconds a page run may use a cached answer to "which model is active" (other sessions see a
#: switch within this time; the session that switched sees it at once).
ACTIVE_MODEL_TTL = 15


@st.cache_data(ttl=ACTIVE_MODEL_TTL, show_spinner=False)
def _active_model(url: str) -> str:
    from training.model_versions import active_model

    with Session(_engine(url)) as session:
        return active_model(session)


def forget_active_model() -> None:
    """Drop the cached active-model answer (after a switch)."""
    _active_model.clear()


def embedder() -> Embedder:
    """The active sentence encoder (see 模型管理) with the database embedding cache.

    Each model is loaded once per process; which model is active is read from the database at
    most every ``ACTIVE_MODEL_TTL`` seconds, not on every page run.
    """
    url = get_settings().resolved_database_url
    return _embedder(url, _active_model(url))


def log_in(user: User) -> None:
    """Start this browser session's login (the login page calls it after authenticating)."""
    st.session_state[USER_KEY] = user.id
    st.session_state[TICKET_KEY] = issue_ticket(user)


def log_out(notice: str | None = None) -> None:
    """End this browser session's login; ``notice`` is shown on the login page once."""
    st.session_state.pop(USER_KEY, None)
    st.session_state.pop(TICKET_KEY, None)
    if notice:
        st.session_state[NOTICE_KEY] = notice


def current_user() -> User | None:
    """The logged-in user, re-read from the database on every run (so disabling bites at once).

    The session ends, with a Chinese notice, when it was idle or is too old, when the password
    changed since logging in (logout everywhere) or when the account was disabled.
    """
    user_id = st.session_state.get(USER_KEY)
    if user_id is None:
        return None
    ticket = st.session_state.get(TICKET_KEY)
    with db_session() as session:
        if not isinstance(ticket, LoginTicket) or ticket.user_id != user_id:
            # A user id put into the session state directly (AppTest): its clock starts now.
            found = session.get(User, user_id)
            if found is None:
                log_out()
                return None
            ticket = issue_ticket(found)
        try:
            user, ticket = check_ticket(session=session, ticket=ticket)
        except SessionEnded as exc:
            log_out(str(exc))
            return None
    st.session_state[TICKET_KEY] = ticket
    return user


@contextmanager
def progress_bar(text: str) -> Iterator[Callable[[float], None]]:
    """A progress bar for one long service call; yields the ``progress`` callback to pass it."""
    bar = st.progress(0.0, text=text)
    try:
        yield lambda fraction: bar.progress(min(max(fraction, 0.0), 1.0), text=text)
    finally:
        bar.empty()


def role_label(role: str) -> str:
    """Chinese name of a role."""
    return ROLE_LABELS.get(Role(role), role)


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
