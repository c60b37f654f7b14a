"""模拟接待 drills: a real imported session replayed turn by turn, its assignments, runs and turns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from training.models.base import _json, utcnow


class DrillStatus(StrEnum):
    """A drill being built, or published (frozen; practice or assigned to cohorts)."""

    DRAFT = "draft"
    PUBLISHED = "published"


class DrillMode(StrEnum):
    """Practice (any candidate, any time) or assigned to cohorts with a window."""

    PRACTICE = "practice"
    ASSIGNED = "assigned"


class Drill(SQLModel, table=True):
    """A drill built from one imported session.

    ``turns`` holds every customer turn of the session in order: ``seq`` (the first message's
    sequence number), ``customer`` (the turn's text), ``context`` (the lines before it, as
    ``{"role", "text"}``), ``agent`` (the real agent's reply), ``gap_seconds`` (the customer's
    original pause before it, if the log had times) and ``mined_question_id`` (the mined question
    the turn belongs to, if any). ``excluded`` lists the ``seq`` of the turns left out as noise.
    """

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    import_id: int = Field(foreign_key="chatimport.id", index=True)
    session_key: str = Field(max_length=128)
    turns: list[dict[str, Any]] | None = _json()
    excluded: list[int] | None = _json()
    first_reply_seconds: int = 30
    reply_seconds: int = 60
    pass_mark: float = 0.6
    status: str = Field(default=DrillStatus.DRAFT.value, max_length=16)
    mode: str = Field(default=DrillMode.PRACTICE.value, max_length=16)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class DrillAssignment(SQLModel, table=True):
    """A drill assigned to a cohort with its window."""

    id: int | None = Field(default=None, primary_key=True)
    drill_id: int = Field(foreign_key="drill.id", index=True)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    opens_at: datetime = Field(default_factory=utcnow)
    closes_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class DrillRun(SQLModel, table=True):
    """One candidate's run through a drill; ``current_index`` is the turn on screen (resume point).

    ``draft`` keeps a typed-but-unsent reply, so a reload shows it again.
    """

    id: int | None = Field(default=None, primary_key=True)
    drill_id: int = Field(foreign_key="drill.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    assignment_id: int | None = Field(default=None, foreign_key="drillassignment.id")
    started_at: datetime = Field(default_factory=utcnow)
    current_index: int = 0
    draft: str = Field(default="", sa_type=Text)
    finished_at: datetime | None = None
    score: float | None = None
    model_version_id: int | None = Field(default=None, foreign_key="encoderversion.id")
    model_name: str = Field(default="", max_length=100)


class DrillTurn(SQLModel, table=True):
    """One customer turn of a run: when it appeared, the reply, its timing and score."""

    __table_args__ = (UniqueConstraint("run_id", "index", name="uq_drillturn_index"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="drillrun.id", index=True)
    index: int
    shown_at: datetime
    sent_at: datetime | None = None
    reply: str = Field(default="", sa_type=Text)
    response_seconds: float | None = None
    chars_per_minute: float | None = None
    score: float | None = None
    reasons: list[str] | None = _json(nullable=True)
    model_version_id: int | None = Field(default=None, foreign_key="encoderversion.id")
    model_name: str = Field(default="", max_length=100)


class CertificationDrill(SQLModel, table=True):
    """A drill a certification programme requires: a holder passed it at the programme's pass mark."""

    certification_id: int = Field(foreign_key="certification.id", primary_key=True)
    drill_id: int = Field(foreign_key="drill.id", primary_key=True)
