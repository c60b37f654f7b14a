"""Change counters shared by every app process: how a change on one replica reaches the others.

Each kind of shared state has a row in ``cachegeneration`` (name, value). Any transaction that
writes a table of that state raises the counter in the same transaction — automatically: a
``before_flush`` listener on every ORM session looks at the objects it is about to write
(``TRACKED``), so no code path can forget. A process keeps its caches keyed by the counter and
reads it with ``read``, at most once per ``MAX_AGE`` seconds per process (a primary-key lookup),
so a change committed on any replica is seen everywhere within ``MAX_AGE`` seconds plus one run.

States: ``scripts`` (the approved bank: the lookup index), ``model`` (which encoder is active),
``lint`` (the lint phrase list), ``rubrics`` (review rubrics).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

SCRIPTS, MODEL, LINT, RUBRICS = "scripts", "model", "lint", "rubrics"
#: Table name -> the state its rows belong to.
TRACKED = {"script": SCRIPTS, "scriptversion": SCRIPTS, "encoderversion": MODEL, "lintphrase": LINT,
           "rubric": RUBRICS}
#: Seconds a process may use a counter it read (the documented bound of a cross-replica delay).
MAX_AGE = 1.0
_BUMPED = "huashu_generations_bumped"
_BUMP = text("INSERT INTO cachegeneration (name, value) VALUES (:name, 1) "
             "ON CONFLICT (name) DO UPDATE SET value = cachegeneration.value + 1")
_lock = threading.Lock()
_seen: dict[tuple[int, str], tuple[float, int]] = {}  # (id of the engine, name) -> (read at, value)


def bump(session: OrmSession, names: Iterable[str]) -> None:
    """Raise the counters of ``names`` in the session's transaction (once per transaction each)."""
    done: set[str] = session.info.setdefault(_BUMPED, set())
    for name in sorted(set(names) - done):
        session.connection().execute(_BUMP, {"name": name})
        done.add(name)


def _touched(session: OrmSession) -> set[str]:
    names = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        name = TRACKED.get(getattr(obj, "__tablename__", ""))
        if name is not None and (obj not in session.dirty or session.is_modified(obj)):
            names.add(name)
    return names


@event.listens_for(OrmSession, "before_flush")
def _before_flush(session: OrmSession, _context: object, _instances: object) -> None:
    if names := _touched(session):
        bump(session, names)


@event.listens_for(OrmSession, "after_commit")
def _committed(session: OrmSession) -> None:
    # This process sees its own change at once; the others within MAX_AGE.
    if names := session.info.pop(_BUMPED, None):
        engine = id(session.get_bind().engine)
        with _lock:
            for name in names:
                _seen.pop((engine, name), None)


@event.listens_for(OrmSession, "after_rollback")
def _rolled_back(session: OrmSession) -> None:
    session.info.pop(_BUMPED, None)


def read(bind: Engine | OrmSession, name: str, *, max_age: float | None = None) -> int:
    """The counter of ``name`` (0 before any change), re-read at most every ``max_age`` seconds.

    Given a session, the read goes through that session's connection: a request that already
    holds a pooled connection never waits for a second one (with every connection of the pool
    taken, that wait would never end).
    """
    engine = bind.get_bind().engine if isinstance(bind, OrmSession) else bind
    key = (id(engine), name)
    now = time.monotonic()
    with _lock:
        seen = _seen.get(key)
        if seen is not None and now - seen[0] < (MAX_AGE if max_age is None else max_age):
            return seen[1]
    query = text("SELECT value FROM cachegeneration WHERE name = :name")
    if isinstance(bind, OrmSession):
        value = bind.connection().execute(query, {"name": name}).scalar()
    else:
        with engine.connect() as conn:
            value = conn.execute(query, {"name": name}).scalar()
    with _lock:
        _seen[key] = (now, int(value or 0))
    return int(value or 0)


def forget() -> None:
    """Drop what this process read (the next ``read`` asks the database; for tests and switches)."""
    with _lock:
        _seen.clear()
