"""Shared fixtures: a migrated database per test (SQLite or PostgreSQL) and the real encoder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from training.core import generations
from training.core.config import EMBEDDED_MODEL, get_settings
from training.core.db import get_engine, make_engine
from training.core.migrate import upgrade_database
from training.nlp.embeddings import Embedder
from training.nlp.encoder import load as _encoder_load  # noqa: F401 - loaded now so the guard below can patch it

PG_URL = os.environ.get("HUASHU_TEST_DATABASE_URL")
# Tests run queued jobs themselves (``exam_world.run_jobs``), not in a thread of the test process;
# the browser tests' servers run theirs in the app (tests/e2e/conftest.py).
os.environ["HUASHU_JOB_WORKER"] = "external"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


ENCODER_FIXTURES = {"real_encoder", "embedder"}
# Every way the code loads the real model; an unmarked test that reaches one fails (see below).
ENCODER_LOADERS = ("load_encoder", "load_sentence_transformer", "load_onnx_encoder")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use the database (CI re-runs them on PostgreSQL) or the real encoder."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "db_url" in fixtures:
            item.add_marker(pytest.mark.db)
        if fixtures & ENCODER_FIXTURES:
            item.add_marker(pytest.mark.encoder)


@pytest.fixture(autouse=True)
def _encoder_needs_marker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pytest -m "not encoder"`` is the fast lane: a test that loads the real model must say so."""
    if request.node.get_closest_marker("encoder") is not None:
        return

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("this test loads the real sentence encoder: mark it @pytest.mark.encoder")

    for name, module in list(sys.modules.items()):
        if name.startswith(("training.", "scripts_bank.", "pages.")) and module is not None:
            for loader in ENCODER_LOADERS:
                if callable(getattr(module, loader, None)):
                    monkeypatch.setattr(module, loader, refuse)


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A freshly migrated database; the app's settings point at it for the test."""
    if PG_URL:
        _reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path / 'huashu-test.db'}"
    upgrade_database(url)
    monkeypatch.setenv("HUASHU_DATABASE_URL", url)
    get_settings.cache_clear()
    if "pages.ui.common" in sys.modules:  # PostgreSQL tests share one URL: no active model carried over
        sys.modules["pages.ui.common"].forget_active_model()
    # Nor a lookup index: a reset database counts its changes from the start again, so an index
    # kept from an earlier test could carry the same change counter (training.core.generations).
    if "scripts_bank.service" in sys.modules:
        sys.modules["scripts_bank.service"].forget_indexes()
    generations.forget()
    get_engine.cache_clear()
    yield url
    get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """The engine of the test database."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def real_encoder():  # type: ignore[no-untyped-def]
    """The embedded sentence encoder, built/loaded once per test session."""
    from training.nlp.encoder.load import load_encoder

    return load_encoder(EMBEDDED_MODEL)


@pytest.fixture(scope="session")
def embedder(real_encoder) -> Embedder:  # type: ignore[no-untyped-def]
    """The real encoder without a persistent cache."""
    return Embedder(real_encoder)


@pytest.fixture
def shared_data() -> Path:
    """Path of the licensed benchmark data beside the repo (never copied into it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


def is_postgres(url: str) -> bool:
    """True if ``url`` is a PostgreSQL URL."""
    return make_url(url).get_backend_name() == "postgresql"
