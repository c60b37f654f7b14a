"""Script-bank analytics for trainers: SQL aggregations of lookups, usage and feedback.

Everything is grouped in the database (SQLite and PostgreSQL), so the pages stay fast on a
large lookup log; ``scripts_bank.usage`` reports the 话术库 tab through these queries. A lookup's
hits are the scripts it showed, the first one is its top hit; feedback counts on the script's
current version. A weak lookup is one whose hits all fell under the relevance floor
(``scripts_bank.relevance``, stored as ``LookupLog.matched``) or that an agent reported as not
covered; lookups logged before the floor existed are judged by their best cosine against
``below`` (``WEAK_LOOKUP_COSINE`` mapped to the active model's scale by the pages).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from scripts_bank.analytics_sql import current_votes, outdated_comments, shown_per_script
from scripts_bank.query_screen import not_a_question
from scripts_bank.relevance import BASE_STRONG
from scripts_bank.service import APPROVED
from training.analytics.base import as_date, fetch, local_day
from training.auth.permissions import STAFF, require_role
from training.mining.categories import categorise
from training.mining.question_bank import set_flags, store_clusters
from training.models import LookupLog, MinedQuestion, Script, ScriptVersion, User, utcnow

#: Only for lookups logged before the relevance floor (``matched`` NULL): without their keyword
#: evidence, a best cosine under the floor's "strong" value is weak (shipped encoder's scale).
WEAK_LOOKUP_COSINE = BASE_STRONG

ScriptOrder = Literal["top_hits", "shown", "useful", "outdated"]
ORDER_LABELS: dict[ScriptOrder, str] = {
    "top_hits": "首位命中", "shown": "出现次数", "useful": "有用", "outdated": "过时",
}


@dataclass(frozen=True)
class DailyLookups:
    """Lookups on one team-local day: how many, how many found nothing good, by how many agents."""

    day: date
    lookups: int
    weak: int
    agents: int


@dataclass(frozen=True)
class ScriptStats:
    """One approved script's use in the period and the feedback on its current version."""

    script_id: int
    question: str
    category: str
    product: str
    top_hits: int
    shown: int
    useful: int
    outdated: int
    last_shown: datetime | None
    comments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WeakQuery:
    """A query whose best script matched poorly, with how often and by how many agents."""

    query: str
    times: int
    agents: int
    best_similarity: float | None
    last_asked: datetime
    category: str
    #: How many of these lookups an agent reported as not covered by the bank.
    reported: int = 0


def _since(days: int | None) -> datetime | None:
    return None if days is None else utcnow() - timedelta(days=days)


def _is_weak(below: float) -> Any:
    legacy = and_(col(LookupLog.matched).is_(None),
                  or_(col(LookupLog.top_score).is_(None), col(LookupLog.top_score) < below))
    return or_(col(LookupLog.matched).is_(False), col(LookupLog.reported_at).is_not(None), legacy)


def lookups_per_day(
    *, session: Session, actor: User | None, days: int | None = 30, below: float = WEAK_LOOKUP_COSINE,
) -> list[DailyLookups]:
    """Lookups per day over the last ``days`` days (None: all), oldest first (staff only)."""
    require_role(actor, *STAFF)
    day = local_day(LookupLog.created_at)
    query = sa_select(day, func.count(), func.sum(case((_is_weak(below), 1), else_=0)),
                      func.count(func.distinct(LookupLog.user_id))).group_by(day).order_by(day)
    since = _since(days)
    if since is not None:
        query = query.where(col(LookupLog.created_at) >= since)
    return [DailyLookups(as_date(d), n, int(w or 0), a)
            for d, n, w, a in fetch(session=session, query=query)]


def _script_stats(
    session: Session, *, days: int | None, category: str | None, product: str | None,
    only: Literal["all", "unused", "outdated"], order: ScriptOrder, limit: int | None,
) -> list[ScriptStats]:
    shown, votes = shown_per_script(session=session, since=_since(days)), current_votes()
    metrics = {"top_hits": func.coalesce(shown.c.top_hits, 0), "shown": func.coalesce(shown.c.shown, 0),
               "useful": func.coalesce(votes.c.useful, 0), "outdated": func.coalesce(votes.c.outdated, 0)}
    query = (
        sa_select(col(Script.id), col(ScriptVersion.question), col(Script.category), col(Script.product),
               metrics["top_hits"], metrics["shown"], metrics["useful"], metrics["outdated"],
               shown.c.last_shown)
        .join(ScriptVersion, (col(ScriptVersion.script_id) == Script.id)
              & (col(ScriptVersion.version) == Script.current_version))
        .outerjoin(shown, shown.c.script_id == Script.id)
        .outerjoin(votes, votes.c.script_id == Script.id)
        .where(col(Script.status) == APPROVED)
        .order_by(metrics[order].desc(), metrics["shown"].desc(), col(Script.id))
    )
    if category:
        query = query.where(col(Script.category) == category)
    if product:
        query = query.where(col(Script.product) == product)
    if only == "unused":
        query = query.where(shown.c.script_id.is_(None))
    elif only == "outdated":
        query = query.where(votes.c.outdated > 0)
    if limit is not None:
        query = query.limit(limit)
    rows = fetch(session=session, query=query)
    flagged = [r[0] for r in rows if r[7]]
    comments = outdated_comments(session=session, script_ids=flagged) if only == "outdated" else {}
    return [ScriptStats(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]), r[8],
                        comments.get(r[0], [])) for r in rows]


def top_scripts(
    *, session: Session, actor: User | None, days: int | None = 30, category: str | None = None,
    product: str | None = None, order: ScriptOrder = "top_hits", limit: int | None = 20,
) -> list[ScriptStats]:
    """The most used approved scripts (staff only).

    Args:
        days: lookups of the last ``days`` days count (None: all time); feedback always counts
            on the current version, whenever it was given.
        category, product: only scripts of this category / product.
        order: rank by top hits, appearances, 有用 votes or 过时 votes (ties: appearances, id).
        limit: at most this many scripts (None: every approved script).

    Returns:
        Script statistics, best first.
    """
    require_role(actor, *STAFF)
    return _script_stats(session, days=days, category=category, product=product, only="all",
                         order=order, limit=limit)


def unused_scripts(
    *, session: Session, actor: User | None, days: int | None = 30, category: str | None = None,
    product: str | None = None,
) -> list[ScriptStats]:
    """Approved scripts no lookup showed in the period, oldest id first (staff only)."""
    require_role(actor, *STAFF)
    return _script_stats(session, days=days, category=category, product=product, only="unused",
                         order="shown", limit=None)


def outdated_scripts(
    *, session: Session, actor: User | None, days: int | None = 30, category: str | None = None,
    product: str | None = None,
) -> list[ScriptStats]:
    """Approved scripts whose current version agents flagged 过时 (whenever), most flags first.

    Comments come with them; use counts (``shown``, ``top_hits``) cover the last ``days`` days.
    """
    require_role(actor, *STAFF)
    return _script_stats(session, days=days, category=category, product=product, only="outdated",
                         order="outdated", limit=None)


def weak_queries(
    *, session: Session, actor: User | None, days: int | None = 30, below: float = WEAK_LOOKUP_COSINE,
    category: str | None = None, limit: int | None = 50,
) -> list[WeakQuery]:
    """What agents searched for and found nothing good: the next exam's material (staff only).

    Args:
        days: lookups of the last ``days`` days (None: all time).
        below: a lookup logged before the relevance floor is weak when its best cosine is under
            this (or it had no hit at all); later ones are weak when no hit passed the floor or
            an agent reported the query.
        category: only queries ``training.mining.categories.categorise`` puts in this category.
        limit: at most this many queries.

    Returns:
        Queries, most asked first (ties: most recent), with the best cosine any lookup reached
        and how many times agents reported them.
    """
    require_role(actor, *STAFF)
    times, last = func.count(), func.max(LookupLog.created_at)
    reported = func.count(col(LookupLog.reported_at))
    query = (sa_select(col(LookupLog.query), times, func.count(func.distinct(LookupLog.user_id)),
                    func.max(LookupLog.top_score), last, reported)
             .where(_is_weak(below)).group_by(LookupLog.query)
             .order_by(times.desc(), last.desc(), col(LookupLog.query)))
    since = _since(days)
    if since is not None:
        query = query.where(col(LookupLog.created_at) >= since)
    if limit is not None and not category:
        query = query.limit(limit)
    found = [WeakQuery(q, n, a, best, at, categorise(q).value, r)
             for q, n, a, best, at, r in fetch(session=session, query=query)]
    if category:
        found = [w for w in found if w.category == category]
    return found[:limit] if limit is not None else found


@dataclass
class _WeakCluster:
    """A weak query in the shape ``store_clusters`` stores (training.mining.question_bank.ClusterLike)."""

    question: str
    frequency: int
    category: str
    examples: list[str]
    context: list[dict[str, str]]
    agent_replies: list[str]


@dataclass(frozen=True)
class BankAddition:
    """What 加入问题库 did with the queries a trainer chose."""

    added: int
    already: int  # in the bank under the same text
    refused: list[tuple[str, str]]  # (query, why it is not a customer question)


def add_to_question_bank(
    *, session: Session, actor: User | None, queries: Sequence[WeakQuery],
) -> BankAddition:
    """Put the weak queries a trainer chose into the question bank (ready for the next paper).

    A query already in the bank under the same text is skipped, so pressing twice adds nothing;
    one that is not a customer question (``not_a_question``: markup, a web address, no words) is
    never added, and is named in the result.
    """
    require_role(actor, *STAFF)
    chosen = list({w.query: w for w in queries}.values())
    refused = [(w.query, reason) for w in chosen if (reason := not_a_question(w.query))]
    candidates = [w for w in chosen if not not_a_question(w.query)]
    known = set(session.exec(select(MinedQuestion.question).where(
        col(MinedQuestion.question).in_([w.query for w in candidates]))).all()) if candidates else set()
    fresh = [w for w in candidates if w.query not in known]
    added = 0
    if fresh:
        stored = store_clusters(session=session, actor=actor, import_id=None, clusters=[
            _WeakCluster(w.query, w.times, w.category, [w.query], [], []) for w in fresh])
        added = set_flags(session=session, actor=actor, cluster_ids=[r.id or 0 for r in stored], in_bank=True)
    return BankAddition(added, len(known), refused)


#: Every aggregation with its page defaults, for the benchmark (bench/analytics_pg.py).
QUERIES: dict[str, Callable[[Session, User], object]] = {
    "每日查询 lookups_per_day": lambda s, u: lookups_per_day(session=s, actor=u),
    "常用话术 top_scripts": lambda s, u: top_scripts(session=s, actor=u),
    "未用话术 unused_scripts": lambda s, u: unused_scripts(session=s, actor=u),
    "过时话术 outdated_scripts": lambda s, u: outdated_scripts(session=s, actor=u),
    "未找到好答案 weak_queries": lambda s, u: weak_queries(session=s, actor=u),
}
