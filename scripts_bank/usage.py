"""How the bank is used: agents' feedback on scripts and the usage report for trainers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from scripts_bank.analytics import WEAK_LOOKUP_COSINE, top_scripts, weak_queries
from scripts_bank.service import APPROVED, ScriptError, ScriptView, reader, views_of
from training.models import Script, ScriptFeedback, User

FEEDBACK_KINDS = {"useful": "有用", "outdated": "过时"}
__all__ = ["FEEDBACK_KINDS", "WEAK_LOOKUP_COSINE", "ScriptUsage", "UnansweredQuery", "give_feedback",
           "usage_report", "weak_lookups"]


def give_feedback(
    *, session: Session, actor: User | None, script_id: int, kind: str, comment: str = "",
) -> bool:
    """Record an agent's 有用 / 过时 on the script's current version. False if already given."""
    user = reader(session=session, actor=actor)
    if kind not in FEEDBACK_KINDS:
        raise ScriptError("未知的反馈类型。")
    script = session.get(Script, script_id)
    if script is None or script.status != APPROVED:
        raise ScriptError("话术不存在或已停用。")
    already = session.exec(select(ScriptFeedback).where(
        ScriptFeedback.script_id == script_id, ScriptFeedback.version == script.current_version,
        ScriptFeedback.user_id == user.id, ScriptFeedback.kind == kind)).first()
    if already is not None:
        return False
    session.add(ScriptFeedback(script_id=script_id, version=script.current_version, user_id=user.id or 0,
                               kind=kind, comment=comment.strip()[:500]))
    session.commit()
    return True


@dataclass(frozen=True)
class ScriptUsage:
    """One approved script's use over the report period."""

    script: ScriptView
    top_hits: int
    shown: int
    useful: int
    outdated: int
    last_shown: datetime | None


def usage_report(*, session: Session, actor: User | None, days: int = 30) -> list[ScriptUsage]:
    """Per approved script: lookups where it came first, lookups showing it, feedback on its
    current version (trainers and admins). Most used first (``analytics.top_scripts``, all scripts)."""
    stats = top_scripts(session=session, actor=actor, days=days, order="top_hits", limit=None)
    scripts = session.exec(select(Script).where(Script.status == APPROVED)).all()
    views = {v.id: v for v in views_of(session=session, scripts=scripts)}
    return [ScriptUsage(views[u.script_id], u.top_hits, u.shown, u.useful, u.outdated, u.last_shown)
            for u in stats if u.script_id in views]


@dataclass(frozen=True)
class UnansweredQuery:
    """Something agents searched for where even the best script matched poorly."""

    query: str
    times: int
    best_similarity: float | None
    #: How many of these lookups an agent reported as not covered by the bank.
    reported: int = 0


def weak_lookups(
    *, session: Session, actor: User | None, below: float = WEAK_LOOKUP_COSINE, days: int = 30,
    limit: int = 20,
) -> list[UnansweredQuery]:
    """Weak lookups (no hit above the relevance floor, or reported by an agent; before the floor
    existed: best cosine under ``below``): material for the next exam.

    Most asked first, ties most recently asked first (``analytics.weak_queries``).
    """
    return [UnansweredQuery(w.query, w.times, w.best_similarity, w.reported)
            for w in weak_queries(session=session, actor=actor, days=days, below=below, limit=limit)]
