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

This module detects the format and reads the two line formats (jddc, jsonl); the table formats
are read in ``training.chats.readers``, and every row becomes a masked line in ``training.chats.rows``.
"""

from __future__ import annotations

import json

from training.chats.readers import MAPPED_FORMATS, ColumnMapping, csv_rows, read_table, xlsx_rows
from training.chats.rows import ChatLogError, LogBuilder, MaskedChatLog, add_record, scalar
from training.chats.types import AGENT, CUSTOMER
from training.core.progress import Progress
from training.core.uploads import check_upload, decode_text

FORMATS = ("jddc", "csv", "tsv", "xlsx", "jsonl")


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
    rows = xlsx_rows(raw, file_name, limit) if fmt == "xlsx" else csv_rows(
        _decode(raw, file_name), fmt, file_name)
    for _, row in rows:
        return [scalar(c) for c in row]
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
    builder = LogBuilder(fmt, file_name, progress)
    if fmt == "jddc":
        _read_jddc(_decode(raw, file_name), builder)
    elif fmt == "jsonl":
        _read_jsonl(_decode(raw, file_name), builder)
    elif fmt == "xlsx":
        rows = xlsx_rows(raw, file_name, limit)
        read_table(rows, len(rows), mapping, builder)
    else:
        text = _decode(raw, file_name)
        read_table(csv_rows(text, fmt, file_name), text.count("\n") + 1, mapping, builder)
    return builder.finish()


def _checked_size(raw: bytes, file_name: str, limit_bytes: int | None) -> int:
    return check_upload(raw, file_name=file_name, limit_bytes=limit_bytes, error=ChatLogError)


def _resolve(raw: bytes, file_name: str, file_format: str) -> str:
    fmt = detect_format(raw, file_name) if file_format == "auto" else file_format
    if fmt not in FORMATS:
        raise ChatLogError(f"不支持的格式「{file_format}」，可选：{'、'.join(FORMATS)}。")
    return fmt


def _decode(raw: bytes, file_name: str) -> str:
    return decode_text(raw, file_name=file_name, error=ChatLogError)  # UTF-16 refused by the gate


def _read_jddc(text: str, builder: LogBuilder) -> None:
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
        sku = scalar(fields[5])
        # Extra TABs belong to the content: JD does not quote the last column.
        builder.add(row, fields[0], CUSTOMER if sender == "0" else AGENT, "\t".join(fields[6:]),
                    sku="" if sku == "nan" else sku[:64])


def _read_jsonl(text: str, builder: LogBuilder) -> None:
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
        add_record(builder, row, values)
