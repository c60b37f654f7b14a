"""Script bank reading side: approved scripts and the live lookup (role-checked)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from scripts_bank.highlight import matched_spans, segments
from scripts_bank.index_store import cached_index
from scripts_bank.lookup import BankEntry, ScriptIndex
from scripts_bank.relevance import Confidence, RelevanceFloor, content_words, keyword_evidence
from training.auth.permissions import EVERYONE, STAFF, PermissionDenied, require_role
from training.core import generations
from training.core.config import get_settings
from training.core.errors import UserError
from training.drills.runs import has_open_run
from training.exams.submission import has_open_attempt
from training.models import LookupLog, Role, Script, ScriptVersion, User, utcnow
from training.models.scripts import SCRIPT_APPROVED
from training.nlp.embeddings import Embedder

APPROVED, DRAFT, ARCHIVED = SCRIPT_APPROVED, "draft", "archived"
STATUS_LABELS = {APPROVED: "已审定", DRAFT: "草稿", ARCHIVED: "已停用"}
#: Indexes kept per process (one per database and model is the normal case).
INDEX_CACHE_SIZE = 4
#: The same user repeating the same query within this time is one lookup (page reruns).
RELOG_AFTER = timedelta(minutes=2)


class ScriptError(UserError):
    """A user-facing problem with a script (empty text, unknown category, …)."""


@dataclass(frozen=True)
class ScriptView:
    """A script with the text of its current version, as pages show it."""

    id: int
    question: str
    answer: str
    category: str
    tags: list[str]
    version: int
    product: str = ""
    variant: str = ""
    status: str = APPROVED
    mined_question_id: int | None = None
    pending_draft: int | None = None


@dataclass(frozen=True)
class LookupHit:
    """A lookup result: the script, why it ranked there, how far to trust it, the parts that match."""

    script: ScriptView
    score: float
    semantic: float
    keyword: float
    question_segments: list[tuple[str, bool]]
    answer_segments: list[tuple[str, bool]]
    confidence: Confidence = Confidence.LOW

    @property
    def reliable(self) -> bool:
        """Above the relevance floor (高 or 中): a match an agent may use."""
        return self.confidence is not Confidence.LOW


def views_of(*, session: Session, scripts: Sequence[Script]) -> list[ScriptView]:
    """Views of scripts with their current text, read in one query."""
    ids = [s.id for s in scripts if s.id is not None]
    versions: dict[tuple[int, int], ScriptVersion] = {}
    drafts: dict[int, int] = {}
    if ids:
        for v in session.exec(select(ScriptVersion).where(col(ScriptVersion.script_id).in_(ids))).all():
            versions[(v.script_id, v.version)] = v
            if v.status == DRAFT:
                drafts[v.script_id] = max(drafts.get(v.script_id, 0), v.version)
    views = []
    for script in scripts:
        assert script.id is not None
        current = versions[(script.id, script.current_version)]
        draft = drafts.get(script.id)
        views.append(ScriptView(
            script.id, current.question, current.answer, script.category, list(script.tags or []),
            script.current_version, script.product, script.variant, script.status,
            script.mined_question_id,
            draft if draft is not None and draft > script.current_version else None,
        ))
    return views


def is_staff(actor: User | None) -> bool:
    """Whether the UI should offer editing (the service checks again on every write)."""
    return actor is not None and actor.role in {Role.ADMIN.value, Role.TRAINER.value}



def reader(*, session: Session, actor: User | None) -> User:
    """Any logged-in user, except a candidate in the middle of an exam (scripts are the answers)."""
    user = require_role(actor, *EVERYONE)
    if user.role not in {r.value for r in STAFF} and has_open_attempt(session=session, user_id=user.id or 0):
        raise PermissionDenied("考试进行中，交卷前不能查看话术。")
    if user.role not in {r.value for r in STAFF} and has_open_run(session=session, user_id=user.id or 0):
        raise PermissionDenied("模拟接待进行中，完成前不能查看话术。")
    return user


def list_scripts(
    *, session: Session, actor: User | None, category: str | None = None, product: str | None = None,
    tag: str | None = None, include_drafts: bool = False, archived: bool = False, search: str = "",
) -> list[ScriptView]:
    """Scripts matching the filters: approved ones for everybody, drafts too for trainers.

    Agents and new hires only ever see approved versions (and not during an exam). ``archived``
    lists the withdrawn scripts instead (trainers and admins); ``search`` keeps the scripts whose
    question or current answer contains it (case-insensitive).
    """
    user = reader(session=session, actor=actor)
    if archived and not is_staff(user):
        raise PermissionDenied("只有培训师和管理员可以查看已停用的话术。")
    statuses = [APPROVED, DRAFT] if include_drafts and is_staff(user) else [APPROVED]
    if archived:
        statuses = [ARCHIVED]
    query = select(Script).where(col(Script.status).in_(statuses)).order_by(col(Script.id))
    if category:
        query = query.where(Script.category == category)
    if product:
        query = query.where(Script.product == product)
    views = views_of(session=session, scripts=session.exec(query).all())
    needle = search.strip().casefold()
    return [v for v in views if (not tag or tag in v.tags)
            and (not needle or needle in v.question.casefold() or needle in v.answer.casefold())]


def facets(*, session: Session, actor: User | None) -> tuple[list[str], list[str]]:
    """The products and tags used by approved scripts (for the filters)."""
    reader(session=session, actor=actor)
    rows = session.exec(select(Script.product, Script.tags).where(Script.status == APPROVED)).all()
    products = sorted({p for p, _ in rows if p})
    tags = sorted({t for _, ts in rows for t in ts or []})
    return products, tags


_index_lock = threading.Lock()
_indexes: dict[tuple[object, ...], tuple[ScriptIndex, dict[str, ScriptView]]] = {}


def forget_indexes() -> None:
    """Drop every lookup index this process keeps (a database reset or restore behind its back)."""
    with _index_lock:
        _indexes.clear()


def _bank_generation(session: Session) -> int:
    """The bank's change counter: raised by every transaction that writes a script or a version,
    on any replica (``training.core.generations``); read at most once a second per process."""
    return generations.read(session, generations.SCRIPTS)


def bank_index(
    *, session: Session, embedder: Embedder, semantic_weight: float,
) -> tuple[ScriptIndex, dict[str, ScriptView]]:
    """The lookup index over the approved bank and its scripts by id, rebuilt only when the bank changed.

    Kept per process and saved under the data dir's cache (``scripts_bank.index_store``): a
    restarted app loads it, and a changed bank re-encodes only the scripts that changed. Calling
    it ahead of time (model warm-up) makes the first lookup find the index ready.
    """
    key = (str(session.get_bind().engine.url), id(embedder), embedder.model_id, semantic_weight,
           _bank_generation(session))
    with _index_lock:
        found = _indexes.get(key)
        if found is not None:
            return found
        views = views_of(session=session, scripts=session.exec(
            select(Script).where(Script.status == APPROVED).order_by(col(Script.id))).all())
        index = cached_index([BankEntry(str(v.id), v.question, v.answer) for v in views],
                             embedder=embedder, semantic_weight=semantic_weight,
                             cache_dir=get_settings().cache_dir)
        if len(_indexes) >= INDEX_CACHE_SIZE:
            _indexes.pop(next(iter(_indexes)))
        _indexes[key] = (index, {str(v.id): v for v in views})
        return _indexes[key]


def lookup_scripts(
    *, session: Session, actor: User | None, query: str, embedder: Embedder, semantic_weight: float,
    k: int = 5, category: str | None = None, product: str | None = None, tag: str | None = None,
) -> list[LookupHit]:
    """Approved scripts best matching what the customer said (every logged-in role, not during an exam).

    Args:
        query: the customer's words as the agent typed or pasted them.
        embedder: the cached encoder; the bank index is built once per bank state.
        semantic_weight: share of the semantic score against the BM25 keyword score.
        k: at most this many hits.
        category, product, tag: optional filters.

    Returns:
        Hits, best first, with the matching parts of question and answer marked and each hit's
        confidence against the active model's relevance floor (``scripts_bank.relevance``).
        Every lookup is logged (user, query, hits, whether any hit was reliable) for the usage
        report; one without a reliable hit is a weak lookup.
    """
    user = reader(session=session, actor=actor)
    query = query.strip()
    if not query:
        return []
    index, by_id = bank_index(session=session, embedder=embedder, semantic_weight=semantic_weight)
    only = None
    if category or product or tag:
        only = [i for i, v in by_id.items()
                if (not category or v.category == category) and (not product or v.product == product)
                and (not tag or tag in v.tags)]
    hits = index.search([query], k=k, only=only)[0] if by_id else []
    floor = RelevanceFloor.for_model(embedder.model_id)
    words = content_words(query)
    results = [
        LookupHit(by_id[h.id], h.score, h.semantic, h.keyword,
                  segments(by_id[h.id].question, matched_spans(query, by_id[h.id].question)),
                  segments(by_id[h.id].answer, matched_spans(query, by_id[h.id].answer)),
                  floor.judge(h.semantic, keyword_evidence(words, by_id[h.id].question)))
        for h in hits
    ]
    _log(session, user, query, results)
    return results


def _last_log(session: Session, user: User, query: str) -> LookupLog | None:
    """The user's latest lookup if it was this query, recently (a page rerun, not a new lookup)."""
    last = session.exec(select(LookupLog).where(LookupLog.user_id == user.id)
                        .order_by(col(LookupLog.id).desc()).limit(1)).first()
    if last is not None and last.query == query[:500] and utcnow() - last.created_at < RELOG_AFTER:
        return last
    return None


def _log(session: Session, user: User, query: str, results: list[LookupHit]) -> None:
    """Log a lookup, once: the page reruns the same query when a filter or placeholder changes."""
    log = _last_log(session, user, query) or LookupLog(user_id=user.id, query=query[:500])
    log.hits = [r.script.id for r in results]
    log.top_score = results[0].semantic if results else None
    log.matched = any(r.reliable for r in results)
    session.add(log)
    session.commit()


def report_uncovered(*, session: Session, actor: User | None, query: str) -> bool:
    """An agent reports that the bank has no script for ``query``: trainers see it among weak lookups.

    Marks the agent's lookup of that query (logging one if there is none), so the report lives
    in the lookup log trainers already review; they choose which reports go to the question bank.
    Returns False when this lookup was already reported.
    """
    user = reader(session=session, actor=actor)
    query = query.strip()
    if not query:
        raise ScriptError("没有可上报的查询。")
    log = _last_log(session, user, query) or LookupLog(user_id=user.id, query=query[:500], hits=[],
                                                        matched=False)
    if log.reported_at is not None:
        return False
    log.reported_at = utcnow()
    session.add(log)
    session.commit()
    return True
