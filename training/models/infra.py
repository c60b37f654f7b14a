"""Infrastructure tables: the audit log and the embedding cache."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from training.models.base import _json, utcnow


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


class EncoderVersion(SQLModel, table=True):
    """A sentence encoder the app can use: the shipped one or a version saved by ``huashu adapt``.

    ``path`` is the model folder relative to the data dir (empty for the shipped encoder);
    ``report`` holds the held-out figures before and after adaptation and the training counts.
    Exactly one row is ``active`` once a trainer has switched; none means the configured model.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    path: str = Field(default="", max_length=500)
    base_model: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    active: bool = False
    report: dict[str, Any] | None = _json(nullable=True)


class CacheGeneration(SQLModel, table=True):
    """A counter per kind of shared state (the script bank, the active model, lint rules, rubrics).

    Every transaction that changes that state raises the counter (``training.core.generations``);
    each app process compares the counter with the one its cache was built at, so a change made on
    one replica reaches the caches of all of them.
    """

    name: str = Field(max_length=32, primary_key=True)
    value: int = 0


class Job(SQLModel, table=True):
    """A long task in the durable queue (``training.ops.jobs``): who started it, progress, outcome.

    ``status`` is queued → running → done | failed. A worker claims a queued job (or a running one
    whose ``heartbeat_at`` went stale: its worker died) and raises ``attempt``; only the claim that
    holds the current ``attempt`` may report progress or finish it, so a job ends exactly once.
    ``key`` names what the job is about (e.g. a paper id) so a second start of the same work waits.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    key: str = Field(default="", max_length=100)
    params: dict[str, Any] | None = _json(nullable=True)
    status: str = Field(default="queued", max_length=16, index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 0
    worker: str = Field(default="", max_length=100)
    fraction: float = 0.0
    message: str = Field(default="", max_length=500)
    result: dict[str, Any] | None = _json(nullable=True)
    error: str | None = Field(default=None, max_length=2000)
