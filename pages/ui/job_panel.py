"""Background jobs on the pages: start one, and show its progress from the database.

The job's row is the one truth (``training.ops.jobs``): any replica shows a job whichever replica
started it, and a reload shows it again. While a job is queued or running the panel polls every
``POLL_SECONDS``; when a job this browser watched ends, the page is drawn again (new results,
counts) with the outcome once. A failure stays on show to the trainer who started it for 10 minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import streamlit as st

from pages.ui.common import db_session, engine, run_action
from pages.ui.markdown import md_escape
from scripts_bank import jobs as job_kinds
from training.core.config import get_settings
from training.models import User, utcnow
from training.ops import jobs, worker

POLL_SECONDS = 1.0
FAILURE_SHOWN = timedelta(minutes=10)
_OUTCOME = "job_outcome:"


@st.cache_resource(show_spinner=False)
def _in_process_worker(url: str) -> bool:
    """The app's own worker thread (``HUASHU_JOB_WORKER=app``): started once per process."""
    return worker.start_in_process_worker(engine())


def ensure_worker() -> None:
    """Make sure someone will run queued jobs: this process's thread unless workers are external."""
    if get_settings().job_worker == "app":
        _in_process_worker(get_settings().resolved_database_url)


def start_job(user: User | None, kind: str, key: str, params: dict[str, Any]) -> jobs.JobView | None:
    """Queue a job as ``user`` (a clear message if the same work is already queued or running)."""
    ensure_worker()
    with db_session() as session:
        return run_action(lambda: jobs.submit(session=session, actor=user, kind=kind, key=key, params=params))


def open_job(kind: str, key: str = "") -> jobs.JobView | None:
    """The queued or running job of ``kind`` and ``key`` (to disable a second start)."""
    with db_session() as session:
        return jobs.latest_open(session=session, kind=kind, key=key)


def job_panel(user: User | None, kind: str, key: str, done: Callable[[dict[str, Any]], str]) -> None:
    """Progress of the newest job of ``kind``/``key``; ``done(result)`` words its success."""
    ensure_worker()
    label = job_kinds.KIND_NAMES.get(kind, kind)
    watch_key = f"job_watch:{kind}:{key}"
    outcome = st.session_state.pop(_OUTCOME + watch_key, None)
    if outcome is not None:
        (st.success if outcome[0] else st.error)(outcome[1])
    with db_session() as session:
        first = jobs.latest(session=session, kind=kind, key=key)

    @st.fragment(run_every=POLL_SECONDS if first is not None and first.running else None)
    def panel() -> None:
        with db_session() as session:
            now = jobs.latest(session=session, kind=kind, key=key)
        if now is None:
            return
        if now.running:
            st.session_state[watch_key] = now.id
            waiting = "排队等待处理……" if now.status == jobs.QUEUED else (now.message or "处理中……")
            st.progress(now.fraction, text=f"{label}：{md_escape(waiting)}")
            return
        if st.session_state.pop(watch_key, None) == now.id:
            text = (md_escape(done(now.result or {})) if now.succeeded
                    else f"{label}失败：{md_escape(now.error or '原因不明')}")
            st.session_state[_OUTCOME + watch_key] = (now.succeeded, text)
            st.rerun()  # the job just ended: redraw the whole page (new results, new counts)
        elif (outcome is None and not now.succeeded and user is not None and now.created_by == user.id
              and now.finished_at is not None and utcnow() - now.finished_at < FAILURE_SHOWN):
            st.error(f"{label}失败：{md_escape(now.error or '原因不明')}")

    panel()
