"""Audit trail: every write that matters records who did what."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from training.models import AuditLog, User


def record(
    *, session: Session, actor: User | None, action: str, target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit entry to the session (committed with the caller's transaction)."""
    session.add(AuditLog(actor_id=actor.id if actor else None, action=action, target=target,
                         detail=detail))
