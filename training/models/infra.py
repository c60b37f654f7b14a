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
