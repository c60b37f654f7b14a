"""Questions in and out of the database: knowledge items and scenario questions ↔ exchange records.

Import (``read_questions`` → ``plan_import`` → ``import_questions``):
- single, multiple and true/false records become knowledge items (``KnowledgeItem``), validated by
  the same rules as the page's form (``training.exams.knowledge.validate``);
- scenario records (Moodle essay, GIFT ``{}``, 问答题) become scenario questions of the question bank
  (a ``MinedQuestion`` already in the bank, no chat import): the stem is the customer's turn; the
  first tag naming one of Huashu's categories is its category (else 其他);
- a tag ``商品:<编号>`` is a knowledge item's product number (``sku``), both ways;
- a record whose question already exists (same kind and stem, or a scenario with the same text
  in the bank) or repeats an earlier one of the file is reported and skipped, so importing a file
  twice adds nothing; any invalid record imports nothing (all or nothing, like every import).

Export (``export_questions``): the knowledge items in use and the scenario questions of the bank,
as Moodle XML, GIFT or the exam-tool Excel template; options lose their ``A.`` prefixes and the
answer letters refer to positions (``training.exams.choices``), so an export imports back equal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.core.uploads import check_upload, is_workbook
from training.exams.choices import LETTERS, TRUE_FALSE_KIND, option_codes, option_letter
from training.exams.interchange.excel import parse_exam_xlsx, write_exam_xlsx
from training.exams.interchange.gift import parse_gift, write_gift
from training.exams.interchange.moodle import parse_moodle_xml, write_moodle_xml
from training.exams.interchange.records import (
    SCENARIO,
    FormatError,
    Parsed,
    QuestionRecord,
    Skipped,
)
from training.exams.knowledge import KnowledgeDraft, KnowledgeError, validate
from training.models import Category, KnowledgeItem, MinedQuestion, User

MOODLE, GIFT, XLSX = "moodle-xml", "gift", "xlsx"
#: Format code -> its name on the pages.
FORMATS = {MOODLE: "Moodle XML", GIFT: "GIFT 文本", XLSX: "考试系统 Excel 模板"}
#: The file name extension of each format's export.
EXTENSIONS = {MOODLE: "xml", GIFT: "gift.txt", XLSX: "xlsx"}
MIME_TYPES = {MOODLE: "application/xml", GIFT: "text/plain",
              XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SKU_TAG = "商品:"
KIND_NAMES = {"single": "单选题", "multiple": "多选题", "truefalse": "判断题", SCENARIO: "问答题（情景题）"}
_MAX_LISTED = 10
_STEM_KEY = re.compile(r"\s+")


class QuestionImportError(UserError):
    """The file cannot be imported; the message names the file and, where it can, the line."""


@dataclass
class QuestionPlan:
    """What an import would do: the new records, the duplicates, the skipped and the invalid ones."""

    parsed: Parsed
    new: list[QuestionRecord] = field(default_factory=list)
    existing: list[QuestionRecord] = field(default_factory=list)  # already in the database
    repeated: list[tuple[QuestionRecord, int]] = field(default_factory=list)  # (record, first line)
    invalid: list[Skipped] = field(default_factory=list)
    created_items: int = 0
    created_scenarios: int = 0

    @property
    def ok(self) -> bool:
        """Whether the file may be imported (no invalid record)."""
        return not self.invalid

    def lines(self) -> list[str]:
        """The plan in plain Chinese: what would be added, then what is skipped and why."""
        total = len(self.new) + len(self.existing) + len(self.repeated)
        kinds = "、".join(f"{k} {n} 道" for k, n in Counter(KIND_NAMES[r.type] for r in self.new).items())
        out = [f"文件中可导入的题目 {total} 道，其中新题 {len(self.new)} 道"
               + (f"（{kinds}）。" if kinds else "。")]
        other = Category.OTHER.value
        if unmatched := [r for r in self.new if r.type == SCENARIO and _category(r) == other]:
            out.append(f"{len(unmatched)} 道问答题的章节或分类不是本系统的问题分类，放入问题库的「其他」"
                       "分类，导入后可在「问题库」中修改：" + _listed([_where(r) for r in unmatched]))
        if self.existing:
            out.append(f"已在题库中，将跳过 {len(self.existing)} 道：" + _listed(
                [_where(r) for r in self.existing]))
        if self.repeated:
            out.append(f"文件内重复，将跳过 {len(self.repeated)} 道：" + _listed(
                [f"{_where(r)}（与第 {first} 行相同）" for r, first in self.repeated]))
        if self.parsed.skipped:
            out.append(f"本系统没有的题型，已跳过 {len(self.parsed.skipped)} 道：" + _listed(
                [s.describe() for s in self.parsed.skipped]))
        return out

    def problems(self) -> list[str]:
        """Why the file cannot be imported (empty when it can)."""
        if not self.invalid:
            return []
        return [f"有错误，整个文件都不会导入，请修正后重新上传（{len(self.invalid)} 道）：" + _listed(
            [s.describe() for s in self.invalid])]


def _listed(items: Sequence[str]) -> str:
    shown = "；".join(items[:_MAX_LISTED])
    return shown + (f"；等共 {len(items)} 道" if len(items) > _MAX_LISTED else "")


def _where(record: QuestionRecord) -> str:
    place = f"第 {record.line} 行" if record.line else ""
    name = record.title or record.stem
    return f"{place}「{name[:20]}{'…' if len(name) > 20 else ''}」"


def detect_format(raw: bytes, file_name: str) -> str:
    """The format of an uploaded question file: by content first, then by name (QuestionImportError)."""
    name = file_name.lower()
    if is_workbook(raw, file_name) or name.endswith((".xls", ".csv")):
        return XLSX
    head = raw[:2048].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<") or name.endswith(".xml"):
        return MOODLE
    if name.endswith((".gift", ".txt")) or b"{" in raw:
        return GIFT
    raise QuestionImportError(f"无法识别文件「{file_name}」的格式：请选择 Moodle XML（.xml）、"
                              "GIFT（.gift/.txt）或考试系统 Excel 模板（.xlsx/.csv）。")


def read_questions(raw: bytes, *, file_name: str, file_format: str = "auto",
                   limit_bytes: int | None = None) -> Parsed:
    """Parse a question file (nothing is stored): records, skipped types and invalid items.

    Raises:
        QuestionImportError: an empty or over-size file, an unknown format, or a file that is not
            readable in its format at all (the message says why, with the line where known).
    """
    check_upload(raw, file_name=file_name, limit_bytes=limit_bytes, error=QuestionImportError)
    fmt = detect_format(raw, file_name) if file_format == "auto" else file_format
    readers: dict[str, Callable[[], Parsed]] = {
        MOODLE: lambda: parse_moodle_xml(raw), GIFT: lambda: parse_gift(raw),
        XLSX: lambda: parse_exam_xlsx(raw, file_name=file_name)}
    if fmt not in readers:
        raise QuestionImportError(f"不支持的题目格式「{file_format}」，可选：{'、'.join(FORMATS)}。")
    try:
        parsed = readers[fmt]()
    except FormatError as exc:
        reason = str(exc) if file_name in str(exc) else f"文件「{file_name}」{exc}"
        raise QuestionImportError(f"无法按「{FORMATS[fmt]}」格式读取：{reason}") from exc
    if fmt == GIFT and not parsed.records and not parsed.errors and not any(
            "{" in text for text in (raw.decode("utf-8", "ignore"), raw.decode("gbk", "ignore"))):
        raise QuestionImportError(
            f"文件「{file_name}」里没有题目：GIFT 格式的每道题都有写在 {{…}} 中的答案部分。")
    if not parsed.records and not parsed.skipped and not parsed.errors:
        raise QuestionImportError(f"文件「{file_name}」里没有题目。")
    return parsed


def _key(text: str) -> str:
    return _STEM_KEY.sub("", text)


def _draft(record: QuestionRecord) -> KnowledgeDraft:
    sku = next((t[len(SKU_TAG):] for t in record.tags if t.startswith(SKU_TAG)), "")
    tags = [t for t in record.tags if not t.startswith(SKU_TAG)]
    options = list(record.options)
    answer = record.answer
    if record.type != TRUE_FALSE_KIND:
        # A file's option may itself start with "B." while standing at position A: letter each
        # option by its position explicitly so the answer keeps referring to positions.
        options = [o if option_letter(o, i) == LETTERS[i] else f"{LETTERS[i]}. {o.strip()}"
                   for i, o in enumerate(options)]
    return KnowledgeDraft(record.type, record.stem, options, answer, record.explanation, sku, tags)


def _category(record: QuestionRecord) -> str:
    values = {c.value: c.value for c in Category}
    for tag in record.tags:
        for part in reversed(tag.split("/")):
            if part.strip() in values:
                return part.strip()
    return Category.OTHER.value


def plan_import(*, session: Session, actor: User | None, parsed: Parsed) -> QuestionPlan:
    """Validate every record and find the duplicates (trainers and admins; nothing is stored)."""
    require_role(actor, *STAFF)
    plan = QuestionPlan(parsed=parsed, invalid=list(parsed.errors))
    items = {(i.kind, _key(i.stem)) for i in session.exec(
        select(KnowledgeItem).where(col(KnowledgeItem.retired_at).is_(None))).all()}
    scenarios = {_key(q.question) for q in session.exec(
        select(MinedQuestion).where(col(MinedQuestion.in_question_bank).is_(True))).all()}
    seen: dict[tuple[str, str], int] = {}
    for record in parsed.records:
        if record.type == SCENARIO:
            if not record.stem.strip():
                plan.invalid.append(Skipped(record.title, record.line, "题干为空"))
                continue
            key = (SCENARIO, _key(record.stem))
            exists = key[1] in scenarios
        else:
            try:
                validate(_draft(record))
            except KnowledgeError as exc:
                plan.invalid.append(Skipped(record.title, record.line, str(exc)))
                continue
            key = (record.type, _key(record.stem))
            exists = key in items
        if exists:
            plan.existing.append(record)
        elif key in seen:
            plan.repeated.append((record, seen[key]))
        else:
            seen[key] = record.line
            plan.new.append(record)
    return plan


def import_questions(*, session: Session, actor: User | None, parsed: Parsed,
                     file_name: str = "") -> QuestionPlan:
    """Store the new records in one transaction (trainers and admins; audited).

    Raises:
        QuestionImportError: any record is invalid; its line and reason are listed, nothing is stored.
    """
    editor = require_role(actor, *STAFF)
    plan = plan_import(session=session, actor=editor, parsed=parsed)
    if not plan.ok:
        raise QuestionImportError("导入未执行，以下题目有错误，请修正后重试：\n" + "\n".join(
            f"- {problem.describe()}" for problem in plan.invalid[:50]))
    for record in plan.new:
        if record.type == SCENARIO:
            session.add(MinedQuestion(question=record.stem.strip(), frequency=1, category=_category(record),
                                      examples=[record.stem.strip()], context=[], agent_replies=[],
                                      in_question_bank=True, member_texts=[record.stem.strip()]))
            plan.created_scenarios += 1
        else:
            draft = validate(_draft(record))
            session.add(KnowledgeItem(kind=draft.kind, stem=draft.stem, options=draft.options or None,
                                      answer=draft.answer, explanation=draft.explanation, sku=draft.sku,
                                      tags=[t for t in draft.tags if t], created_by=editor.id))
            plan.created_items += 1
    audit.record(session=session, actor=editor, action="questions.import", target=file_name[:100],
                 detail={"items": plan.created_items, "scenarios": plan.created_scenarios,
                         "existing": len(plan.existing), "repeated": len(plan.repeated),
                         "skipped": len(parsed.skipped)})
    session.commit()
    return plan


def item_record(item: KnowledgeItem) -> QuestionRecord:
    """A knowledge item as an exchange record: options without letters, answer by position."""
    tags = [*(item.tags or []), *([SKU_TAG + item.sku] if item.sku else [])]
    if item.kind == TRUE_FALSE_KIND:
        return QuestionRecord(item.kind, item.stem, [], item.answer, item.explanation, tags)
    options = list(item.options or [])
    codes = option_codes(item.kind, options)
    answer = "".join(sorted(LETTERS[codes.index(c)] for c in item.answer if c in codes))
    plain = [re.sub(r"^\s*[A-H][.．、)）]\s*", "", o) for o in options]
    return QuestionRecord(item.kind, item.stem, plain, answer, item.explanation, tags)


def scenario_record(question: MinedQuestion) -> QuestionRecord:
    """A scenario question of the bank as an essay record, tagged with its category."""
    return QuestionRecord(SCENARIO, question.question, [], "", "", [question.category])


def export_records(*, session: Session, actor: User | None, tag: str | None = None,
                   scenarios: bool = True) -> list[QuestionRecord]:
    """The knowledge items in use (optionally one tag) and the bank's scenario questions (staff)."""
    require_role(actor, *STAFF)
    items = session.exec(select(KnowledgeItem).where(col(KnowledgeItem.retired_at).is_(None))
                         .order_by(col(KnowledgeItem.id))).all()
    records = [item_record(i) for i in items if not tag or tag in (i.tags or [])]
    if scenarios:
        bank = session.exec(select(MinedQuestion).where(col(MinedQuestion.in_question_bank).is_(True),
                                                        col(MinedQuestion.hidden).is_(False))
                            .order_by(col(MinedQuestion.id))).all()
        records += [scenario_record(q) for q in bank if not tag or tag == q.category]
    return records


def export_questions(*, session: Session, actor: User | None, file_format: str, tag: str | None = None,
                     scenarios: bool = True) -> tuple[bytes, int]:
    """The file of ``export_records`` in ``file_format`` and how many questions it holds (audited)."""
    editor = require_role(actor, *STAFF)
    writers: dict[str, Callable[[Sequence[QuestionRecord]], bytes]] = {
        MOODLE: write_moodle_xml, GIFT: write_gift, XLSX: write_exam_xlsx}
    if file_format not in writers:
        raise QuestionImportError(f"不支持的导出格式「{file_format}」，可选：{'、'.join(FORMATS)}。")
    records = export_records(session=session, actor=editor, tag=tag, scenarios=scenarios)
    audit.record(session=session, actor=editor, action="questions.export", target=file_format,
                 detail={"count": len(records)})
    session.commit()
    return writers[file_format](records), len(records)
