"""The best-practice script bank: scripts, their versions, feedback, lookups and lint phrases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.sql.expression import Select

from training.models.base import Category, _json, utcnow


class Script(SQLModel, table=True):
    """A best-practice reply (最佳话术); its text lives in versions.

    ``status`` is ``draft`` until a version is approved, then ``approved`` (agents see it) or
    ``archived``. ``current_version`` is the approved version agents read; a newer draft version
    waits for approval. Several scripts covering one mined question are its variants.
    """

    id: int | None = Field(default=None, primary_key=True)
    question: str = Field(sa_type=Text)
    category: str = Field(default=Category.OTHER.value, max_length=16, index=True)
    tags: list[str] | None = _json()
    status: str = Field(default="approved", max_length=16, index=True)
    current_version: int = 1
    product: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    variant: str = Field(default="", max_length=50, sa_column_kwargs={"server_default": ""})
    # No foreign key: minedquestion.covered_by_script_id already points the other way, and a
    # cycle of foreign keys breaks table ordering. Service code keeps the two consistent.
    mined_question_id: int | None = Field(default=None, index=True)
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
    status: str = Field(default="approved", max_length=16, sa_column_kwargs={"server_default": "approved"})
    approved_by: int | None = Field(default=None, foreign_key="user.id")
    approved_at: datetime | None = None
    source_answer_ids: list[int] | None = _json(nullable=True)


#: ``Script.status`` of a script agents can look up: its ``current_version`` is approved.
SCRIPT_APPROVED = "approved"


def approved_current_versions() -> Select[Script, ScriptVersion]:
    """Every approved script with its current version, the text agents read (the one query for it).

    Narrow it with ``.where`` (one script: ``.where(col(Script.id) == script_id)``).
    """
    return select(Script, ScriptVersion).where(
        col(Script.status) == SCRIPT_APPROVED, col(ScriptVersion.script_id) == col(Script.id),
        col(ScriptVersion.version) == col(Script.current_version))


class ScriptFeedback(SQLModel, table=True):
    """An agent's verdict on a script version from the lookup page: useful or outdated."""

    id: int | None = Field(default=None, primary_key=True)
    script_id: int = Field(foreign_key="script.id", index=True)
    version: int
    user_id: int = Field(foreign_key="user.id")
    kind: str = Field(max_length=16)
    comment: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class LookupLog(SQLModel, table=True):
    """One live lookup: what was typed and which scripts came back (for usage analytics)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    query: str = Field(sa_type=Text)
    hits: list[int] | None = _json(nullable=True)
    top_score: float | None = None
    #: Whether a hit passed the relevance floor (None: logged before the floor existed).
    matched: bool | None = None
    #: When the agent reported the query as not covered by the bank.
    reported_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class LintPhrase(SQLModel, table=True):
    """A phrase the answer lint penalises (editable by trainers; see training.ranking.lint)."""

    __table_args__ = (UniqueConstraint("kind", "phrase", name="uq_lintphrase_kind_phrase"),)

    id: int | None = Field(default=None, primary_key=True)
    phrase: str = Field(max_length=50)
    kind: str = Field(max_length=24)
    reason: str = Field(default="", sa_type=Text)
    whole_reply: bool = False
    penalty: float = 0.2
    exceptions: list[str] | None = _json(nullable=True)
    active: bool = True
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = Field(default_factory=utcnow)
