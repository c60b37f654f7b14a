"""Objective product-knowledge items: validation, creation, CSV/XLSX import, grading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.certification.recertification import flag_for_recertification
from training.core.errors import UserError
from training.core.tables import read_table, use_headers
from training.exams.choices import (
    LETTERS,
    MULTIPLE_KIND,
    SINGLE_KIND,
    TRUE_FALSE,
    TRUE_FALSE_KIND,
    normalise_choice,
    option_codes,
)
from training.models import KnowledgeItem, Role, User, utcnow

KINDS = {SINGLE_KIND: "单选题", MULTIPLE_KIND: "多选题", TRUE_FALSE_KIND: "判断题"}
#: Import columns: internal name -> the Chinese header of the template (the first four are required).
IMPORT_HEADERS = {"kind": "题型", "stem": "题干", "options": "选项", "answer": "答案",
                  "explanation": "解析", "sku": "商品编号", "tags": "标签"}
IMPORT_COLUMNS = list(IMPORT_HEADERS)
#: 题型 as a spreadsheet may spell it: 单选题 / 单选 / single, …
KIND_NAMES = {**{label: code for code, label in KINDS.items()},
              **{label[:2]: code for code, label in KINDS.items()}}


class KnowledgeError(UserError):
    """A user-facing problem with a knowledge item; names the field or row."""


@dataclass(frozen=True)
class KnowledgeDraft:
    """An item as typed in the page or read from one spreadsheet row."""

    kind: str
    stem: str
    options: list[str] = field(default_factory=list)
    answer: str = ""
    explanation: str = ""
    sku: str = ""
    tags: list[str] = field(default_factory=list)


def validate(draft: KnowledgeDraft) -> KnowledgeDraft:
    """Check kind, stem, options and answer; return a normalised copy or raise KnowledgeError."""
    if draft.kind not in KINDS:
        raise KnowledgeError(f"题型「{draft.kind}」无效，应为单选题、多选题或判断题。")
    if not draft.stem.strip():
        raise KnowledgeError("题干不能为空。")
    options = [o.strip() for o in draft.options if o.strip()]
    answer = draft.answer.strip().upper().replace(",", "").replace(" ", "")
    if draft.kind == TRUE_FALSE_KIND:
        right, wrong = TRUE_FALSE
        mapped = {right: right, wrong: wrong, "正确": right, "错误": wrong, "TRUE": right, "FALSE": wrong,
                  "T": right, "F": wrong, "√": right, "×": wrong}.get(answer)
        if mapped is None:
            raise KnowledgeError(f"判断题答案应为「{right}」或「{wrong}」。")
        return KnowledgeDraft(TRUE_FALSE_KIND, draft.stem.strip(), [], mapped,
                              draft.explanation.strip(), draft.sku.strip(), draft.tags)
    if len(options) < 2:
        raise KnowledgeError("选择题至少需要两个选项（页面上每行一个，导入文件中用 | 分隔）。")
    if len(options) > len(LETTERS):
        raise KnowledgeError(f"选项最多 {len(LETTERS)} 个。")
    letters = option_codes(draft.kind, options)
    if len(set(letters)) != len(letters):
        raise KnowledgeError("选项字母重复。")
    if not answer:
        raise KnowledgeError(f"请填写答案：选项 {''.join(letters)} 中正确的字母（如 C，多选题如 AC）。")
    if any(a not in letters for a in answer) or len(set(answer)) != len(answer):
        raise KnowledgeError(f"答案「{draft.answer}」不在选项 {''.join(letters)} 之中。")
    if draft.kind == SINGLE_KIND and len(answer) != 1:
        raise KnowledgeError("单选题只能有一个正确答案。")
    if draft.kind == MULTIPLE_KIND and len(answer) < 2:
        raise KnowledgeError("多选题至少需要两个正确答案。")
    return KnowledgeDraft(draft.kind, draft.stem.strip(), options, "".join(sorted(answer)),
                          draft.explanation.strip(), draft.sku.strip(), draft.tags)


def grade(item: KnowledgeItem, choice: str) -> float:
    """1.0 for the exact answer code (``training.exams.choices``), else 0.0 (no partial credit)."""
    given = normalise_choice(item.kind, choice)
    return 1.0 if given and given == normalise_choice(item.kind, item.answer) else 0.0


def create_item(*, session: Session, actor: User | None, draft: KnowledgeDraft) -> KnowledgeItem:
    """Validate and store one item (trainers and admins)."""
    editor = require_role(actor, *STAFF)
    clean = validate(draft)
    item = KnowledgeItem(kind=clean.kind, stem=clean.stem, options=clean.options or None,
                         answer=clean.answer, explanation=clean.explanation, sku=clean.sku,
                         tags=[t for t in clean.tags if t], created_by=editor.id)
    session.add(item)
    session.flush()
    audit.record(session=session, actor=editor, action="knowledge.create", target=str(item.id))
    session.commit()
    session.refresh(item)
    return item


def update_item(
    *, session: Session, actor: User | None, item_id: int, draft: KnowledgeDraft,
) -> KnowledgeItem:
    """Validate and save an edit; certificates examined on the item are flagged (staff only)."""
    editor = require_role(actor, *STAFF)
    item = session.get(KnowledgeItem, item_id)
    if item is None:
        raise KnowledgeError("知识题不存在。")
    clean = validate(draft)
    item.kind, item.stem, item.options = clean.kind, clean.stem, clean.options or None
    item.answer, item.explanation, item.sku = clean.answer, clean.explanation, clean.sku
    item.tags = [t for t in clean.tags if t]
    session.add(item)
    audit.record(session=session, actor=editor, action="knowledge.update", target=str(item_id))
    flag_for_recertification(session=session, knowledge_item_id=item_id,
                             reason=f"知识题「{clean.stem[:30]}」已修改")
    session.commit()
    session.refresh(item)
    return item


@dataclass
class KnowledgeImport:
    """Outcome of an import: how many were created, or the errors per row."""

    created: int = 0
    errors: list[str] = field(default_factory=list)


def import_items(
    *, session: Session, actor: User | None, raw: bytes, file_name: str, limit_bytes: int,
) -> KnowledgeImport:
    """Import items from CSV/XLSX; every row must be valid or nothing is stored.

    Args:
        raw: the uploaded file's bytes; columns 题型, 题干, 选项 (``|``-separated), 答案, 解析,
            商品编号, 标签 (``|``-separated), or their English names (kind, stem, …).
        limit_bytes: reject larger files before parsing.

    Returns:
        The number created, or the list of row errors (then nothing was stored).
    """
    editor = require_role(actor, *STAFF)
    frame = _read_upload(raw, file_name, limit_bytes)
    frame = use_headers(frame, IMPORT_HEADERS, IMPORT_COLUMNS[:4], file_name=file_name)
    result = KnowledgeImport()
    drafts: list[KnowledgeDraft] = []
    for index, row in enumerate(frame.to_dict("records")):
        try:
            drafts.append(validate(KnowledgeDraft(
                kind=_kind_code(str(row["kind"])), stem=str(row["stem"]),
                options=str(row["options"]).split("|"), answer=str(row["answer"]),
                explanation=str(row.get("explanation", "")), sku=str(row.get("sku", "")),
                tags=[t.strip() for t in str(row.get("tags", "")).split("|") if t.strip()],
            )))
        except KnowledgeError as exc:
            result.errors.append(f"第 {index + 2} 行：{exc}")
    if not drafts and not result.errors:
        result.errors.append(f"文件「{file_name}」没有数据行。")
    if result.errors:
        return result
    session.add_all([KnowledgeItem(kind=d.kind, stem=d.stem, options=d.options or None,
                                   answer=d.answer, explanation=d.explanation, sku=d.sku,
                                   tags=d.tags, created_by=editor.id) for d in drafts])
    audit.record(session=session, actor=editor, action="knowledge.import", target=file_name,
                 detail={"count": len(drafts)})
    session.commit()
    result.created = len(drafts)
    return result


def _kind_code(cell: str) -> str:
    """The kind code for a spreadsheet's 题型 cell (单选题, 单选 or single)."""
    cell = cell.strip()
    return KIND_NAMES.get(cell, cell.lower())


def _read_upload(raw: bytes, file_name: str, limit_bytes: int) -> pd.DataFrame:
    """The uploaded table (through the upload gate), or a KnowledgeError/TableError in Chinese."""
    try:
        return read_table(raw, file_name=file_name, limit_bytes=limit_bytes)
    except UserError:
        raise
    except Exception as exc:  # damaged workbooks raise zlib.error, XML ParseError, ... (fuzzed)
        raise KnowledgeError(f"文件「{file_name}」无法读取，可能已损坏或不完整。") from exc


def list_items(
    *, session: Session, actor: User | None, tag: str | None = None, search: str = "",
    kinds: Sequence[str] | None = None, retired: bool = False,
) -> list[KnowledgeItem]:
    """Items for trainers to browse (answers included, so staff only): in use, or the retired ones."""
    require_role(actor, Role.ADMIN, Role.TRAINER)
    retired_at = col(KnowledgeItem.retired_at)
    query = (select(KnowledgeItem).where(retired_at.is_not(None) if retired else retired_at.is_(None))
             .order_by(col(KnowledgeItem.id)))
    if kinds:
        query = query.where(col(KnowledgeItem.kind).in_(list(kinds)))
    if search.strip():
        query = query.where(col(KnowledgeItem.stem).contains(search.strip()))
    items = list(session.exec(query).all())
    if tag:
        items = [i for i in items if tag in (i.tags or [])]
    return items


def retire_item(*, session: Session, actor: User | None, item_id: int) -> KnowledgeItem:
    """Retire (停用) an item: new papers neither draw nor add it; papers already made keep it (staff)."""
    editor = require_role(actor, *STAFF)
    item = session.get(KnowledgeItem, item_id)
    if item is None:
        raise KnowledgeError("知识题不存在。")
    if item.retired_at is not None:
        raise KnowledgeError(f"第 {item_id} 题已经停用。")
    item.retired_at = utcnow()
    session.add(item)
    audit.record(session=session, actor=editor, action="knowledge.retire", target=str(item_id))
    session.commit()
    session.refresh(item)
    return item


def restore_item(*, session: Session, actor: User | None, item_id: int) -> KnowledgeItem:
    """Put a retired item back in use: new papers may draw and add it again (staff)."""
    editor = require_role(actor, *STAFF)
    item = session.get(KnowledgeItem, item_id)
    if item is None:
        raise KnowledgeError("知识题不存在。")
    if item.retired_at is None:
        raise KnowledgeError(f"第 {item_id} 题没有停用，无需恢复。")
    item.retired_at = None
    session.add(item)
    audit.record(session=session, actor=editor, action="knowledge.restore", target=str(item_id))
    session.commit()
    session.refresh(item)
    return item
