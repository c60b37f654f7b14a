"""Import an existing 话术 collection from XLSX/CSV/TSV and export the bank (formula-safe)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from training.analytics.export import chart_data_bytes
from training.core.errors import UserError
from training.core.tables import FORMULA_PREFIXES, TableError, read_table
from training.core.uploads import check_upload, decode_text, upload_limit_bytes
from training.models import Category


class ScriptImportError(UserError):
    """A script table cannot be imported; the message names the file and the rows."""


@dataclass(frozen=True)
class ScriptRow:
    """One script as a table row holds it."""

    question: str
    answer: str
    category: str
    tags: list[str] = field(default_factory=list)
    product: str = ""
    variant: str = ""


#: Column headers written on export (and the first alias of each field on import).
HEADERS: dict[str, str] = {"question": "问题", "answer": "话术", "category": "分类", "tags": "标签",
                           "product": "商品", "variant": "变体"}
_ALIASES: dict[str, tuple[str, ...]] = {
    "question": ("问题", "顾客问题", "客户问题", "买家问题", "常见问题", "question", "q"),
    "answer": ("话术", "回复", "最佳话术", "标准话术", "答案", "回答", "answer", "reply", "a"),
    "category": ("分类", "类别", "问题分类", "category"),
    "tags": ("标签", "tags", "tag"),
    "product": ("商品", "产品", "商品名称", "product"),
    "variant": ("变体", "变体名", "版本", "版本名", "variant", "version"),  # 版本: files exported before
}
_TAG_SEPARATORS = re.compile(r"[，,、;；|｜]")
#: Short names trainers write for the categories (besides the full names and their prefixes).
_CATEGORY_ALIASES = {"其它": Category.OTHER, "未分类": Category.OTHER, "物流": Category.LOGISTICS,
                     "快递": Category.LOGISTICS, "退货": Category.RETURN, "换货": Category.RETURN,
                     "维修": Category.REPAIR, "支付": Category.PAYMENT, "账户": Category.PAYMENT,
                     "优惠": Category.PRICE, "价格": Category.PRICE, "售前": Category.PRESALE}
_MAX_LISTED_ROWS = 10


def _normalise(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lower().replace(" ", "")


def match_category(value: str) -> Category | None:
    """The category a trainer meant by ``value`` (full or short name, English name), or None."""
    key = _normalise(value)
    if not key:
        return Category.OTHER
    for category in Category:
        if key in {_normalise(category.value), category.name.lower()}:
            return category
    if key in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[key]
    prefixed = [c for c in Category if c.value.startswith(key) or key.startswith(c.value)]
    return prefixed[0] if len(prefixed) == 1 else None


def split_tags(value: str) -> list[str]:
    """Tags of one cell, split on Chinese/English commas, 、, semicolons and |, unique, in order."""
    return list(dict.fromkeys(t.strip() for t in _TAG_SEPARATORS.split(value) if t.strip()))


def _unquote(value: str) -> str:
    # Undo our own export's neutralisation ("'=…"), so export → import gives the text back.
    if value.startswith("'") and value[1:2] and value[1] in FORMULA_PREFIXES:
        return value[1:]
    return value


def _row_list(numbers: Iterable[int]) -> str:
    rows = list(numbers)
    shown = "、".join(str(n) for n in rows[:_MAX_LISTED_ROWS])
    return shown + (f" 等 {len(rows)} 行" if len(rows) > _MAX_LISTED_ROWS else "")


def _check_raw(raw: bytes, file_name: str, limit: int) -> str:
    """The file name to parse by (xlsx detected by content); the upload gate refuses the rest."""
    check_upload(raw, file_name=file_name, limit_bytes=limit, error=ScriptImportError)
    lower = file_name.lower()
    if not (raw.startswith(b"PK\x03\x04") or lower.endswith((".xlsx", ".xlsm"))):
        return file_name
    return file_name if lower.endswith((".xlsx", ".xlsm")) else f"{file_name}.xlsx"


def _csv_row_numbers(raw: bytes, file_name: str) -> list[int]:
    """Excel row number of each data row pandas keeps (it skips blank lines; Excel shows them)."""
    sep = "\t" if file_name.lower().endswith(".tsv") else ","
    try:
        records = csv.reader(io.StringIO(decode_text(raw, file_name=file_name), newline=""),
                             delimiter=sep)
        kept = [n for n, record in enumerate(records, start=1) if record]
    except (csv.Error, TableError):
        return []
    return kept[1:]


def _read_frame(raw: bytes, file_name: str, limit: int) -> tuple[pd.DataFrame, list[int]]:
    """The table and the Excel row number of each of its rows."""
    parse_name = _check_raw(raw, file_name, limit)
    try:
        frame = read_table(raw, file_name=parse_name, limit_bytes=limit)
    except TableError as exc:
        raise ScriptImportError(str(exc).replace(parse_name, file_name)) from exc
    except Exception as exc:  # openpyxl raises many unrelated types on damaged workbooks
        raise ScriptImportError(f"文件「{file_name}」无法读取，可能已损坏或不完整。") from exc
    numbers = [] if parse_name.lower().endswith((".xlsx", ".xlsm")) else _csv_row_numbers(raw, parse_name)
    if len(numbers) != len(frame):
        numbers = list(range(2, len(frame) + 2))  # header in row 1, no blank lines
    return frame, numbers


def _columns(frame: pd.DataFrame, file_name: str) -> dict[str, str]:
    by_key = {_normalise(str(c)): str(c) for c in frame.columns}
    found = {name: next((by_key[a] for a in aliases if a in by_key), "")
             for name, aliases in _ALIASES.items()}
    missing = [HEADERS[n] for n in ("question", "answer") if not found[n]]
    if missing:
        raise ScriptImportError(
            f"文件「{file_name}」缺少列：{'、'.join(missing)}。第一行应为表头，需要「问题」和「话术」列"
            f"（也认：顾客问题、回复、最佳话术、question、answer），可选「分类」「标签」「商品」「变体」。")
    return found


def read_script_table(raw: bytes, *, file_name: str, limit_bytes: int | None = None) -> list[ScriptRow]:
    """Scripts from an uploaded CSV (UTF-8 or GBK), TSV or XLSX table.

    Rows whose every cell is blank are skipped. Row numbers in errors are those Excel shows (a
    CSV record spanning lines in quotes is one row). ``limit_bytes`` defaults to the upload limit.
    """
    limit = limit_bytes if limit_bytes is not None else upload_limit_bytes()
    frame, numbers = _read_frame(raw, file_name, limit)
    columns = _columns(frame, file_name)
    rows: list[ScriptRow] = []
    empty: list[int] = []
    unknown: dict[str, list[int]] = {}
    for line, record in zip(numbers, frame.to_dict("records"), strict=True):
        cells = {name: _unquote(str(record[col])) if col else "" for name, col in columns.items()}
        if not any(str(v).strip() for v in record.values()):
            continue
        if not cells["question"] or not cells["answer"]:
            empty.append(line)
            continue
        category = match_category(cells["category"])
        if category is None:
            unknown.setdefault(cells["category"], []).append(line)
            continue
        rows.append(ScriptRow(cells["question"], cells["answer"], category.value,
                              split_tags(cells["tags"]), cells["product"], cells["variant"]))
    problems = []
    if empty:
        problems.append(f"第 {_row_list(empty)} 行的问题或话术为空")
    for name, lines in unknown.items():
        problems.append(f"第 {_row_list(lines)} 行的分类「{name}」无法识别")
    if problems:
        allowed = "、".join(c.value for c in Category)
        hint = f"（可用分类：{allowed}）" if unknown else ""
        raise ScriptImportError(f"文件「{file_name}」未导入：{'；'.join(problems)}{hint}。")
    if not rows:
        raise ScriptImportError(f"文件「{file_name}」没有话术（只有表头或全是空行）。")
    return rows


def scripts_table(rows: Iterable[ScriptRow]) -> pd.DataFrame:
    """The bank as a table with Chinese headers, the format ``read_script_table`` reads back."""
    records = [{HEADERS["question"]: r.question, HEADERS["answer"]: r.answer,
                HEADERS["category"]: r.category, HEADERS["tags"]: "、".join(r.tags),
                HEADERS["product"]: r.product, HEADERS["variant"]: r.variant} for r in rows]
    return pd.DataFrame(records, columns=list(HEADERS.values()))


def export_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` as a CSV (UTF-8 with BOM, for Excel) or XLSX file, formula cells neutralised."""
    return chart_data_bytes(frame, fmt, sheet="话术")
