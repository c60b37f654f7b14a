"""SQL building blocks of the script-bank analytics (``scripts_bank.analytics``), grouped in the database.

Per script: how many lookups showed it and put it first (the lookup log's JSON hit lists, unnested
the SQLite or the PostgreSQL way), the 有用/过时 votes on its current version, and the 过时 comments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, case, cast, func, true
from sqlalchemy import select as sa_select
from sqlalchemy.sql import Subquery
from sqlmodel import Session, col, select

from training.models import LookupLog, Script, ScriptFeedback


def shown_per_script(*, session: Session, since: datetime | None) -> Subquery:
    """Per script id: lookups showing it, lookups where it came first, the latest such lookup."""
    if session.get_bind().dialect.name == "postgresql":
        # a NULL list is stored as JSON null, which json_array_elements refuses
        hits = case((func.json_typeof(LookupLog.hits) == "array", LookupLog.hits), else_=None)
        hit = func.json_array_elements_text(hits).table_valued(
            "value", with_ordinality="position").render_derived(name="hit")
        first = hit.c.position == 1
        query = sa_select().select_from(LookupLog).join(hit, true())
    else:
        hit = func.json_each(LookupLog.hits).table_valued("key", "value", name="hit")
        first = hit.c.key == 0
        query = sa_select().select_from(LookupLog).join(hit, true())
    script_id = cast(hit.c.value, Integer)
    query = query.add_columns(script_id.label("script_id"), func.count().label("shown"),
                              func.sum(case((first, 1), else_=0)).label("top_hits"),
                              func.max(LookupLog.created_at).label("last_shown")).group_by(script_id)
    if since is not None:
        query = query.where(col(LookupLog.created_at) >= since)
    return query.subquery("shown")


def current_votes() -> Subquery:
    """Per script id: useful and outdated votes on the script's current version."""
    kind = col(ScriptFeedback.kind)
    return (
        sa_select(col(ScriptFeedback.script_id).label("script_id"),
               func.sum(case((kind == "useful", 1), else_=0)).label("useful"),
               func.sum(case((kind == "outdated", 1), else_=0)).label("outdated"))
        .join(Script, (col(Script.id) == ScriptFeedback.script_id)
              & (col(Script.current_version) == ScriptFeedback.version))
        .group_by(col(ScriptFeedback.script_id))
        .subquery("votes")
    )


def outdated_comments(*, session: Session, script_ids: Sequence[int]) -> dict[int, list[str]]:
    """Non-empty 过时 comments on the current versions of ``script_ids``, newest first."""
    if not script_ids:
        return {}
    rows = session.exec(
        select(ScriptFeedback.script_id, ScriptFeedback.comment)
        .join(Script, (col(Script.id) == ScriptFeedback.script_id)
              & (col(Script.current_version) == ScriptFeedback.version))
        .where(col(ScriptFeedback.script_id).in_(list(script_ids)), ScriptFeedback.kind == "outdated",
               ScriptFeedback.comment != "")
        .order_by(col(ScriptFeedback.created_at).desc(), col(ScriptFeedback.id).desc())
    ).all()
    found: dict[int, list[str]] = {}
    for script_id, comment in rows:
        found.setdefault(script_id, []).append(comment)
    return found
