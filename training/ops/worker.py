"""The worker side of the job queue (``training.ops.jobs``): claim, run with heartbeats, end once.

``claim`` takes the oldest queued job, or a running one whose worker stopped beating for longer
than the lease; ``run_claimed`` runs its handler and writes the end under the claim's attempt;
``work`` loops (``huashu worker``, or ``start_in_process_worker`` inside the app).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, create_engine, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from training.auth.permissions import PermissionDenied
from training.core import generations
from training.core.config import get_settings
from training.core.errors import UserError
from training.models import Job, utcnow
from training.ops.jobs import (
    DONE,
    FAILED,
    HEARTBEAT_SECONDS,
    MAX_ATTEMPTS,
    PROGRESS_EVERY,
    QUEUED,
    RUNNING,
    Context,
    JobView,
    get,
    handler_of,
)


def lease_seconds() -> float:
    """How long a running job may go without a heartbeat before another worker takes it over."""
    return float(get_settings().job_lease_seconds)


@dataclass(frozen=True)
class Claim:
    """A job this worker now runs, under its attempt number."""

    job_id: int
    attempt: int
    kind: str
    params: dict[str, Any]
    actor_id: int | None


def claim(engine: Engine, worker: str) -> Claim | None:
    """Take the oldest queued job, or a running one whose worker stopped beating; None if none."""
    stale = utcnow() - timedelta(seconds=lease_seconds())
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "sqlite":
            generations.bump(session, ["jobs"])  # SQLite: the write lock, so claims go one at a time
        job = session.exec(
            select(Job).where(or_(col(Job.status) == QUEUED,
                                  and_(col(Job.status) == RUNNING, col(Job.heartbeat_at) < stale)))
            .order_by(col(Job.id)).limit(1).with_for_update(skip_locked=True)).first()
        if job is None:
            session.rollback()
            return None
        now = utcnow()
        job.attempt += 1
        job.worker = worker[:100]
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        if job.attempt > MAX_ATTEMPTS:
            job.status, job.finished_at = FAILED, now
            job.error = (f"任务已中断 {MAX_ATTEMPTS} 次（处理它的进程意外退出），不再重试。"
                         "请检查服务器后重新发起。")
            session.add(job)
            session.commit()
            return None
        job.status, job.fraction = RUNNING, 0.0
        job.message = "重新开始（上次处理中断）" if job.attempt > 1 else "开始处理"
        session.add(job)
        session.commit()
        assert job.id is not None
        return Claim(job.id, job.attempt, job.kind, dict(job.params or {}), job.created_by)


def _mine(claimed: Claim) -> Any:
    return and_(col(Job.id) == claimed.job_id, col(Job.attempt) == claimed.attempt,
                col(Job.status) == RUNNING)


def _write(engine: Engine, claimed: Claim, **values: Any) -> bool:
    """Update the job's row if this claim still holds it; False once another attempt took over."""
    with Session(engine) as session:
        done = session.execute(update(Job).where(_mine(claimed)).values(**values))
        session.commit()
        return bool(getattr(done, "rowcount", 0))


_quick: dict[str, Engine] = {}


def _note(engine: Engine, claimed: Claim, **values: Any) -> None:
    """Progress and heartbeats: best effort, never waiting.

    On SQLite a handler's open write transaction holds the database's one write lock, so these
    writes skip (after 50 ms) instead of stalling the job for the busy timeout; on PostgreSQL the
    job's row is never locked by the handler and they go through.
    """
    if engine.dialect.name == "sqlite":
        url = str(engine.url)
        if url not in _quick:
            _quick[url] = create_engine(engine.url, connect_args={"timeout": 0.05})
        engine = _quick[url]
    try:
        _write(engine, claimed, **values)
    except OperationalError:
        pass  # locked for now; the next note will try again


def run_claimed(engine: Engine, claimed: Claim) -> JobView | None:
    """Run a claimed job's handler with progress and heartbeats; record its end (exactly once)."""
    stop = threading.Event()
    last = [0.0]

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            _note(engine, claimed, heartbeat_at=utcnow())

    def progress(fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY or fraction >= 1.0:
            last[0] = now
            _note(engine, claimed, fraction=min(max(float(fraction), 0.0), 1.0), message=message[:500],
                  heartbeat_at=utcnow())

    beating = threading.Thread(target=beat, name=f"job-{claimed.job_id}-heartbeat", daemon=True)
    beating.start()
    try:
        handler = handler_of(claimed.kind)
        if handler is None:
            raise UserError(f"未知的任务类型「{claimed.kind}」：请确认处理任务的进程是同一版本。")
        result = handler(Context(engine, claimed.job_id, claimed.attempt, claimed.params, claimed.actor_id,
                                 progress))
    except (UserError, PermissionDenied) as exc:
        _write(engine, claimed, status=FAILED, error=str(exc)[:2000], finished_at=utcnow())
    except Exception as exc:  # a failure must reach the page, not vanish with the worker's stderr
        traceback.print_exc(file=sys.stderr)
        _write(engine, claimed, status=FAILED, error=f"内部错误：{type(exc).__name__}: {exc}"[:2000],
               finished_at=utcnow())
    else:
        _write(engine, claimed, status=DONE, fraction=1.0, result=result or {}, finished_at=utcnow(),
               message="完成")
    finally:
        stop.set()
        beating.join(5)
    with Session(engine) as session:
        return get(session=session, job_id=claimed.job_id)


def worker_name() -> str:
    """This process as a worker: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def work(engine: Engine, *, stop: threading.Event, poll_seconds: float = 1.0, once: bool = False,
         name: str | None = None) -> int:
    """Claim and run jobs until ``stop`` is set (or, with ``once``, until the queue is empty)."""
    ran = 0
    me = name or worker_name()
    while not stop.is_set():
        try:
            claimed = claim(engine, me)
        except Exception:  # the database went away for a moment: try again, never die
            traceback.print_exc(file=sys.stderr)
            claimed = None
        if claimed is not None:
            run_claimed(engine, claimed)
            ran += 1
            continue
        if once:
            break
        stop.wait(poll_seconds)
    return ran


_in_process: dict[int, threading.Thread] = {}
_in_process_lock = threading.Lock()


def start_in_process_worker(engine: Engine) -> bool:
    """Run a worker thread inside this process (once per engine); False if one runs already."""
    with _in_process_lock:
        thread = _in_process.get(id(engine))
        if thread is not None and thread.is_alive():
            return False
        thread = threading.Thread(target=work, args=(engine,), kwargs={"stop": threading.Event()},
                                  name="huashu-job-worker", daemon=True)
        _in_process[id(engine)] = thread
        thread.start()
        return True


def wait(engine: Engine, job_id: int, timeout: float = 60.0) -> JobView | None:
    """Poll until the job is over or ``timeout`` seconds passed (tests, the CLI)."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            view = get(session=session, job_id=job_id)
        if view is None or not view.running or time.monotonic() > deadline:
            return view
        time.sleep(0.2)
