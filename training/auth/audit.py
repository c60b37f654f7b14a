"""Audit trail: every write that matters records who did what; admins read it, nobody edits it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from training.auth.permissions import require_role
from training.models import AuditLog, Role, User

PAGE_SIZE = 50
#: An export holds at most this many entries (newest first); narrow the filters for older ones.
MAX_EXPORT_ROWS = 100_000
SYSTEM_ACTOR = "系统"


def record(
    *, session: Session, actor: User | None, action: str, target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit entry to the session (committed with the caller's transaction)."""
    session.add(AuditLog(actor_id=actor.id if actor else None, action=action, target=target,
                         detail=detail))


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry for the viewer: when, who, which action (its code), to what, with which details."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditPage:
    """One page of matching entries, newest first, and how many match in all."""

    entries: list[AuditEntry]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read: by acting user, action (or its prefix, e.g. ``user.``) and period."""

    actor_id: int | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _where(query: SelectOfScalar[Any], where: AuditFilter) -> SelectOfScalar[Any]:
    if where.actor_id is not None:
        query = query.where(AuditLog.actor_id == where.actor_id)
    if where.action:
        query = query.where(col(AuditLog.action).startswith(where.action, autoescape=True))
    if where.since is not None:
        query = query.where(col(AuditLog.at) >= where.since)
    if where.until is not None:
        query = query.where(col(AuditLog.at) < where.until)
    return query


def _entries(session: Session, where: AuditFilter, offset: int, limit: int) -> list[AuditEntry]:
    rows = session.exec(_where(select(AuditLog), where).order_by(col(AuditLog.id).desc())
                        .offset(offset).limit(limit)).all()
    ids = {r.actor_id for r in rows if r.actor_id is not None}
    names = {u.id: f"{u.username}（{u.display_name}）"
             for u in session.exec(select(User).where(col(User.id).in_(ids))).all()} if ids else {}
    return [AuditEntry(r.id or 0, r.at, names.get(r.actor_id, SYSTEM_ACTOR) if r.actor_id else SYSTEM_ACTOR,
                       r.action, r.target, dict(r.detail or {}))
            for r in rows]


def read_log(
    *, session: Session, actor: User | None, where: AuditFilter | None = None, page: int = 1,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """One page of the audit log, newest first (admins only).

    Args:
        where: filters by acting user, action prefix and period; all entries when omitted.
        page: 1-based page number; pages past the end come back empty.
        page_size: entries per page (1–500).

    Returns:
        The page's entries with the actor's username and name, the total count and page count.
    """
    require_role(actor, Role.ADMIN)
    where = where or AuditFilter()
    page_size = min(max(page_size, 1), 500)
    page = max(page, 1)
    total = session.exec(_where(select(func.count(col(AuditLog.id))), where)).one()
    return AuditPage(_entries(session, where, (page - 1) * page_size, page_size), total, page,
                     max(1, -(-total // page_size)))


def export_log(*, session: Session, actor: User | None, where: AuditFilter | None = None) -> list[AuditEntry]:
    """Every matching entry (up to MAX_EXPORT_ROWS, newest first) for a CSV export; the export is audited."""
    admin = require_role(actor, Role.ADMIN)
    where = where or AuditFilter()
    entries = _entries(session, where, 0, MAX_EXPORT_ROWS)
    record(session=session, actor=admin, action="audit.export",
           detail={"rows": len(entries), "actor_id": where.actor_id, "action": where.action,
                   "since": where.since.isoformat() if where.since else None,
                   "until": where.until.isoformat() if where.until else None})
    session.commit()
    return entries


def audit_actions(*, session: Session, actor: User | None) -> list[str]:
    """The distinct actions in the log, for the viewer's filter (admins only)."""
    require_role(actor, Role.ADMIN)
    return sorted(session.exec(select(AuditLog.action).distinct()).all())
