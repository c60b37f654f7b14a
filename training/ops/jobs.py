"""Long work as durable jobs in the database: one queue for every app replica and worker.

This module is the queue as pages see it (submit, read); ``training.ops.worker`` runs the jobs.

A page ``submit``s a job (kind, key, parameters, who); a worker — ``huashu worker``, or a thread
inside the app when ``HUASHU_JOB_WORKER=app`` (the default, for the single-machine SQLite set-up)
— ``claim``s it and runs the kind's handler, writing progress to the job's row; every replica
reads the row, so a page shows a job another replica started. Why a table and not a queue library
(procrastinate): the same code must run on SQLite, which such libraries do not support, and a
claim is one statement (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite).

Dying mid-job loses nothing: a running job whose heartbeat is older than the lease
(``HUASHU_JOB_LEASE_SECONDS``) is claimed again and run from the start, at most ``MAX_ATTEMPTS``
times. Each claim raises ``attempt``; progress and the end are written only under the claim's own
attempt, so a job finishes exactly once even if an old worker wakes up. Handlers commit their
results in one transaction (or are safe to repeat), so a half-done attempt is never shown as done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from training.auth.permissions import STAFF, require_role
from training.core import generations
from training.core.errors import UserError
from training.models import Job, User

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
MAX_ATTEMPTS = 3
HEARTBEAT_SECONDS = 2.0
PROGRESS_EVERY = 0.5
#: Progress callback handed to a handler: (fraction done in [0, 1], message).
Progress = Callable[[float, str], None]


class JobBusy(UserError):
    """The same work (kind and key) is already queued or running."""


@dataclass(frozen=True)
class JobView:
    """One job as pages show it."""

    id: int
    kind: str
    key: str
    status: str
    fraction: float
    message: str
    attempt: int
    created_by: int | None
    created_at: datetime
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None
    params: dict[str, Any]

    @property
    def running(self) -> bool:
        """Queued or running: not over yet."""
        return self.status in (QUEUED, RUNNING)

    @property
    def succeeded(self) -> bool:
        return self.status == DONE


def _view(job: Job) -> JobView:
    assert job.id is not None
    return JobView(job.id, job.kind, job.key, job.status, job.fraction, job.message, job.attempt,
                   job.created_by, job.created_at, job.finished_at, job.result, job.error,
                   dict(job.params or {}))


@dataclass
class Context:
    """What a handler gets: the database, the job's parameters, who started it, and progress."""

    engine: Engine
    job_id: int
    attempt: int
    params: dict[str, Any]
    actor_id: int | None
    progress: Progress

    def session(self) -> Session:
        """A new session on the job's database (the handler closes it)."""
        return Session(self.engine, expire_on_commit=False)

    def actor(self, session: Session) -> User | None:
        """The user who started the job, loaded in ``session``."""
        return session.get(User, self.actor_id) if self.actor_id is not None else None


Handler = Callable[[Context], dict[str, Any] | None]
_handlers: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """Make ``handler`` run the jobs of ``kind`` (``scripts_bank.jobs`` registers every kind)."""
    _handlers[kind] = handler


def handler_of(kind: str) -> Handler | None:
    """The handler registered for ``kind``, if any."""
    return _handlers.get(kind)


def submit(
    *, session: Session, actor: User | None, kind: str, key: str = "", params: dict[str, Any] | None = None,
) -> JobView:
    """Queue a job (trainers and admins); JobBusy if the same kind and key is queued or running."""
    starter = require_role(actor, *STAFF)
    # Two replicas submitting at once: the counter's row lock makes the check-then-insert one at a time.
    generations.bump(session, [f"job:{kind}"[:32]])
    if latest_open(session=session, kind=kind, key=key) is not None:
        session.rollback()
        raise JobBusy("同样的任务已在排队或运行中，请等它完成后再试。")
    job = Job(kind=kind, key=key, params=params or {}, created_by=starter.id)
    session.add(job)
    session.commit()
    session.refresh(job)
    return _view(job)


def latest_open(*, session: Session, kind: str, key: str = "") -> JobView | None:
    """The queued or running job of ``kind`` and ``key``, if any."""
    job = session.exec(select(Job).where(Job.kind == kind, Job.key == key,
                                         col(Job.status).in_([QUEUED, RUNNING]))
                       .order_by(col(Job.id).desc())).first()
    return _view(job) if job is not None else None


def latest(*, session: Session, kind: str, key: str = "") -> JobView | None:
    """The newest job of ``kind`` and ``key`` in any state (what a page shows), or None."""
    job = session.exec(select(Job).where(Job.kind == kind, Job.key == key)
                       .order_by(col(Job.id).desc())).first()
    return _view(job) if job is not None else None


def get(*, session: Session, job_id: int) -> JobView | None:
    """One job by id."""
    job = session.get(Job, job_id)
    return _view(job) if job is not None else None
