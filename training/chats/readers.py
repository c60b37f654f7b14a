"""CSV, TSV and XLSX chat logs: a header row and a ColumnMapping naming the columns to read.

The first sheet of a workbook is read. A CSV cell longer than Python's csv field limit (131,072
characters) is refused with its row number.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import openpyxl

from training.chats.rows import ChatLogError, LogBuilder, add_record, scalar
from training.core.uploads import check_xlsx_archive

MAPPED_FORMATS = ("csv", "tsv", "xlsx")  # these need a ColumnMapping (header row)
_HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "session": ("session", "session_id", "sessionid", "会话", "会话id", "会话编号", "会话号"),
    "role": ("role", "sender", "speaker", "角色", "发送方", "发送者", "身份"),
    "text": ("text", "content", "message", "内容", "消息", "消息内容", "聊天内容"),
    "time": ("time", "timestamp", "sent_at", "时间", "发送时间", "消息时间"),
}


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of a CSV/TSV/XLSX table hold the session, role, text and (optional) time."""

    session: str
    role: str
    text: str
    time: str | None = None


def propose_mapping(columns: Sequence[str]) -> dict[str, str | None]:
    """Guess which header holds session/role/text/time (None where no header fits)."""
    lowered = {str(c).strip().lower().replace(" ", ""): str(c) for c in columns}
    return {key: next((lowered[n] for n in names if n in lowered), None)
            for key, names in _HEADER_NAMES.items()}


def csv_rows(text: str, fmt: str, file_name: str) -> Iterable[tuple[int, list[Any]]]:
    """(row number, cells) of a CSV or TSV text; ChatLogError naming the row it cannot parse."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):  # noqa: B007 - used in the error below
            yield row, list(cells)
    except csv.Error as exc:
        raise ChatLogError(f"文件「{file_name}」第 {row + 1} 行无法解析（单元格过长或引号不匹配）。") from exc


def xlsx_rows(raw: bytes, file_name: str, limit: int) -> list[tuple[int, list[Any]]]:
    """(row number, cells) of the first sheet of a workbook; ChatLogError if it is damaged."""
    check_xlsx_archive(raw, file_name=file_name, limit=limit, error=ChatLogError)
    broken = f"文件「{file_name}」不是有效的 Excel (.xlsx) 文件，可能已损坏或不完整。"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it cannot read
            book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                return [(row, list(cells)) for row, cells in enumerate(sheet.iter_rows(values_only=True), 1)]
            finally:
                book.close()
    except Exception as exc:  # openpyxl raises many unrelated types on damaged files
        raise ChatLogError(broken) from exc


def read_table(rows: Iterable[tuple[int, list[Any]]], total: int, mapping: ColumnMapping | None,
                builder: LogBuilder) -> None:
    """Add the rows under the header to ``builder``, the columns named by ``mapping`` (or proposed)."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        raise ChatLogError(f"文件「{builder.file_name}」是空的。")
    header = [scalar(c) for c in first[1]]
    if mapping is None:
        proposal = propose_mapping(header)
        if proposal["session"] is None or proposal["role"] is None or proposal["text"] is None:
            raise ChatLogError(f"文件「{builder.file_name}」无法识别会话、角色、内容列，请指定列对应关系。")
        mapping = ColumnMapping(proposal["session"], proposal["role"], proposal["text"], proposal["time"])
    wanted = {"session": mapping.session, "role": mapping.role, "text": mapping.text, "time": mapping.time}
    missing = [name for name in wanted.values() if name is not None and name not in header]
    if missing:
        raise ChatLogError(f"文件「{builder.file_name}」缺少列：{'、'.join(missing)}"
                           f"（表头：{'、'.join(header)}）。")
    index = {key: header.index(name) for key, name in wanted.items() if name is not None}
    need = max(index.values()) + 1
    for row, cells in iterator:
        builder.tick(row, total)
        if all(scalar(c) == "" for c in cells):
            continue
        if len(cells) < need:
            builder.error(row, f"应至少有 {need} 列，实际 {len(cells)} 列")
            continue
        values: dict[str, Any] = {"time": None}
        values.update({key: "" if cells[i] is None else cells[i] for key, i in index.items()})
        add_record(builder, row, values)
