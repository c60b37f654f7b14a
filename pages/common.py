"""Shared UI plumbing for the pages: cached resources, the logged-in user, error display."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from training.config import get_settings
from training.db import make_engine
from training.embeddings import DbEmbeddingStore, Embedder
from training.errors import UserError
from training.models import ROLE_LABELS, Role, User
from training.permissions import PermissionDenied

T = TypeVar("T")
USER_KEY = "user_id"


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


def embedder() -> Embedder:
    """The active sentence encoder (see 模型管理) with the database embedding cache.

    Each model is loaded once per process; switching the active version takes effect on the
    next page run of every session.
    """
    from training.model_versions import active_model

    with db_session() as session:
        model = active_model(session)
    return _embedder(get_settings().resolved_database_url, model)


def current_user() -> User | None:
    """The logged-in user, re-read from the database on every run (so disabling bites at once)."""
    user_id = st.session_state.get(USER_KEY)
    if user_id is None:
        return None
    with db_session() as session:
        user = session.get(User, user_id)
    if user is None or not user.is_active:
        st.session_state.pop(USER_KEY, None)
        return None
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
        st.error(str(exc))
        return None
    if success:
        st.success(success)
    return result
