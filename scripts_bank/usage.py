"""How the bank is used: agents' feedback on scripts and the usage report for trainers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from scripts_bank.service import APPROVED, ScriptError, ScriptView, reader, views_of
from training.models import LookupLog, Script, ScriptFeedback, User, utcnow
from training.permissions import STAFF, require_role

FEEDBACK_KINDS = {"useful": "有用", "outdated": "过时"}
#: A lookup whose best script's cosine is below this found nothing good (e5 cosines bunch high:
#: paraphrase pairs sit around 0.93–0.99, unrelated questions around 0.85–0.9).
WEAK_LOOKUP_COSINE = 0.9


def give_feedback(
    *, session: Session, actor: User | None, script_id: int, kind: str, comment: str = "",
) -> bool:
    """Record an agent's 有用 / 过时 on the script's current version. False if already given."""
    user = reader(session, actor)
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
    current version (trainers and admins). Most used first."""
    require_role(actor, *STAFF)
    since = utcnow() - timedelta(days=days)
    top: Counter[int] = Counter()
    shown: Counter[int] = Counter()
    last: dict[int, datetime] = {}
    for log in session.exec(select(LookupLog).where(col(LookupLog.created_at) >= since)).all():
        for rank, script_id in enumerate(log.hits or []):
            shown[script_id] += 1
            top[script_id] += rank == 0
            last[script_id] = max(last.get(script_id, log.created_at), log.created_at)
    scripts = session.exec(select(Script).where(Script.status == APPROVED).order_by(col(Script.id))).all()
    votes: Counter[tuple[int, str]] = Counter()
    current = {s.id: s.current_version for s in scripts}
    for fb in session.exec(select(ScriptFeedback)).all():
        if current.get(fb.script_id) == fb.version:
            votes[(fb.script_id, fb.kind)] += 1
    report = [ScriptUsage(v, top[v.id], shown[v.id], votes[(v.id, "useful")], votes[(v.id, "outdated")],
                          last.get(v.id)) for v in views_of(session, scripts)]
    report.sort(key=lambda u: (-u.top_hits, -u.shown, u.script.id))
    return report


@dataclass(frozen=True)
class UnansweredQuery:
    """Something agents searched for where even the best script matched poorly."""

    query: str
    times: int
    best_similarity: float | None


def weak_lookups(
    *, session: Session, actor: User | None, below: float = WEAK_LOOKUP_COSINE, days: int = 30,
    limit: int = 20,
) -> list[UnansweredQuery]:
    """Queries whose best hit's cosine was under ``below`` (or no hit): material for the next exam."""
    require_role(actor, *STAFF)
    since = utcnow() - timedelta(days=days)
    rows = session.exec(select(LookupLog).where(col(LookupLog.created_at) >= since)).all()
    weak: dict[str, list[float | None]] = {}
    for log in rows:
        if log.top_score is None or log.top_score < below:
            weak.setdefault(log.query, []).append(log.top_score)
    found = [UnansweredQuery(q, len(s), max((x for x in s if x is not None), default=None))
             for q, s in weak.items()]
    found.sort(key=lambda u: (-u.times, u.query))
    return found[:limit]
