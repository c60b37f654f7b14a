"""Writing the script bank: drafts, approval, versions with diffs, variants, import and export."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from scripts_bank.io import ScriptRow
from scripts_bank.placeholders import placeholder_problems
from scripts_bank.service import APPROVED, ARCHIVED, DRAFT, ScriptError, ScriptView, views_of
from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.certification.recertification import flag_for_recertification
from training.models import Answer, Category, MinedQuestion, Script, ScriptVersion, User, utcnow

MAX_SCRIPT_CHARS = 2000
MAX_TAGS = 10


@dataclass(frozen=True)
class VersionView:
    """One version of a script with who wrote and approved it and its diff to the previous one."""

    version: int
    question: str
    answer: str
    status: str
    editor: str
    approver: str
    created_at: datetime
    approved_at: datetime | None
    note: str
    #: (text, "equal" | "insert" | "delete") pieces against the previous version's answer
    diff: list[tuple[str, str]]


def char_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Character-level diff of two texts as (text, op) pieces (Chinese has no word spaces)."""
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            pieces.append((old[i1:i2], "delete"))
        if op in ("insert", "replace"):
            pieces.append((new[j1:j2], "insert"))
        if op == "equal":
            pieces.append((old[i1:i2], "equal"))
    return pieces


def check_script(question: str, answer: str, category: str | None = None) -> None:
    """Refuse an empty or over-long question or answer, an unknown category or broken placeholders."""
    if not question.strip() or not answer.strip():
        raise ScriptError("问题和话术内容都不能为空。")
    if len(answer) > MAX_SCRIPT_CHARS or len(question) > MAX_SCRIPT_CHARS:
        raise ScriptError(f"问题或话术过长（上限 {MAX_SCRIPT_CHARS} 字）。")
    if category is not None and category not in {c.value for c in Category}:
        raise ScriptError(f"未知分类「{category}」。")
    errors = [p for p in placeholder_problems(answer) if not p.startswith("提示")]
    if errors:
        raise ScriptError("占位符有误：" + "；".join(errors))


def _clean_tags(tags: Sequence[str] | None) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in tags or [] if t.strip()))
    if len(cleaned) > MAX_TAGS or any(len(t) > 20 for t in cleaned):
        raise ScriptError(f"标签最多 {MAX_TAGS} 个，每个不超过 20 字。")
    return cleaned


def script_row(*, session: Session, script_id: int) -> Script:
    """The script with this id, or a ScriptError."""
    script = session.get(Script, script_id)
    if script is None:
        raise ScriptError("话术不存在。")
    return script


def make_current(
    *, session: Session, script: Script, version: ScriptVersion, approver: User, reworded: bool = True,
) -> None:
    """Make ``version`` the one agents read; holders re-certify when approved wording changed.

    ``reworded=False`` for a version that only files the same answer under a corrected question.
    """
    previous = script.current_version if script.status == APPROVED else None
    version.status, version.approved_by, version.approved_at = APPROVED, approver.id, utcnow()
    session.add(version)
    for stale in session.exec(select(ScriptVersion).where(
            ScriptVersion.script_id == script.id, ScriptVersion.status == DRAFT,
            col(ScriptVersion.version) < version.version)).all():
        stale.status = "superseded"
        session.add(stale)
    script.current_version, script.status, script.question = version.version, APPROVED, version.question
    script.updated_at = utcnow()
    session.add(script)
    if script.mined_question_id:
        mined = session.get(MinedQuestion, script.mined_question_id)
        if mined is not None and mined.covered_by_script_id is None:
            mined.covered_by_script_id = script.id
            session.add(mined)
    audit.record(session=session, actor=approver, action="script.approve", target=str(script.id),
                 detail={"version": version.version, "previous": previous})
    if reworded and previous is not None and previous != version.version:
        # Holders were examined on the old wording: they re-certify (in this same transaction).
        flag_for_recertification(session=session, script_id=script.id,
                                 reason=f"话术「{script.question[:30]}」已更新为第 {version.version} 版")


def insert_script(
    session: Session, editor: User, row: ScriptRow, *, mined_question_id: int | None = None,
    note: str = "", source_answer_ids: Sequence[int] | None = None,
) -> tuple[Script, ScriptVersion]:
    """A new script and its version 1, both drafts (the caller approves and commits)."""
    script = Script(question=row.question.strip(), category=row.category, tags=_clean_tags(row.tags),
                    product=row.product.strip()[:100], variant=row.variant.strip()[:50], status=DRAFT,
                    mined_question_id=mined_question_id, created_by=editor.id)
    session.add(script)
    session.flush()
    assert script.id is not None
    version = ScriptVersion(script_id=script.id, version=1, question=script.question,
                            answer=row.answer.strip(), editor_id=editor.id, note=note.strip(), status=DRAFT,
                            source_answer_ids=list(source_answer_ids or []) or None,
                            source_answer_id=source_answer_ids[0] if source_answer_ids else None)
    session.add(version)
    return script, version


def create_script(
    *, session: Session, actor: User | None, question: str, answer: str, category: str,
    tags: Sequence[str] | None = None, product: str = "", variant: str = "",
    mined_question_id: int | None = None, source_answer_ids: Sequence[int] | None = None,
    note: str = "", approve: bool = True,
) -> ScriptView:
    """Add a script as version 1, approved at once or left as a draft (trainers and admins).

    Several scripts may cover one mined question: they are its variants (``variant`` names them).
    """
    editor = require_role(actor, *STAFF)
    check_script(question, answer, category)
    if mined_question_id is not None and session.get(MinedQuestion, mined_question_id) is None:
        raise ScriptError("关联的顾客问题不存在。")
    script, version = insert_script(session, editor, ScriptRow(question, answer, category, list(tags or []),
                                                             product, variant),
                                  mined_question_id=mined_question_id, note=note,
                                  source_answer_ids=source_answer_ids)
    audit.record(session=session, actor=editor, action="script.create", target=str(script.id),
                 detail={"approved": approve, "sources": list(source_answer_ids or [])})
    if approve:
        make_current(session=session, script=script, version=version, approver=editor)
    session.commit()
    return views_of(session=session, scripts=[script])[0]


def propose_revision(
    *, session: Session, actor: User | None, script_id: int, answer: str, question: str | None = None,
    note: str = "", source_answer_ids: Sequence[int] | None = None,
) -> int:
    """Save an edit as a new draft version; agents keep reading the approved one. Returns its number."""
    editor = require_role(actor, *STAFF)
    script = script_row(session=session, script_id=script_id)
    question = (question or "").strip() or script.question
    check_script(question, answer)
    latest = session.exec(select(ScriptVersion.version).where(ScriptVersion.script_id == script_id)
                          .order_by(col(ScriptVersion.version).desc())).first() or 0
    session.add(ScriptVersion(script_id=script_id, version=latest + 1, question=question,
                              answer=answer.strip(), editor_id=editor.id, note=note.strip(), status=DRAFT,
                              source_answer_ids=list(source_answer_ids or []) or None))
    script.updated_at = utcnow()
    session.add(script)
    audit.record(session=session, actor=editor, action="script.draft", target=str(script_id),
                 detail={"version": latest + 1})
    session.commit()
    return latest + 1


def approve_version(*, session: Session, actor: User | None, script_id: int, version: int) -> ScriptView:
    """Approve a draft version: it becomes what agents look up (trainers and admins only)."""
    approver = require_role(actor, *STAFF)
    script = script_row(session=session, script_id=script_id)
    row = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script_id,
                                                   ScriptVersion.version == version)).first()
    if row is None or row.status != DRAFT:
        raise ScriptError("只能审定草稿版本。")
    make_current(session=session, script=script, version=row, approver=approver)
    session.commit()
    return views_of(session=session, scripts=[script])[0]


def revise_script(
    *, session: Session, actor: User | None, script_id: int, answer: str,
    question: str | None = None, note: str = "",
) -> ScriptView:
    """Save an edit as a new version and approve it at once; earlier versions stay (trainers and admins)."""
    version = propose_revision(session=session, actor=actor, script_id=script_id, answer=answer,
                               question=question, note=note)
    return approve_version(session=session, actor=actor, script_id=script_id, version=version)


def update_details(
    *, session: Session, actor: User | None, script_id: int, category: str, tags: Sequence[str],
    product: str = "", variant: str = "",
) -> ScriptView:
    """Change a script's category, tags, product and variant name (no new version)."""
    editor = require_role(actor, *STAFF)
    script = script_row(session=session, script_id=script_id)
    if category not in {c.value for c in Category}:
        raise ScriptError(f"未知分类「{category}」。")
    script.category, script.tags = category, _clean_tags(tags)
    script.product, script.variant = product.strip()[:100], variant.strip()[:50]
    script.updated_at = utcnow()
    session.add(script)
    audit.record(session=session, actor=editor, action="script.details", target=str(script_id),
                 detail={"category": category, "tags": script.tags, "product": script.product})
    session.commit()
    return views_of(session=session, scripts=[script])[0]


def archive_script(*, session: Session, actor: User | None, script_id: int) -> None:
    """Withdraw a script from the lookup (its versions stay for the record)."""
    editor = require_role(actor, *STAFF)
    script = script_row(session=session, script_id=script_id)
    script.status, script.updated_at = ARCHIVED, utcnow()
    session.add(script)
    audit.record(session=session, actor=editor, action="script.archive", target=str(script_id))
    session.commit()


def script_history(*, session: Session, actor: User | None, script_id: int) -> list[VersionView]:
    """Every version of a script, newest first, with authors, approvers and diffs (trainers and admins)."""
    require_role(actor, *STAFF)
    rows = list(session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script_id)
                             .order_by(col(ScriptVersion.version))).all())
    names = {u.id: u.display_name for u in session.exec(select(User).where(col(User.id).in_(
        {r.editor_id for r in rows} | {r.approved_by for r in rows}))).all()}
    views = []
    for i, row in enumerate(rows):
        views.append(VersionView(
            row.version, row.question, row.answer, row.status, names.get(row.editor_id, "—"),
            names.get(row.approved_by, "—"), row.created_at, row.approved_at, row.note,
            char_diff(rows[i - 1].answer if i else "", row.answer),
        ))
    return views[::-1]


def draft_from_answers(*, session: Session, actor: User | None, answer_ids: Sequence[int]) -> str:
    """The chosen exam answers merged into one starting text for a script (trainers and admins)."""
    require_role(actor, *STAFF)
    texts = [a.text.strip() for i in answer_ids if (a := session.get(Answer, i)) is not None]
    return "\n".join(dict.fromkeys(t for t in texts if t))


def import_scripts(*, session: Session, actor: User | None, rows: Sequence[ScriptRow]) -> int:
    """Add every row of an imported 话术 table as an approved script, all or nothing."""
    editor = require_role(actor, *STAFF)
    if not rows:
        raise ScriptError("文件里没有话术。")
    for number, row in enumerate(rows, start=2):
        try:
            check_script(row.question, row.answer, row.category)
        except ScriptError as exc:
            raise ScriptError(f"第 {number} 行：{exc}") from exc
    for row in rows:
        script, version = insert_script(session, editor, row, note="导入")
        make_current(session=session, script=script, version=version, approver=editor)
    audit.record(session=session, actor=editor, action="scripts.import", detail={"rows": len(rows)})
    session.commit()
    return len(rows)


def export_scripts(*, session: Session, actor: User | None) -> list[ScriptRow]:
    """The approved bank as table rows (trainers and admins; audited)."""
    editor = require_role(actor, *STAFF)
    scripts = session.exec(select(Script).where(Script.status == APPROVED).order_by(col(Script.id))).all()
    rows = [ScriptRow(v.question, v.answer, v.category, v.tags, v.product, v.variant)
            for v in views_of(session=session, scripts=scripts)]
    audit.record(session=session, actor=editor, action="scripts.export", detail={"rows": len(rows)})
    session.commit()
    return rows
