"""The one engine factory and session helpers (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine, select

from training.core import generations  # noqa: F401 - registers the change counters' session listeners
from training.core.clock import SQLITE_TEAM_DATE, sqlite_team_date
from training.core.config import get_settings

SQLITE_BUSY_TIMEOUT_MS = 15_000


POOL_SIZE, POOL_OVERFLOW = 10, 20


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files get WAL mode, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A replica serves many browser sessions at once, each holding a connection for one page
        # run: 30 per process (the default 15 starved a 20-session load test). PostgreSQL's
        # max_connections must cover replicas × 30 plus the workers (docs/deploy.md).
        return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the app read while an import writes; the busy timeout makes writers queue.
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # Team-local days for zones with daylight saving (SQLite has no tz database).
        dbapi_connection.create_function(SQLITE_TEAM_DATE, 2, sqlite_team_date, deterministic=True)

    return engine


def lock_row(*, session: Session, model: Any, row_id: int) -> None:
    """Hold ``model``'s row ``row_id`` for this transaction so that check-then-insert steps run one at a time.

    PostgreSQL takes a row lock (``SELECT … FOR UPDATE``); SQLite has no row locks, so a no-op
    ``UPDATE`` takes the database's write lock (waiting up to the busy timeout). Either way it must
    come before the reads it protects; the lock ends with the transaction's commit or rollback.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.exec(update(model).where(model.id == row_id).values(id=row_id))
    else:
        session.exec(select(model.id).where(model.id == row_id).with_for_update())


@functools.cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database URL."""
    return make_engine(get_settings().resolved_database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
