"""Exam papers, assignments, attempts, answers and reviews; certification."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from training.models.base import _json, utcnow


class PaperStatus(StrEnum):
    """Where a paper stands: a draft being built, or published (frozen, assigned to cohorts)."""

    DRAFT = "draft"
    PUBLISHED = "published"


class AttemptStatus(StrEnum):
    """Where an attempt stands: being sat, or handed in (by the candidate or at the deadline)."""

    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


class ExamState(StrEnum):
    """Where an assigned exam stands for its candidate (the state on a 我的考试 card)."""

    NOT_OPEN = "未开放"
    OPEN = "可参加"
    SITTING = "作答中"
    TAKEN = "已交卷"
    CLOSED = "已结束"


class ExamPaper(SQLModel, table=True):
    """An exam paper: scenario questions from real chats plus objective items."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    status: str = Field(default=PaperStatus.DRAFT.value, max_length=16)
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
    """One sitting of an exam; the deadline lives here, on the server.

    ``number`` counts a candidate's attempts per assignment; the unique constraint is what
    makes starting idempotent when two requests race. ``questions`` freezes the paper as
    drawn for this sitting, so a resumed or reviewed attempt never changes under the
    candidate when the question bank does.
    """

    __table_args__ = (UniqueConstraint("assignment_id", "user_id", "number", name="uq_attempt_number"),)

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="examassignment.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    started_at: datetime = Field(default_factory=utcnow)
    deadline_at: datetime
    submitted_at: datetime | None = None
    status: str = Field(default=AttemptStatus.IN_PROGRESS.value, max_length=16)
    score: float | None = None
    number: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    questions: list[dict[str, Any]] | None = _json(nullable=True)
    auto_submitted: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    released_at: datetime | None = None


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
    flagged: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    score: float | None = None
    score_detail: dict[str, Any] | None = _json(nullable=True)


class SittingFigure(SQLModel, table=True):
    """A released sitting as the dashboards count it, filed in the release's transaction.

    ``cohort_id`` (0: none) and ``role`` are the candidate's as of the release, ``day`` the
    team-local day of submission in ``zone``: the key its answers were added to ``ItemFigure``
    and ``ItemDayFigure`` under. The dashboards compare them with the person's current cohort and
    role (and the zone) and correct for the sittings that no longer match
    (``training.analytics.figures``). ``typed_answers`` and ``typed_cpm`` are the count and sum of
    its answers' ``chars_per_minute`` (typing speed).
    """

    attempt_id: int = Field(foreign_key="attempt.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    cohort_id: int = 0
    role: str = Field(max_length=16)
    day: date
    zone: str = Field(max_length=64)
    typed_answers: int = 0
    typed_cpm: float = 0.0


class ItemFigure(SQLModel, table=True):
    """Item-analysis sums of one paper slot over the released sittings of one cohort and role.

    The count of scored answers and the sums Σx, Σy, Σxy, Σx², Σy² (x the answer's score share,
    y its sitting's score), keyed as the sittings' ``SittingFigure``. Releasing adds to these
    rows in the same transaction.
    """

    item_id: int = Field(foreign_key="examitem.id", primary_key=True)
    cohort_id: int = Field(default=0, primary_key=True)
    role: str = Field(max_length=16, primary_key=True)
    n: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxy: float = 0.0
    sxx: float = 0.0
    syy: float = 0.0


class ItemDayFigure(SQLModel, table=True):
    """``ItemFigure`` split by the team-local day of submission (in ``zone``), for a period filter."""

    item_id: int = Field(foreign_key="examitem.id", primary_key=True)
    cohort_id: int = Field(default=0, primary_key=True)
    role: str = Field(max_length=16, primary_key=True)
    day: date = Field(primary_key=True)
    zone: str = Field(max_length=64, primary_key=True)
    n: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxy: float = 0.0
    sxx: float = 0.0
    syy: float = 0.0


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
    rubric_id: int | None = Field(default=None, foreign_key="rubric.id")
    auto_fail: list[str] | None = _json(nullable=True)
    updated_at: datetime | None = None


class Rubric(SQLModel, table=True):
    """Weighted review criteria (礼貌称呼, 准确解决, …) and auto-fail items; trainers edit them."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    criteria: list[dict[str, Any]] | None = _json()
    auto_fail: list[str] | None = _json()
    is_default: bool = False
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = Field(default_factory=utcnow)


class Certification(SQLModel, table=True):
    """A certification programme (e.g. 上岗认证 for one product line): pass its papers."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=Text)
    product_line: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    pass_mark: float = 0.8
    valid_days: int = 180
    required_for_duty: bool = True


class CertificationPaper(SQLModel, table=True):
    """A paper a programme requires: a holder passed each one."""

    certification_id: int = Field(foreign_key="certification.id", primary_key=True)
    paper_id: int = Field(foreign_key="exampaper.id", primary_key=True)


class Certificate(SQLModel, table=True):
    """A certification granted to one user, with its expiry."""

    id: int | None = Field(default=None, primary_key=True)
    certification_id: int = Field(foreign_key="certification.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    attempt_id: int | None = Field(default=None, foreign_key="attempt.id")
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    number: str = Field(default="", max_length=32, index=True, sa_column_kwargs={"server_default": ""})
    recert_reason: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    recert_flagged_at: datetime | None = None
