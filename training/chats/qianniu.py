"""千牛 (Taobao's agent client) chat export from the export script: the workbook (qianniu-xlsx).

- qianniu-xlsx: one sheet per customer with the columns ``客户名, 消息序号, 发送时间, 发送内容,
  发送账号, 账号类型`` (账号类型 客户/客服) in one of its first 5 rows; a sheet without message
  columns (汇总, 客户列表 …) is ignored with a note. One sheet is one session, its rows ordered
  by 消息序号. The session key is the customer name, or ``客户名（表名）`` when the sheet's title
  is not the name, so two sheets of the same customer stay two sessions (a sheet title is unique
  in a workbook). A row whose 账号类型 is empty takes its role from 发送账号: ``店铺名:子账号`` is
  the shop, the customer's name the customer.

Shared with ``training.chats.qianniu_zip``: ``NotedChatLog`` (notes for the preview) and
``located_error`` (an error placed by sheet and row, or member and message). Any error refuses the file.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import openpyxl

from training.chats.rows import (
    MAX_LISTED_ERRORS,
    ChatLogError,
    LogBuilder,
    MaskedChatLog,
    parse_role,
    parse_time,
    scalar,
)
from training.chats.types import AGENT, CUSTOMER

#: The export script's message columns; a sheet with 发送内容 and 消息序号 is a message sheet.
XLSX_COLUMNS = ("客户名", "消息序号", "发送时间", "发送内容", "发送账号", "账号类型")
_MESSAGE_MARKS = ("消息序号", "发送内容")
HEADER_ROWS = 5
_EXCEL_EPOCH = datetime(1899, 12, 30)


@dataclass
class NotedChatLog(MaskedChatLog):
    """A masked log plus notes for the preview: sheets or members that were ignored."""

    notes: list[str] = field(default_factory=list)


def noted_builder(file_format: str, builder: LogBuilder) -> NotedChatLog:
    """Give ``builder`` a log that can carry notes; returns that log."""
    log = NotedChatLog(file_format=file_format)
    builder.log = log
    return log


def located_error(builder: LogBuilder, where: str, message: str) -> None:
    """Count an error placed by ``where`` (sheet and row, member and message) instead of a line."""
    builder.error_count += 1
    if len(builder.errors) < MAX_LISTED_ERRORS:
        builder.errors.append(f"{where}：{message}")


# --- workbook -----------------------------------------------------------------------------


def _open_book(raw: bytes) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles it cannot read
        return openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)


def _header(cells: Any) -> list[str]:
    return [scalar(c).replace(" ", "") for c in cells]


def _header_row(rows: list[tuple[Any, ...]]) -> int | None:
    """Index of the header among the first ``HEADER_ROWS`` rows (a title row may come first)."""
    return next((i for i, cells in enumerate(rows[:HEADER_ROWS])
                 if all(mark in _header(cells) for mark in _MESSAGE_MARKS)), None)


def is_qianniu_workbook(raw: bytes) -> bool:
    """Whether a workbook has a sheet whose first row holds the export script's message columns."""
    try:
        book = _open_book(raw)
    except Exception:  # noqa: BLE001 - detection only; the reader reports a damaged file
        return False
    try:
        for sheet in book.worksheets:
            if _header_row(list(sheet.iter_rows(max_row=HEADER_ROWS, values_only=True))) is not None:
                return True
        return False
    except Exception:  # noqa: BLE001
        return False
    finally:
        book.close()


def read_qianniu_xlsx(raw: bytes, builder: LogBuilder) -> None:
    """Add every message sheet's rows to ``builder`` as one session per sheet."""
    log = noted_builder("qianniu-xlsx", builder)
    broken = f"文件「{builder.file_name}」不是有效的 Excel (.xlsx) 文件，可能已损坏或不完整。"
    try:
        book = _open_book(raw)
        try:
            sheets = [(str(sheet.title), list(sheet.iter_rows(values_only=True)))
                      for sheet in book.worksheets]
        finally:
            book.close()
    except Exception as exc:  # openpyxl raises many unrelated types on damaged files
        raise ChatLogError(broken) from exc
    message_sheets = 0
    for title, rows in sheets:
        at = _header_row(rows)
        if at is None:
            log.notes.append(f"工作表「{title}」没有消息列（消息序号、发送内容），已跳过。")
            continue
        message_sheets += 1
        _read_sheet(title, _header(rows[at]), rows[at + 1:], at + 2, builder)
    if not message_sheets and not builder.error_count:
        raise ChatLogError(f"文件「{builder.file_name}」没有千牛聊天记录工作表："
                           f"应有 {'、'.join(XLSX_COLUMNS)} 这些列。")


@dataclass(frozen=True)
class _Row:
    number: int  # the sheet's row number, as Excel shows it
    seq: int
    cells: dict[str, Any]


def _read_sheet(title: str, header: list[str], rows: list[tuple[Any, ...]], first_row: int,
                builder: LogBuilder) -> None:
    index = {name: header.index(name) for name in XLSX_COLUMNS if name in header}

    def cell(cells: tuple[Any, ...], name: str) -> Any:
        i = index.get(name)
        return cells[i] if i is not None and i < len(cells) else None

    kept: list[_Row] = []
    for number, cells in enumerate(rows, start=first_row):
        builder.tick(number, len(rows))
        if all(scalar(c) == "" for c in cells):
            continue
        values = {name: cell(cells, name) for name in XLSX_COLUMNS}
        seq_text = scalar(values["消息序号"])
        try:
            seq = int(float(seq_text))
        except (ValueError, OverflowError):
            located_error(builder, f"工作表「{title}」第 {number} 行", f"消息序号「{seq_text[:20]}」不是数字")
            continue
        kept.append(_Row(number, seq, values))
    kept.sort(key=lambda r: r.seq)  # stable: equal numbers keep the sheet's order
    customer = next((scalar(r.cells["客户名"]) for r in kept if scalar(r.cells["客户名"])), "") or title
    key = customer if title in (customer, customer[:31]) else f"{customer}（{title}）"
    for row in kept:
        where = f"工作表「{title}」第 {row.number} 行"
        role = _sheet_role(row.cells, customer)
        if role is None:
            located_error(builder, where, f"账号类型「{scalar(row.cells['账号类型'])[:20]}」无法识别"
                                          "（应为 客户 或 客服）")
            continue
        try:
            sent_at = _cell_time(row.cells["发送时间"])
        except (ValueError, OverflowError, OSError):
            located_error(builder, where, f"发送时间「{scalar(row.cells['发送时间'])[:30]}」无法识别")
            continue
        text = scalar(row.cells["发送内容"])
        if not text:
            continue  # an empty cell (a card or picture the script could not write): no turn
        builder.add(row.number, key, role, text, sent_at)


def _sheet_role(cells: dict[str, Any], customer: str) -> str | None:
    kind = scalar(cells["账号类型"])
    if kind:
        return parse_role(kind)
    account = scalar(cells["发送账号"])
    if ":" in account or "：" in account:
        return AGENT
    return CUSTOMER if account and account == customer else None


def _cell_time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20_000 <= value <= 80_000:
        value = _EXCEL_EPOCH + timedelta(days=float(value))  # a date cell without a date format
    return parse_time(value)
