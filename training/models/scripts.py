"""The best-practice script bank: scripts and their versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from training.models.base import Category, _json, utcnow


class Script(SQLModel, table=True):
    """A best-practice reply (最佳话术); its text lives in versions."""

    id: int | None = Field(default=None, primary_key=True)
    question: str = Field(sa_type=Text)
    category: str = Field(default=Category.OTHER.value, max_length=16, index=True)
    tags: list[str] | None = _json()
    status: str = Field(default="approved", max_length=16, index=True)
    current_version: int = 1
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ScriptVersion(SQLModel, table=True):
    """One edit of a script; versions are never overwritten."""

    __table_args__ = (UniqueConstraint("script_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    script_id: int = Field(foreign_key="script.id", index=True)
    version: int
    question: str = Field(sa_type=Text)
    answer: str = Field(sa_type=Text)
    source_answer_id: int | None = Field(default=None, foreign_key="answer.id")
    editor_id: int | None = Field(default=None, foreign_key="user.id")
    note: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
