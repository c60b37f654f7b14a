"""Helpers for the security tests: a module-wide migrated database and a fingerprint of its rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import PG_URL, _reset_postgres
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import training.models  # noqa: F401  (registers every table on the metadata)
from training.core.config import get_settings
from training.core.db import get_engine, make_engine
from training.core.migrate import upgrade_database


@contextmanager
def database(folder: Path) -> Iterator[Engine]:
    """A freshly migrated database shared by a whole test module (PostgreSQL when CI sets it)."""
    if PG_URL:
        _reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{folder / 'huashu-security.db'}"
    upgrade_database(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUASHU_DATABASE_URL", url)
        get_settings.cache_clear()
        get_engine.cache_clear()
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
            get_engine().dispose()
            get_engine.cache_clear()
            get_settings.cache_clear()


def fingerprint(engine: Engine) -> str:
    """A digest of every committed row of every table (changes if any row is added, altered or removed)."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in conn.execute(table.select()))
            digest.update(f"{table.name}:{len(rows)}:".encode())
            for row in rows:
                digest.update(row.encode())
    return digest.hexdigest()
