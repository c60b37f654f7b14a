"""Apply Alembic migrations programmatically (used by start-up, seeding and tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from training.core.config import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    """An Alembic config for this project pointed at ``url``."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade_database(url: str) -> None:
    """Bring the database at ``url`` to the newest schema."""
    command.upgrade(alembic_config(url), "head")
