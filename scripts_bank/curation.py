"""Keeping the bank right: filing a script under the right question, category and variant; restoring one."""

from __future__ import annotations

from sqlmodel import Session, col, select

from scripts_bank.authoring import check_script, make_current, script_row
from scripts_bank.service import APPROVED, ARCHIVED, DRAFT, ScriptError, ScriptView, views_of
from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.models import ScriptVersion, User, utcnow

MAX_VARIANT_CHARS = 50


def correct_script(
    *, session: Session, actor: User | None, script_id: int, question: str, category: str,
    variant: str = "", note: str = "",
) -> ScriptView:
    """File a script under another question, category or variant name, as a new version (staff).

    The answer stays as it is. An approved script's correction is approved at once (agents find
    the script under the corrected question; nobody re-certifies, the wording did not change); a
    draft script's stays a draft. Audited with the values before and after.

    Raises:
        ScriptError: the script is archived or has a newer draft waiting, nothing changed, or the
            question or category is invalid.
    """
    editor = require_role(actor, *STAFF)
    script = script_row(session=session, script_id=script_id)
    if script.status == ARCHIVED:
        raise ScriptError("已停用的话术请先恢复，再更正。")
    view = views_of(session=session, scripts=[script])[0]
    if view.pending_draft is not None:
        raise ScriptError(f"第 {view.pending_draft} 版草稿待审定：请先审定它，再更正问题、分类和变体。")
    question, variant = question.strip(), variant.strip()
    check_script(question, view.answer, category)
    if len(variant) > MAX_VARIANT_CHARS:
        raise ScriptError(f"变体名最多 {MAX_VARIANT_CHARS} 个字。")
    before = {"question": view.question, "category": view.category, "variant": view.variant}
    after = {"question": question, "category": category, "variant": variant}
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        raise ScriptError("问题、分类和变体名都没有改动。")
    current = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script_id,
                                                       ScriptVersion.version == script.current_version)).one()
    latest = session.exec(select(ScriptVersion.version).where(ScriptVersion.script_id == script_id)
                          .order_by(col(ScriptVersion.version).desc())).first() or 0
    labels = {"question": "问题", "category": "分类", "variant": "变体名"}
    version = ScriptVersion(
        script_id=script_id, version=latest + 1, question=question, answer=view.answer,
        editor_id=editor.id, status=DRAFT, source_answer_ids=current.source_answer_ids,
        source_answer_id=current.source_answer_id,
        note=note.strip() or "更正" + "、".join(labels[name] for name in changed),
    )
    session.add(version)
    script.category, script.variant, script.updated_at = category, variant, utcnow()
    audit.record(session=session, actor=editor, action="script.correct", target=str(script_id),
                 detail={"version": latest + 1, **{n: after[n] for n in changed},
                         **{f"previous_{n}": before[n] for n in changed}})
    if script.status == APPROVED:
        make_current(session=session, script=script, version=version, approver=editor, reworded=False)
    else:  # never approved: the corrected draft replaces the one it corrects
        current.status = "superseded"
        session.add(current)
        script.current_version, script.question = version.version, question
        session.add(script)
    session.commit()
    return views_of(session=session, scripts=[script])[0]


def restore_script(*, session: Session, actor: User | None, script_id: int) -> ScriptView:
    """Bring an archived script back: agents find it again if its current version was approved (staff)."""
    editor = require_role(actor, *STAFF)
    script = script_row(session=session, script_id=script_id)
    if script.status != ARCHIVED:
        raise ScriptError("这条话术没有停用，无需恢复。")
    current = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script_id,
                                                       ScriptVersion.version == script.current_version)).one()
    script.status = APPROVED if current.status == APPROVED else DRAFT
    script.updated_at = utcnow()
    session.add(script)
    audit.record(session=session, actor=editor, action="script.restore", target=str(script_id),
                 detail={"visible": script.status == APPROVED})
    session.commit()
    return views_of(session=session, scripts=[script])[0]
