"""Script bank service: approved scripts, their versions and live lookup (role-checked)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from scripts_bank.lookup import BankEntry, ScriptIndex
from training import audit
from training.certification import flag_for_recertification
from training.embeddings import Embedder
from training.errors import UserError
from training.exams import has_open_attempt
from training.models import Category, Role, Script, ScriptVersion, User, utcnow
from training.permissions import EVERYONE, STAFF, PermissionDenied, require_role


class ScriptError(UserError):
    """A user-facing problem with a script (empty text, unknown category, …)."""


@dataclass(frozen=True)
class ScriptView:
    """An approved script with its current text, as pages show it."""

    id: int
    question: str
    answer: str
    category: str
    tags: list[str]
    version: int


@dataclass(frozen=True)
class LookupHit:
    """A lookup result: the script and why it ranked there."""

    script: ScriptView
    score: float
    semantic: float
    keyword: float


def _current(session: Session, script: Script) -> ScriptVersion:
    version = session.exec(
        select(ScriptVersion).where(ScriptVersion.script_id == script.id,
                                    ScriptVersion.version == script.current_version)
    ).one()
    return version


def _view(session: Session, script: Script) -> ScriptView:
    assert script.id is not None
    current = _current(session, script)
    return ScriptView(script.id, current.question, current.answer, script.category,
                      list(script.tags or []), script.current_version)


def create_script(
    *, session: Session, actor: User | None, question: str, answer: str, category: str,
    tags: list[str] | None = None, source_answer_id: int | None = None, note: str = "",
) -> ScriptView:
    """Add an approved script as version 1 (trainers and admins)."""
    editor = require_role(actor, *STAFF)
    if not question.strip() or not answer.strip():
        raise ScriptError("问题和话术内容都不能为空。")
    if category not in {c.value for c in Category}:
        raise ScriptError(f"未知分类「{category}」。")
    script = Script(question=question.strip(), category=category, tags=tags or [],
                    created_by=editor.id)
    session.add(script)
    session.flush()
    assert script.id is not None
    session.add(ScriptVersion(script_id=script.id, version=1, question=script.question,
                              answer=answer.strip(), source_answer_id=source_answer_id,
                              editor_id=editor.id, note=note))
    audit.record(session=session, actor=editor, action="script.create", target=str(script.id))
    session.commit()
    return _view(session, script)


def revise_script(
    *, session: Session, actor: User | None, script_id: int, answer: str,
    question: str | None = None, note: str = "",
) -> ScriptView:
    """Save an edit as a new version; earlier versions stay (trainers and admins)."""
    editor = require_role(actor, *STAFF)
    script = session.get(Script, script_id)
    if script is None:
        raise ScriptError("话术不存在。")
    if not answer.strip():
        raise ScriptError("话术内容不能为空。")
    script.current_version += 1
    if question and question.strip():
        script.question = question.strip()
    script.updated_at = utcnow()
    session.add(script)
    session.add(ScriptVersion(script_id=script_id, version=script.current_version,
                              question=script.question, answer=answer.strip(),
                              editor_id=editor.id, note=note))
    audit.record(session=session, actor=editor, action="script.revise", target=str(script_id),
                 detail={"version": script.current_version})
    # Holders were examined on the old wording: they re-certify (in this same transaction).
    flag_for_recertification(session, script_id=script_id,
                             reason=f"话术「{script.question[:30]}」已更新为第 {script.current_version} 版")
    session.commit()
    return _view(session, script)


def _reader(session: Session, actor: User | None) -> User:
    """Any logged-in user, except a candidate in the middle of an exam (scripts are the answers)."""
    user = require_role(actor, *EVERYONE)
    if user.role not in {r.value for r in STAFF} and has_open_attempt(session, user.id or 0):
        raise PermissionDenied("考试进行中，交卷前不能查看话术。")
    return user


def list_scripts(
    *, session: Session, actor: User | None, category: str | None = None,
) -> list[ScriptView]:
    """Approved scripts, optionally of one category (every logged-in role, not during an exam)."""
    _reader(session, actor)
    query = select(Script).where(Script.status == "approved").order_by(col(Script.id))
    if category:
        query = query.where(Script.category == category)
    return [_view(session, s) for s in session.exec(query).all()]


def script_history(*, session: Session, actor: User | None, script_id: int) -> list[ScriptVersion]:
    """Every version of a script, newest first (trainers and admins)."""
    require_role(actor, *STAFF)
    return list(session.exec(
        select(ScriptVersion).where(ScriptVersion.script_id == script_id)
        .order_by(col(ScriptVersion.version).desc())
    ).all())


def build_index(
    *, session: Session, actor: User | None, embedder: Embedder, semantic_weight: float,
) -> tuple[ScriptIndex, dict[str, ScriptView]]:
    """A lookup index over the approved scripts (what an agent may look up)."""
    views = list_scripts(session=session, actor=actor)
    by_id = {str(v.id): v for v in views}
    index = ScriptIndex([BankEntry(str(v.id), v.question, v.answer) for v in views],
                        embedder=embedder, semantic_weight=semantic_weight)
    return index, by_id


def lookup_scripts(
    *, session: Session, actor: User | None, query: str, embedder: Embedder,
    semantic_weight: float, k: int = 5,
) -> list[LookupHit]:
    """Approved scripts best matching what the customer said (every logged-in role, not during an exam)."""
    _reader(session, actor)
    if not query.strip():
        return []
    index, by_id = build_index(session=session, actor=actor, embedder=embedder,
                               semantic_weight=semantic_weight)
    hits = index.search([query.strip()], k=k)[0]
    return [LookupHit(by_id[h.id], h.score, h.semantic, h.keyword) for h in hits]


def can_edit_scripts(actor: User | None) -> bool:
    """Whether the UI should offer editing (the service checks again on every write)."""
    return actor is not None and actor.role in {Role.ADMIN.value, Role.TRAINER.value}
