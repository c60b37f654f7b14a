"""Imported chat logs, the customer questions mined from them, and knowledge items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from training.models.base import Category, _json, utcnow


class ChatImport(SQLModel, table=True):
    """One uploaded chat-log file: who, when, what, how much."""

    id: int | None = Field(default=None, primary_key=True)
    file_name: str = Field(max_length=255)
    file_sha256: str = Field(max_length=64, unique=True)
    file_format: str = Field(max_length=16)
    imported_by: int | None = Field(default=None, foreign_key="user.id")
    imported_at: datetime = Field(default_factory=utcnow)
    session_count: int = 0
    message_count: int = 0
    question_count: int = 0


class ChatMessage(SQLModel, table=True):
    """One chat line, personal data already masked; ``text_clean`` is the normalised copy."""

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="chatimport.id", index=True)
    session_key: str = Field(max_length=128, index=True)
    seq: int
    role: str = Field(max_length=16)
    text: str = Field(sa_type=Text)
    text_clean: str = Field(default="", sa_type=Text)
    sent_at: datetime | None = None


class MinedQuestion(SQLModel, table=True):
    """A cluster of near-duplicate customer questions with its frequency and category."""

    id: int | None = Field(default=None, primary_key=True)
    import_id: int | None = Field(default=None, foreign_key="chatimport.id", index=True)
    question: str = Field(sa_type=Text)
    frequency: int = 1
    category: str = Field(default=Category.OTHER.value, max_length=16, index=True)
    examples: list[str] | None = _json()
    context: list[dict[str, str]] | None = _json()
    agent_replies: list[str] | None = _json()
    hidden: bool = False
    in_question_bank: bool = False
    covered_by_script_id: int | None = Field(default=None, foreign_key="script.id")
    created_at: datetime = Field(default_factory=utcnow)
    #: Every distinct customer wording counted in this cluster, so a later import that repeats a
    #: wording joins this cluster exactly (``examples`` holds only the first few for display).
    member_texts: list[str] | None = _json(nullable=True)


class QuestionFrequency(SQLModel, table=True):
    """How often one mined question was asked in one import: the trend a trainer watches."""

    __table_args__ = (UniqueConstraint("question_id", "import_id"),)

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="minedquestion.id", index=True)
    import_id: int = Field(foreign_key="chatimport.id", index=True)
    frequency: int = 0


class KnowledgeItem(SQLModel, table=True):
    """An objective product-knowledge item: single, multiple choice or true/false."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    stem: str = Field(sa_type=Text)
    options: list[str] | None = _json()
    answer: str = Field(max_length=32)
    explanation: str = Field(default="", sa_type=Text)
    sku: str = Field(default="", max_length=64)
    tags: list[str] | None = _json()
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    #: When a trainer retired (停用) it: no longer drawn into or added to papers; kept for the record.
    retired_at: datetime | None = None
