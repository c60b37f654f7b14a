"""SQLModel tables for the whole Huashu domain (schema changes go through Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timezone-aware UTC now (SQLModel's UTCDateTime columns require aware values)."""
    return datetime.now(UTC)


def _json(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


class Role(StrEnum):
    """Who a user is; decides what the service layer lets them do."""

    ADMIN = "admin"
    TRAINER = "trainer"
    AGENT = "agent"
    NEW_HIRE = "new_hire"


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "管理员",
    Role.TRAINER: "培训师",
    Role.AGENT: "客服",
    Role.NEW_HIRE: "新人",
}


class Category(StrEnum):
    """Customer-question categories used for mining, scripts and analytics."""

    PRESALE = "售前咨询"
    PRICE = "价格优惠"
    LOGISTICS = "物流配送"
    RETURN = "退换货"
    REFUND = "退款"
    REPAIR = "售后维修"
    INVOICE = "发票"
    PAYMENT = "账户支付"
    OTHER = "其他"


# --- accounts -----------------------------------------------------------------------------


class Cohort(SQLModel, table=True):
    """A group of agents trained and examined together (e.g. 2026年11月新人班)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class UserBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16, index=True)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id")


class User(UserBase, table=True):
    """A person who logs in; only the argon2 hash of the password is stored."""

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    joined_at: datetime = Field(default_factory=utcnow)


class UserPublic(UserBase):
    """What pages may see of a user (never the hash)."""

    id: int
    is_active: bool
    created_at: datetime


# --- chat logs and mined questions --------------------------------------------------------


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


# --- exams --------------------------------------------------------------------------------


class ExamPaper(SQLModel, table=True):
    """An exam paper: scenario questions from real chats plus objective items."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    status: str = Field(default="draft", max_length=16)
    time_limit_minutes: int = 60
    pass_mark: float = 0.8
    shuffle: bool = True
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class ExamItem(SQLModel, table=True):
    """One slot on a paper: a fixed mined question or knowledge item, or a random draw.

    ``kind`` is "scenario" or "objective" (fixed), or "random_scenario" / "random_objective":
    each candidate then gets their own question from ``draw_category`` (any category if null).
    """

    __table_args__ = (UniqueConstraint("paper_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    paper_id: int = Field(foreign_key="exampaper.id", index=True)
    position: int
    kind: str = Field(max_length=16)
    draw_category: str | None = Field(default=None, max_length=32)
    mined_question_id: int | None = Field(default=None, foreign_key="minedquestion.id")
    knowledge_item_id: int | None = Field(default=None, foreign_key="knowledgeitem.id")
    prompt: str = Field(sa_type=Text)
    context: list[dict[str, str]] | None = _json()
    points: float = 1.0


class ExamAssignment(SQLModel, table=True):
    """A paper published to a cohort or a single user, with its window and attempt limit."""

    id: int | None = Field(default=None, primary_key=True)
    paper_id: int = Field(foreign_key="exampaper.id", index=True)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    opens_at: datetime = Field(default_factory=utcnow)
    closes_at: datetime | None = None
    max_attempts: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class Attempt(SQLModel, table=True):
    """One sitting of an exam; the deadline lives here, on the server."""

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="examassignment.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    started_at: datetime = Field(default_factory=utcnow)
    deadline_at: datetime
    submitted_at: datetime | None = None
    status: str = Field(default="in_progress", max_length=16)
    score: float | None = None


class Answer(SQLModel, table=True):
    """A candidate's answer to one item, saved as typed (autosave overwrites in place)."""

    __table_args__ = (UniqueConstraint("attempt_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempt.id", index=True)
    item_id: int = Field(foreign_key="examitem.id", index=True)
    text: str = Field(default="", sa_type=Text)
    choice: str = Field(default="", max_length=32)
    saved_at: datetime = Field(default_factory=utcnow)
    time_spent_seconds: float = 0.0
    chars_per_minute: float | None = None
    auto_score: float | None = None


class Review(SQLModel, table=True):
    """A trainer's rubric score of one answer, in [0, 1]."""

    __table_args__ = (UniqueConstraint("answer_id", "reviewer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answer.id", index=True)
    reviewer_id: int = Field(foreign_key="user.id")
    score: float
    rubric: dict[str, float] | None = _json(nullable=True)
    comment: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


# --- script bank --------------------------------------------------------------------------


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


# --- certification ------------------------------------------------------------------------


class Certification(SQLModel, table=True):
    """A qualification (e.g. 上岗资格) earned by passing a paper; valid for some days."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=Text)
    paper_id: int | None = Field(default=None, foreign_key="exampaper.id")
    pass_mark: float = 0.8
    valid_days: int = 180
    required_for_duty: bool = True


class Certificate(SQLModel, table=True):
    """A certification granted to one user, with its expiry."""

    id: int | None = Field(default=None, primary_key=True)
    certification_id: int = Field(foreign_key="certification.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    attempt_id: int | None = Field(default=None, foreign_key="attempt.id")
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


# --- infrastructure -----------------------------------------------------------------------


class AuditLog(SQLModel, table=True):
    """Who did what to what, for every write that matters."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=200)
    detail: dict[str, Any] | None = _json(nullable=True)


class EmbeddingCache(SQLModel, table=True):
    """A text's embedding under one model, computed once (float32 bytes)."""

    model_id: str = Field(max_length=255, primary_key=True)
    text_hash: str = Field(max_length=64, primary_key=True)
    dim: int
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
