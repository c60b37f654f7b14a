"""The exam-tool spreadsheet template (.xlsx or .csv): read into ``QuestionRecord``s, and write it.

Columns ``题干 | 题型 | 选项A … 选项H | 正确答案 | 解析 | 章节 | 难度``, in any order; extra columns
are ignored. Headers are compared without bracketed notes and whitespace (``题干（必填）``,
``正确答案\\n(多选用ABC)``); the header row is the first of the first five rows that names 题干,
on the first sheet that has one.
Missing 题干/题型/正确答案 → ``FormatError``; so are an old .xls, a damaged workbook and text in
neither UTF-8 nor GBK. Row numbers are Excel's (header = row 1); empty rows are passed over.

* 题型: 单选(题) → single, 多选(题) → multiple, 判断(题) → true/false, 问答题/简答题/问答/情景题 →
  scenario; any other (填空题, 计算题…) is listed in ``Parsed.skipped``.
* 正确答案: letters in any case, with or without separators (``A,B``, ``A，B``, ``A B``, ``a、b``),
  naming non-empty option columns; for 判断: 正确/错误, 对/错, √/×, T/F, 是/否, or A/B (the
  option it names when options are given, else A = 对). A 问答题's answer, if any, is a reference
  answer: it goes into the explanation as ``参考答案：…``.
* 章节 ``售后/质保`` → tags ``售后``, ``质保``; 难度 ``中`` → tag ``难度:中`` (last).

A row of a taken type that cannot be understood (no stem, an answer letter beyond the options, a
single with two letters, a gap in the options…) is in ``Parsed.errors``: the importer refuses
the file.

The template has no title column: records read have no title, and writing drops titles.

Writing: that header; 题型 in Chinese; 正确答案 letters or 正确/错误; tags: the ``难度:`` one →
难度, the others joined by ``/`` → 章节 (a tag holding ``/`` comes back split). Text cells that
would start a formula get a leading ``'`` (``training.core.tables.safe_cell``), which reading
takes off again.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence

from training.core.tables import FORMULA_PREFIXES, safe_cell
from training.exams.interchange.records import (
    MAX_OPTIONS,
    MULTIPLE,
    RIGHT,
    SCENARIO,
    SINGLE,
    TRUEFALSE,
    WRONG,
    FormatError,
    Parsed,
    QuestionRecord,
    Skipped,
    title_of,
    unique,
)

__all__ = ["HEADER", "parse_exam_xlsx", "write_exam_xlsx"]

LETTERS = "ABCDEFGH"[:MAX_OPTIONS]
HEADER = ["题干", "题型", *(f"选项{c}" for c in LETTERS), "正确答案", "解析", "章节", "难度"]
REQUIRED = ("题干", "题型", "正确答案")
DIFFICULTY = "难度:"
_ALIASES = {"题目": "题干", "试题": "题干", "试题类型": "题型", "题目类型": "题型", "类型": "题型",
            "答案": "正确答案", "标准答案": "正确答案", "参考答案": "正确答案", "答案解析": "解析",
            "试题解析": "解析", "知识点": "章节", "分类": "章节", "难易度": "难度", "难易程度": "难度"}
_TYPES = {"单选题": SINGLE, "单选": SINGLE, "单项选择题": SINGLE, "多选题": MULTIPLE, "多选": MULTIPLE,
          "多项选择题": MULTIPLE, "不定项选择题": MULTIPLE, "判断题": TRUEFALSE, "判断": TRUEFALSE,
          "问答题": SCENARIO, "简答题": SCENARIO, "问答": SCENARIO, "简答": SCENARIO, "情景题": SCENARIO}
_NAMES = {SINGLE: "单选题", MULTIPLE: "多选题", TRUEFALSE: "判断题", SCENARIO: "问答题"}
_RIGHTS = {"正确", "对", "√", "✓", "✔", "T", "TRUE", "是", "Y", "YES"}
_WRONGS = {"错误", "错", "×", "✗", "✘", "X", "F", "FALSE", "否", "N", "NO"}
_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
_SEPARATORS = re.compile(r"[\s,，、;；/|.。]+")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_MAX_UNPACKED = 512 * 1024 * 1024


def _header_key(value: str) -> str:
    key = re.sub(r"[\s:：*]+", "", _BRACKETS.sub("", value)).upper()
    if re.fullmatch(r"(选项)?[A-Z]", key):
        return "选项" + key[-1]
    return _ALIASES.get(key, key)


def _quoted(value: str) -> bool:
    """Whether ``value`` is ``'*`` then a formula start: the writer puts one more ``'`` before it."""
    rest = value.lstrip("'")
    return rest[:1] != "" and rest[0] in FORMULA_PREFIXES


def _unquote(value: str) -> str:
    return value[1:] if value.startswith("'") and _quoted(value) else value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _unquote(str(value).replace("\r\n", "\n").replace("\r", "\n").strip())


def parse_exam_xlsx(raw: bytes, *, file_name: str) -> Parsed:
    """The questions of an exam-template .xlsx or .csv (``FormatError`` when unreadable)."""
    lower = file_name.lower()
    if raw.startswith(_OLE_MAGIC) or lower.endswith(".xls"):
        raise FormatError(f"文件「{file_name}」是旧版 Excel (.xls) 或加密的工作簿：请在 Excel/WPS 中"
                          "另存为 .xlsx 后重试。")
    if raw.startswith(b"PK\x03\x04") or lower.endswith((".xlsx", ".xlsm")):
        rows = _xlsx_rows(raw, file_name)
    else:
        rows = _csv_rows(raw, file_name)
    return _read_rows(rows, file_name)


def _xlsx_rows(raw: bytes, file_name: str) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # openpyxl is slow to import; only workbooks need it

    damaged = f"文件「{file_name}」不是有效的 Excel (.xlsx) 文件，可能已损坏或不完整。"
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            if sum(info.file_size for info in archive.infolist()) > _MAX_UNPACKED:
                raise FormatError(f"文件「{file_name}」解压后过大，请拆分后再导入。")
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            sheets = [[(number, [_cell(v) for v in values])
                       for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
                      for sheet in book.worksheets]
        finally:
            book.close()
        # The first sheet holding the header (a template may open with an instructions sheet).
        return next((rows for rows in sheets if _header_row(rows) is not None), sheets[0] if sheets else [])
    except FormatError:
        raise
    except Exception as exc:  # zipfile, zlib, XML and openpyxl's own errors on a damaged workbook
        raise FormatError(damaged) from exc


def _csv_rows(raw: bytes, file_name: str) -> list[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FormatError(f"文件「{file_name}」的编码无法识别：请另存为 UTF-8 或 GBK 编码后重试。")
    try:
        reader = csv.reader(io.StringIO(text.replace("\x00", ""), newline=""))
        return [(number, [_cell(v) for v in row]) for number, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise FormatError(f"文件「{file_name}」的 CSV 格式有误：{exc}") from exc


def _header_row(rows: list[tuple[int, list[str]]]) -> int | None:
    """The index of the header: the first of the first five rows that names 题干."""
    return next((i for i, (_, row) in enumerate(rows[:5]) if "题干" in map(_header_key, row)), None)


def _read_rows(rows: list[tuple[int, list[str]]], file_name: str) -> Parsed:
    if not any(any(row) for _, row in rows):
        raise FormatError(f"文件「{file_name}」是空的。")
    header_at = _header_row(rows)
    columns: dict[str, int] = {}
    for index, value in enumerate(rows[header_at if header_at is not None else 0][1] if rows else []):
        columns.setdefault(_header_key(value), index)
    missing = [name for name in REQUIRED if name not in columns]
    if missing or header_at is None:
        raise FormatError(f"文件「{file_name}」缺少列：{'、'.join(missing)}（需要：{'、'.join(REQUIRED)}）。")
    parsed = Parsed()
    for number, row in rows[(header_at or 0) + 1:]:
        cells = {name: row[index] if index < len(row) else "" for name, index in columns.items()}
        if not any(cells.values()):
            continue
        _read_row(cells, number, parsed)
    return parsed


def _read_row(cells: dict[str, str], number: int, parsed: Parsed) -> None:
    stem, kind_text = cells["题干"], _BRACKETS.sub("", re.sub(r"\s+", "", cells["题型"]))
    shown = title_of("", stem)
    kind = _TYPES.get(kind_text)
    if kind is None:
        if not kind_text:
            parsed.errors.append(Skipped(shown, number, "题型为空，无法导入"))
        else:
            parsed.skipped.append(Skipped(shown, number, f"题型「{cells['题型']}」不支持，已跳过"))
        return
    tags = cells.get("章节", "").split("/")
    if cells.get("难度"):
        tags.append(DIFFICULTY + cells["难度"])
    try:
        if not stem:
            raise ValueError("题干为空")
        options = _options(cells) if kind != SCENARIO else []
        answer, explanation = _answer(kind, cells["正确答案"], options), cells.get("解析", "")
        if kind == SCENARIO and cells["正确答案"]:
            explanation = "\n".join(filter(None, [f"参考答案：{cells['正确答案']}", explanation]))
    except ValueError as exc:
        parsed.errors.append(Skipped(shown, number, f"{_NAMES[kind]}：{exc}，无法导入"))
        return
    parsed.records.append(QuestionRecord(
        type=kind, stem=stem, options=options if kind in (SINGLE, MULTIPLE) else [], answer=answer,
        explanation=explanation, tags=unique(tags), title="", line=number))


def _options(cells: dict[str, str]) -> list[str]:
    beyond = sorted(k for k, v in cells.items() if v and re.fullmatch(r"选项[I-Z]", k))
    if beyond:
        raise ValueError(f"{'、'.join(beyond)} 有内容，最多 {MAX_OPTIONS} 个选项（A 到 H）")
    values = [cells.get(f"选项{c}", "") for c in LETTERS]
    while values and not values[-1]:
        values.pop()
    gaps = [LETTERS[i] for i, v in enumerate(values) if not v]
    if gaps:
        raise ValueError(f"选项{'、'.join(gaps)} 为空而后面的选项有内容")
    return values


def _answer(kind: str, value: str, options: list[str]) -> str:
    if kind == SCENARIO:
        return ""
    if kind == TRUEFALSE:
        return _true_false(value, options)
    if len(options) < 2:
        raise ValueError("选择题至少要有两个选项")
    letters = _SEPARATORS.sub("", value).upper()
    if not letters:
        raise ValueError("正确答案为空")
    if not re.fullmatch(r"[A-Z]+", letters):
        raise ValueError(f"正确答案「{value}」应为选项字母，如 A 或 ABD")
    beyond = sorted({c for c in letters if c not in LETTERS[:len(options)]})
    if beyond:
        raise ValueError(f"正确答案里的 {'、'.join(beyond)} 没有对应的选项")
    answer = "".join(sorted(set(letters)))
    if kind == SINGLE and len(answer) != 1:
        raise ValueError(f"正确答案「{value}」有 {len(answer)} 个字母，单选题只能有一个")
    return answer


def _true_false(value: str, options: list[str]) -> str:
    key = _SEPARATORS.sub("", value).upper()
    if key in ("A", "B") and len(options) >= (ord(key) - 64):
        key = options[ord(key) - 65].upper()
    elif key in ("A", "B"):
        return RIGHT if key == "A" else WRONG
    if key in _RIGHTS:
        return RIGHT
    if key in _WRONGS:
        return WRONG
    raise ValueError(f"正确答案「{value}」应为 正确/错误、对/错、√/× 或 T/F")


# --- Writing ------------------------------------------------------------------------------------

def _row(record: QuestionRecord) -> list[object]:
    difficulty = [t[len(DIFFICULTY):] for t in record.tags if t.startswith(DIFFICULTY)]
    chapters = [t for t in record.tags if not t.startswith(DIFFICULTY)]
    options = (list(record.options) + [""] * MAX_OPTIONS)[:MAX_OPTIONS]
    answer = record.answer if record.type != TRUEFALSE else ("正确" if record.answer == RIGHT else "错误")
    return [record.stem, _NAMES.get(record.type, "问答题"), *options, answer, record.explanation,
            "/".join(chapters), difficulty[0] if difficulty else ""]


def _safe(values: Iterable[object]) -> list[object]:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cells = [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]
    # safe_cell's ' before a formula start; a text already starting '= gets one more, so reading,
    # which takes one off, gives it back.
    return [safe_cell("'" + v if isinstance(v, str) and v[:1] == "'" and _quoted(v) else v) for v in cells]


def write_exam_xlsx(records: Sequence[QuestionRecord]) -> bytes:
    """An .xlsx in the exam template (``HEADER``) holding ``records``."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "题目"
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for record in records:
        sheet.append(_safe(_row(record)))
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in (("A", 40), ("B", 8), ("K", 10), ("L", 30), ("M", 12), ("N", 8)):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
