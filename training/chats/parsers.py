"""Chat-log parsers: JD (JDDC) TSV, CSV/TSV/XLSX with a column mapping, and JSON Lines.

- jddc: 7 TAB-separated columns, no header (session, customer, sender 0/1, transferred, repeat,
  sku or "nan", content); further TABs belong to the content.
- csv/tsv/xlsx: a header row and a ColumnMapping (first sheet of a workbook).
- jsonl: {"session"|"session_id", "role"|"sender", "text"|"content", "time"|"sent_at"?} per line.

Every message is masked (``training.chats.masking``) as it is read, before anything else sees it.
Malformed rows are collected (the first 20 are listed) and the whole file is refused. A message
longer than ``MAX_MESSAGE_CHARS`` is masked, then cut there and marked ``TRUNCATION_MARK`` (the
rows are reported): one pasted document should not block a whole export. A CSV cell longer than
Python's csv field limit (131,072 characters) is refused with its row number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import openpyxl

from training.chats.masking import mask_with_counts
from training.chats.types import AGENT, CUSTOMER, ChatLine, ParsedChatLog
from training.core.clock import team_zone
from training.core.config import get_settings
from training.core.errors import UserError
from training.core.tables import TableError, check_xlsx_archive, decode_text

Progress = Callable[[float], None]

FORMATS = ("jddc", "csv", "tsv", "xlsx", "jsonl")
MAPPED_FORMATS = ("csv", "tsv", "xlsx")  # these need a ColumnMapping (header row)
MAX_MESSAGE_CHARS = 5_000
TRUNCATION_MARK = "…（已截断）"
MAX_LISTED_ERRORS = 20
SESSION_KEY_MAX = 128

_ROLES: dict[str, str] = {
    **dict.fromkeys(("0", "customer", "buyer", "user", "client", "顾客", "客户", "买家", "用户"), CUSTOMER),
    **dict.fromkeys(("1", "agent", "staff", "seller", "service", "客服", "商家", "卖家", "店家"), AGENT),
}
_HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "session": ("session", "session_id", "sessionid", "会话", "会话id", "会话编号", "会话号"),
    "role": ("role", "sender", "speaker", "角色", "发送方", "发送者", "身份"),
    "text": ("text", "content", "message", "内容", "消息", "消息内容", "聊天内容"),
    "time": ("time", "timestamp", "sent_at", "时间", "发送时间", "消息时间"),
}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


class ChatLogError(UserError):
    """A chat log cannot be imported; the message (Chinese) is shown to the user as is."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of a CSV/TSV/XLSX table hold the session, role, text and (optional) time."""

    session: str
    role: str
    text: str
    time: str | None = None


@dataclass
class MaskedChatLog(ParsedChatLog):
    """A parsed log plus what masking replaced and which rows were cut to the length cap."""

    masked: Counter[str] = field(default_factory=Counter)
    truncated_rows: list[int] = field(default_factory=list)


def parse_role(value: object) -> str | None:
    """CUSTOMER or AGENT for a role cell (0/1, customer/agent, 顾客/客服 …), None if unknown."""
    return _ROLES.get(_scalar(value).lower())


def parse_time(value: object) -> datetime | None:
    """An aware datetime for a time cell (naive times are the team's time); None if empty."""
    text = _scalar(value).replace("/", "-").replace("年", "-").replace("月", "-").replace("日", " ").strip()
    if isinstance(value, datetime):
        moment = value
    elif not text:
        return None
    elif text.isdigit() and len(text) in (10, 13):  # Unix seconds or milliseconds
        moment = datetime.fromtimestamp(int(text[:10]), tz=team_zone())
    else:
        moment = next((m for p in _TIME_FORMATS if (m := _strptime(text, p)) is not None), None) \
            or datetime.fromisoformat(text)  # raises ValueError for anything else
    if not 1970 <= moment.year <= 2100:
        raise ValueError(f"year {moment.year} out of range")
    # An export without offsets carries the wall clock of the shop's team, the zone setting.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=team_zone())


def _strptime(text: str, pattern: str) -> datetime | None:
    try:
        return datetime.strptime(text, pattern)
    except ValueError:
        return None


def propose_mapping(columns: Sequence[str]) -> dict[str, str | None]:
    """Guess which header holds session/role/text/time (None where no header fits)."""
    lowered = {str(c).strip().lower().replace(" ", ""): str(c) for c in columns}
    return {key: next((lowered[n] for n in names if n in lowered), None)
            for key, names in _HEADER_NAMES.items()}


def detect_format(raw: bytes, file_name: str) -> str:
    """Guess "jddc", "csv", "tsv", "xlsx" or "jsonl" from the file name and first line."""
    lower = file_name.lower()
    if raw.startswith(b"\xd0\xcf\x11\xe0") or lower.endswith(".xls"):
        raise ChatLogError(f"文件「{file_name}」是旧版 Excel (.xls) 或加密的工作簿：请另存为 .xlsx 后重试。")
    if raw.startswith(b"PK\x03\x04") or lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    head = raw[:65_536].decode("utf-8", errors="ignore").lstrip("\ufeff")
    first = next((line for line in head.split("\n") if line.strip()), "").rstrip("\r")
    if lower.endswith((".jsonl", ".ndjson")) or first.lstrip().startswith("{"):
        return "jsonl"
    fields = first.split("\t")
    if len(fields) >= 7 and all(f.strip() in ("0", "1") for f in fields[2:5]):
        return "jddc"
    return "tsv" if lower.endswith(".tsv") or "\t" in first else "csv"


def read_header(raw: bytes, *, file_name: str, file_format: str = "auto") -> list[str]:
    """The header row of a CSV/TSV/XLSX upload ([] for other formats), for the mapping step."""
    limit = _checked_size(raw, file_name, None)
    fmt = _resolve(raw, file_name, file_format)
    if fmt not in MAPPED_FORMATS:
        return []
    rows = _xlsx_rows(raw, file_name, limit) if fmt == "xlsx" else _csv_rows(
        _decode(raw, file_name), fmt, file_name)
    for _, row in rows:
        return [_scalar(c) for c in row]
    raise ChatLogError(f"文件「{file_name}」是空的。")


def parse_chat_log(
    raw: bytes, *, file_name: str, file_format: str = "auto", mapping: ColumnMapping | None = None,
    progress: Progress | None = None, limit_bytes: int | None = None,
) -> MaskedChatLog:
    """Read a chat-log upload into masked ChatLines, all rows or a ChatLogError.

    Args:
        raw: the uploaded bytes (UTF-8, UTF-8 with BOM or GBK/GB18030 for text formats).
        file_name: shown in error messages; its extension helps format detection.
        file_format: one of FORMATS, or "auto" to use ``detect_format``.
        mapping: columns for csv/tsv/xlsx; proposed from the header names when None.
        progress: called with the fraction done, in [0, 1].
        limit_bytes: size cap, checked before decoding; default ``settings.upload_limit_mb``.

    Returns:
        The masked log: lines in file order, ``seq`` counting within each session.
    """
    limit = _checked_size(raw, file_name, limit_bytes)
    fmt = _resolve(raw, file_name, file_format)
    builder = _LogBuilder(fmt, file_name, progress)
    if fmt == "jddc":
        _read_jddc(_decode(raw, file_name), builder)
    elif fmt == "jsonl":
        _read_jsonl(_decode(raw, file_name), builder)
    elif fmt == "xlsx":
        rows = _xlsx_rows(raw, file_name, limit)
        _read_table(rows, len(rows), mapping, builder)
    else:
        text = _decode(raw, file_name)
        _read_table(_csv_rows(text, fmt, file_name), text.count("\n") + 1, mapping, builder)
    return builder.finish()


# --- helpers ------------------------------------------------------------------------------


def _checked_size(raw: bytes, file_name: str, limit_bytes: int | None) -> int:
    limit = limit_bytes if limit_bytes is not None else get_settings().upload_limit_mb * 1024 * 1024
    if not raw.strip():
        raise ChatLogError(f"文件「{file_name}」是空的。")
    if len(raw) > limit:
        raise ChatLogError(f"文件「{file_name}」大小 {len(raw) / 2**20:.1f} MB，超过上传上限 "
                           f"{limit / 2**20:.0f} MB，请拆分后再导入。")
    return limit


def _resolve(raw: bytes, file_name: str, file_format: str) -> str:
    fmt = detect_format(raw, file_name) if file_format == "auto" else file_format
    if fmt not in FORMATS:
        raise ChatLogError(f"不支持的格式「{file_format}」，可选：{'、'.join(FORMATS)}。")
    return fmt


def _decode(raw: bytes, file_name: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ChatLogError(f"文件「{file_name}」是 UTF-16 编码：请另存为 UTF-8 或 GBK 编码后重试。")
    try:
        return decode_text(raw, file_name=file_name)
    except TableError as exc:
        raise ChatLogError(str(exc)) from exc


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores 0/1 and ids as floats
    return _CONTROL_RE.sub("", str(value)).strip()


class _LogBuilder:
    """Collects masked lines and row errors; numbers lines within sessions."""

    def __init__(self, file_format: str, file_name: str, progress: Progress | None) -> None:
        self.log = MaskedChatLog(file_format=file_format)
        self.file_name = file_name
        self.progress = progress
        self.errors: list[str] = []
        self.error_count = 0
        self._seq: Counter[str] = Counter()
        self._keys: dict[str, str] = {}

    def error(self, row: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(f"第 {row} 行：{message}")

    def tick(self, row: int, total: int) -> None:
        if self.progress is not None and row % 500 == 0:
            self.progress(min(row / max(total, 1), 1.0))

    def add(self, row: int, session: object, role: str, text: object,
            sent_at: datetime | None = None, sku: str = "") -> None:
        key = self._session_key(_scalar(session))
        if not key:
            self.error(row, "会话编号为空")
            return
        masked, counts = mask_with_counts(_scalar(text))
        self.log.masked.update(counts)
        if len(masked) > MAX_MESSAGE_CHARS:
            masked = masked[:MAX_MESSAGE_CHARS] + TRUNCATION_MARK
            self.log.truncated_rows.append(row)
        self._seq[key] += 1
        self.log.lines.append(ChatLine(session_key=key, seq=self._seq[key], role=role, text=masked,
                                       sent_at=sent_at, sku=sku))

    def _session_key(self, raw_key: str) -> str:
        if raw_key not in self._keys:
            key = raw_key
            if len(key) > SESSION_KEY_MAX or mask_with_counts(key)[1]:
                # A key that is (or holds) a phone number must not be stored; a hash still groups.
                key = "会话-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            self._keys[raw_key] = key
        return self._keys[raw_key]

    def finish(self) -> MaskedChatLog:
        if self.error_count:
            more = self.error_count - len(self.errors)
            tail = f"\n……另有 {more} 行错误未列出。" if more else ""
            raise ChatLogError(f"文件「{self.file_name}」有 {self.error_count} 行无法导入，整份文件未导入，"
                               f"请修改后重试：\n" + "\n".join(self.errors) + tail, self.errors)
        if not self.log.lines:
            raise ChatLogError(f"文件「{self.file_name}」没有聊天记录。")
        if self.progress is not None:
            self.progress(1.0)
        return self.log


def _read_jddc(text: str, builder: _LogBuilder) -> None:
    lines = text.split("\n")
    for row, line in enumerate(lines, start=1):
        builder.tick(row, len(lines))
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) < 7:
            builder.error(row, f"应有 7 列，实际 {len(fields)} 列")
            continue
        sender = fields[2].strip()
        if sender not in ("0", "1"):
            builder.error(row, f"第 3 列（发送方）应为 0（顾客）或 1（客服），实际为「{sender[:20]}」")
            continue
        sku = _scalar(fields[5])
        # Extra TABs belong to the content: JD does not quote the last column.
        builder.add(row, fields[0], CUSTOMER if sender == "0" else AGENT, "\t".join(fields[6:]),
                    sku="" if sku == "nan" else sku[:64])


def _read_jsonl(text: str, builder: _LogBuilder) -> None:
    lines = text.split("\n")
    for row, line in enumerate(lines, start=1):
        builder.tick(row, len(lines))
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # ValueError also covers ints over 4300 digits
            builder.error(row, "不是合法的 JSON")
            continue
        if not isinstance(obj, dict):
            builder.error(row, "每行应是一个 JSON 对象")
            continue
        values = {key: next((obj[n] for n in names if n in obj), None)
                  for key, names in (("session", ("session", "session_id")), ("role", ("role", "sender")),
                                     ("text", ("text", "content")), ("time", ("time", "sent_at")))}
        _add_record(builder, row, values)


def _add_record(builder: _LogBuilder, row: int, values: dict[str, Any]) -> None:
    for key, label in (("session", "会话"), ("role", "角色"), ("text", "内容")):
        if values[key] is None or isinstance(values[key], (dict, list)):
            builder.error(row, f"缺少{label}或{label}不是文本")
            return
    role = parse_role(values["role"])
    if role is None:
        builder.error(row, f"角色「{_scalar(values['role'])[:20]}」无法识别"
                           "（应为 0/1、customer/agent、顾客/客服 等）")
        return
    try:
        sent_at = parse_time(values["time"])
    except (ValueError, OverflowError, OSError):
        builder.error(row, f"时间「{_scalar(values['time'])[:30]}」无法识别")
        return
    builder.add(row, values["session"], role, values["text"], sent_at)


def _csv_rows(text: str, fmt: str, file_name: str) -> Iterable[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):  # noqa: B007 - used in the error below
            yield row, list(cells)
    except csv.Error as exc:
        raise ChatLogError(f"文件「{file_name}」第 {row + 1} 行无法解析（单元格过长或引号不匹配）。") from exc


def _xlsx_rows(raw: bytes, file_name: str, limit: int) -> list[tuple[int, list[Any]]]:
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


def _read_table(rows: Iterable[tuple[int, list[Any]]], total: int, mapping: ColumnMapping | None,
                builder: _LogBuilder) -> None:
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        raise ChatLogError(f"文件「{builder.file_name}」是空的。")
    header = [_scalar(c) for c in first[1]]
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
        if all(_scalar(c) == "" for c in cells):
            continue
        if len(cells) < need:
            builder.error(row, f"应至少有 {need} 列，实际 {len(cells)} 列")
            continue
        values: dict[str, Any] = {"time": None}
        values.update({key: "" if cells[i] is None else cells[i] for key, i in index.items()})
        _add_record(builder, row, values)
