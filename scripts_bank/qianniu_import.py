"""千牛 快捷短语 files read into the bank as drafts: parse, preview (duplicates), then import.

Accepted: the export's CSV (header ``快捷短语编码,快捷短语,快捷短语分组``; UTF-8 with or without
BOM, or GBK), the variant whose code header is ``快捷编码`` with ``,``, ``|`` or tab separators and
``&#13;`` (CR, read as a line break) / ``&#44;`` (comma) escapes, and ``.xlsx`` with those headers.
Old ``.xls`` is refused (reading it needs xlrd, which Huashu does not ship): save it as .xlsx.

Every phrase becomes a DRAFT script: category = the group when it names one of Huashu's categories,
else 其他 with the group kept as a tag (empty group: ``NO_GROUP``); question = code + first words;
answer = the phrase. Phrases already approved in the bank (same text up to whitespace), already
waiting as drafts (a file imported twice) and repeats inside the file are reported and skipped. Any
bad row imports nothing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from sqlmodel import Session, col, select

from scripts_bank.authoring import MAX_SCRIPT_CHARS, check_script, insert_script
from scripts_bank.io import ScriptRow, match_category
from scripts_bank.qianniu import HEADER
from scripts_bank.service import DRAFT, ScriptError
from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.core.tables import FORMULA_PREFIXES
from training.core.uploads import check_upload, decode_text, is_workbook, upload_limit_bytes
from training.models import Category, Script, ScriptVersion, User
from training.models.scripts import approved_current_versions

NO_GROUP = "未分组"
MAX_GROUP_TAG_CHARS = 20
TITLE_CHARS = 20
CODE_HEADERS = (HEADER[0], "快捷编码")
_ESCAPES = {"13": "\r", "10": "\n", "44": ",", "124": "|", "9": "\t"}
_ESCAPE = re.compile(r"&#(\d+);")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_MAX_LISTED = 10


class QianniuImportError(UserError):
    """The file cannot be imported; the message names the file and the rows."""


@dataclass(frozen=True)
class Phrase:
    """One quick phrase of the file: its row as Excel shows it, code, text and group."""

    row: int
    code: str
    text: str
    group: str


@dataclass(frozen=True)
class QianniuPlan:
    """What an import would do: the phrases to add and the ones skipped as duplicates."""

    new: list[Phrase]
    in_bank: list[tuple[Phrase, int]] = field(default_factory=list)  # (phrase, approved script id)
    in_file: list[tuple[Phrase, int]] = field(default_factory=list)  # (phrase, row of the first copy)
    in_drafts: list[tuple[Phrase, int]] = field(default_factory=list)  # (phrase, draft script id)
    created: int = 0

    @property
    def groups(self) -> Counter[str]:
        return Counter(p.group or NO_GROUP for p in self.new)

    def lines(self) -> list[str]:
        """The plan in plain Chinese: the summary, then the skipped duplicates."""
        total = len(self.new) + len(self.in_bank) + len(self.in_file) + len(self.in_drafts)
        everything = [*self.new, *(p for p, _ in (*self.in_bank, *self.in_file, *self.in_drafts))]
        groups = len({p.group or NO_GROUP for p in everything})
        out = [f"文件共 {total} 条快捷短语，{groups} 个分组；{len(self.new)} 条将作为草稿导入。"]
        if self.in_bank:
            out.append(f"{len(self.in_bank)} 条与已审定话术内容相同，跳过："
                       + "；".join(f"第 {p.row} 行（话术 #{sid}）" for p, sid in self.in_bank[:_MAX_LISTED])
                       + ("等" if len(self.in_bank) > _MAX_LISTED else ""))
        if self.in_file:
            out.append(f"{len(self.in_file)} 条在文件中重复，只导入第一条："
                       + "；".join(f"第 {p.row} 行同第 {first} 行" for p, first in self.in_file[:_MAX_LISTED])
                       + ("等" if len(self.in_file) > _MAX_LISTED else ""))
        if self.in_drafts:
            out.append(f"{len(self.in_drafts)} 条与待审定的草稿内容相同（可能已导入过），跳过："
                       + "；".join(f"第 {p.row} 行（话术 #{sid}）" for p, sid in self.in_drafts[:_MAX_LISTED])
                       + ("等" if len(self.in_drafts) > _MAX_LISTED else ""))
        return out


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().replace(" ", "").lower()


def _cell(value: object) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    text = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if text.startswith("'") and text[1:2] and text[1] in FORMULA_PREFIXES:
        text = text[1:]  # undo the export's formula neutralisation
    return text


def _records(raw: bytes, file_name: str) -> list[tuple[int, list[str]]]:
    """(row number, raw cells) of every non-blank row, header first."""
    if is_workbook(raw, file_name):
        try:
            frame = pd.read_excel(io.BytesIO(raw), header=None, dtype=str, keep_default_na=False)
        except Exception as exc:  # openpyxl raises many unrelated types on damaged workbooks
            raise QianniuImportError(f"文件「{file_name}」无法读取，可能已损坏或不完整。") from exc
        rows = [(n, ["" if v is None else str(v) for v in values])
                for n, values in enumerate(frame.itertuples(index=False, name=None), start=1)]
    else:
        text = decode_text(raw, file_name=file_name, error=QianniuImportError)
        first = next((line for line in text.splitlines() if line.strip()), "")
        sep = max(",|\t", key=first.count)
        try:
            rows = list(enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=sep), start=1))
        except csv.Error as exc:
            raise QianniuImportError(f"文件「{file_name}」不是有效的 CSV：{exc}。") from exc
    return [(n, cells) for n, cells in rows if any(c.strip() for c in cells)]


def _header(cells: list[str], file_name: str) -> tuple[int, int, int]:
    names = [_key(c) for c in cells]
    found = [next((i for i, name in enumerate(names) if name in {_key(h) for h in headers}), -1)
             for headers in (CODE_HEADERS, (HEADER[1],), (HEADER[2],))]
    if found[1] < 0:
        raise QianniuImportError(
            f"文件「{file_name}」不是千牛快捷短语文件：第一行应为表头「{','.join(HEADER)}」"
            "（编码列也可写作「快捷编码」，分隔符可用逗号、竖线或制表符）。")
    return found[0], found[1], found[2]


def looks_like_qianniu(raw: bytes, file_name: str) -> bool:
    """Whether a file's first row is a 千牛 快捷短语 header (to tell it from Huashu's own table)."""
    try:
        records = _records(raw, file_name)
        _header(records[0][1], file_name) if records else None
    except (UserError, IndexError):
        return False
    return bool(records)


def read_qianniu_phrases(raw: bytes, *, file_name: str, limit_bytes: int | None = None) -> list[Phrase]:
    """The phrases of an uploaded 千牛 快捷短语 file, or a ``QianniuImportError`` naming bad rows."""
    limit = limit_bytes if limit_bytes is not None else upload_limit_bytes()
    if raw.startswith(_OLE_MAGIC) or file_name.lower().endswith(".xls"):
        raise QianniuImportError(f"文件「{file_name}」是旧版 Excel (.xls)，本系统不能直接读取："
                                 "请在 Excel 或 WPS 中另存为 .xlsx 或 CSV 后再导入。")
    check_upload(raw, file_name=file_name, limit_bytes=limit, error=QianniuImportError)
    records = _records(raw, file_name)
    if not records:
        raise QianniuImportError(f"文件「{file_name}」是空的。")
    width = len(records[0][1])
    code_at, text_at, group_at = _header(records[0][1], file_name)
    phrases: list[Phrase] = []
    problems: dict[str, list[int]] = {}
    for number, cells in records[1:]:
        if len(cells) != width:
            problems.setdefault(f"列数不是 {width} 列（短语里的逗号请写成 &#44; 或给整格加引号）",
                                []).append(number)
            continue
        code, text = _cell(cells[code_at]) if code_at >= 0 else "", _cell(cells[text_at])
        group = _cell(cells[group_at]) if group_at >= 0 else ""
        if not text:
            problems.setdefault("快捷短语为空", []).append(number)
        elif len(text) > MAX_SCRIPT_CHARS:
            problems.setdefault(f"快捷短语超过 {MAX_SCRIPT_CHARS} 字", []).append(number)
        elif len(group) > MAX_GROUP_TAG_CHARS:
            problems.setdefault(f"分组名超过 {MAX_GROUP_TAG_CHARS} 字", []).append(number)
        else:
            try:
                check_script(_title(code, text), text)
            except ScriptError as exc:
                problems.setdefault(str(exc).rstrip("。"), []).append(number)
                continue
            phrases.append(Phrase(number, code, text, group))
    if problems:
        listed = "；".join(f"第 {_rows(rows)} 行：{reason}" for reason, rows in problems.items())
        raise QianniuImportError(f"文件「{file_name}」未导入（一条也没有导入）：{listed}。请修改后重新上传。")
    if not phrases:
        raise QianniuImportError(f"文件「{file_name}」没有快捷短语（只有表头）。")
    return phrases


def _rows(numbers: list[int]) -> str:
    return "、".join(map(str, numbers[:_MAX_LISTED])) + (" 等" if len(numbers) > _MAX_LISTED else "")


def _title(code: str, text: str) -> str:
    """The draft's question: the shortcut code and the phrase's first words."""
    words = " ".join(text.split())
    words = words[:TITLE_CHARS] + ("…" if len(words) > TITLE_CHARS else "")
    return f"[{code}] {words}" if code else words


def draft_row(phrase: Phrase) -> ScriptRow:
    """The draft a phrase becomes: title, text, category (the group if it is one, else 其他), tags."""
    group = phrase.group or NO_GROUP
    category = match_category(phrase.group) if phrase.group else Category.OTHER
    matched = category is not None and category.value == group
    tags = [] if matched else [group]
    return ScriptRow(_title(phrase.code, phrase.text), phrase.text, (category or Category.OTHER).value, tags)


def plan_qianniu_import(*, session: Session, actor: User | None, phrases: list[Phrase]) -> QianniuPlan:
    """Which phrases would become drafts and which duplicate the approved bank or the file."""
    require_role(actor, *STAFF)
    approved: dict[str, int] = {}
    for script, version in session.exec(approved_current_versions()).all():
        assert script.id is not None
        approved.setdefault(" ".join(version.answer.split()), script.id)
    drafts: dict[str, int] = {}
    for script_id, answer in session.exec(select(Script.id, ScriptVersion.answer).where(
            col(Script.status) == DRAFT, col(ScriptVersion.script_id) == col(Script.id),
            col(ScriptVersion.status) == DRAFT)).all():
        assert script_id is not None
        drafts.setdefault(" ".join(answer.split()), script_id)
    seen: dict[str, int] = {}
    plan = QianniuPlan(new=[])
    for phrase in phrases:
        key = " ".join(phrase.text.split())
        if key in approved:
            plan.in_bank.append((phrase, approved[key]))
        elif key in drafts:
            plan.in_drafts.append((phrase, drafts[key]))
        elif key in seen:
            plan.in_file.append((phrase, seen[key]))
        else:
            seen[key] = phrase.row
            plan.new.append(phrase)
    return plan


def import_qianniu(*, session: Session, actor: User | None, phrases: list[Phrase],
                   file_name: str = "") -> QianniuPlan:
    """Add the new phrases as draft scripts in one transaction (trainers and admins; audited)."""
    editor = require_role(actor, *STAFF)
    plan = plan_qianniu_import(session=session, actor=editor, phrases=phrases)
    for phrase in plan.new:
        insert_script(session, editor, draft_row(phrase), note="千牛快捷短语导入")
    audit.record(session=session, actor=editor, action="scripts.import",
                 detail={"format": "qianniu", "file": file_name[:100], "drafts": len(plan.new),
                         "in_bank": len(plan.in_bank), "in_file": len(plan.in_file),
                         "in_drafts": len(plan.in_drafts)})
    session.commit()
    return QianniuPlan(plan.new, plan.in_bank, plan.in_file, plan.in_drafts, created=len(plan.new))
