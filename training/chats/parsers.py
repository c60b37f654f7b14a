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

- qianniu-xlsx / qianniu-zip: the 千牛 export script's workbook (one sheet per customer) and its
  ZIP of one JSON file per customer (``training.chats.qianniu``, ``training.chats.qianniu_zip``).
- qianniu-text: text copied from the 千牛 client's history window (``training.chats.qianniu_text``).

This module detects the format and reads the two line formats (jddc, jsonl); the table formats
are read in ``training.chats.readers``, and every row becomes a masked line in ``training.chats.rows``.
"""

from __future__ import annotations

import json
import zipfile

from training.chats.qianniu import is_qianniu_workbook, read_qianniu_xlsx
from training.chats.qianniu_text import looks_like_qianniu_text, read_qianniu_text
from training.chats.qianniu_zip import has_json_members, is_workbook_archive, open_zip, read_qianniu_zip
from training.chats.readers import MAPPED_FORMATS, ColumnMapping, csv_rows, read_table, xlsx_rows
from training.chats.rows import ChatLogError, LogBuilder, MaskedChatLog, add_record, scalar
from training.chats.types import AGENT, CUSTOMER
from training.core.progress import Progress
from training.core.uploads import XLSX_MAX_EXPANSION, check_upload, decode_text, upload_limit_bytes

FORMATS = ("jddc", "csv", "tsv", "xlsx", "jsonl", "qianniu-xlsx", "qianniu-zip", "qianniu-text")
_HEAD_BYTES = 65_536


def detect_format(raw: bytes, file_name: str) -> str:
    """Guess one of FORMATS from the file name and content (archives are opened, text's first line read).

    A ZIP archive is a workbook ("qianniu-xlsx" when a sheet has the 千牛 message columns, else
    "xlsx") or a folder of JSON exports ("qianniu-zip"); text whose first line is a 千牛 header
    (``昵称 2026-3-5 14:02:11``) is "qianniu-text".
    """
    lower = file_name.lower()
    if raw.startswith(b"\xd0\xcf\x11\xe0") or lower.endswith(".xls"):
        raise ChatLogError(f"文件「{file_name}」是旧版 Excel (.xls) 或加密的工作簿：请另存为 .xlsx 后重试。")
    if raw.startswith(b"PK\x03\x04") or lower.endswith((".xlsx", ".xlsm", ".zip")):
        return _detect_archive(raw, lower)
    head = _head_text(raw[:_HEAD_BYTES])
    first = next((line for line in head.split("\n") if line.strip()), "").rstrip("\r")
    if lower.endswith((".jsonl", ".ndjson")) or first.lstrip().startswith("{"):
        return "jsonl"
    fields = first.split("\t")
    if len(fields) >= 7 and all(f.strip() in ("0", "1") for f in fields[2:5]):
        return "jddc"
    if not lower.endswith((".csv", ".tsv")) and looks_like_qianniu_text(head):
        return "qianniu-text"
    return "tsv" if lower.endswith(".tsv") or "\t" in first else "csv"


def _detect_archive(raw: bytes, lower: str) -> str:
    fallback = "qianniu-zip" if lower.endswith(".zip") else "xlsx"  # the reader reports the damage
    limit = upload_limit_bytes()
    if len(raw) > limit:
        return fallback
    try:
        with open_zip(raw, lower) as archive:
            if is_workbook_archive(archive):
                unpacked = sum(info.file_size for info in archive.infolist())
                # A zip bomb is not opened here: the size gate refuses it when the file is read.
                return "qianniu-xlsx" if unpacked <= limit * XLSX_MAX_EXPANSION and \
                    is_qianniu_workbook(raw) else "xlsx"
            return "qianniu-zip" if lower.endswith(".zip") or has_json_members(archive) else fallback
    except (ChatLogError, zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return fallback


def _head_text(head: bytes) -> str:
    """The first bytes as text for detection: UTF-8 (a character cut at the end is dropped) or GBK."""
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return head.decode("gb18030", errors="ignore")
        return head.decode("utf-8-sig", errors="ignore")


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
    elif fmt == "qianniu-xlsx":
        read_qianniu_xlsx(raw, builder)
    elif fmt == "qianniu-zip":
        read_qianniu_zip(raw, limit, builder)
    elif fmt == "qianniu-text":
        read_qianniu_text(_decode(raw, file_name), builder)
    else:
        text = _decode(raw, file_name)
        read_table(csv_rows(text, fmt, file_name), text.count("\n") + 1, mapping, builder)
    return builder.finish()


def _checked_size(raw: bytes, file_name: str, limit_bytes: int | None) -> int:
    limit = limit_bytes if limit_bytes is not None else upload_limit_bytes()
    if file_name.lower().endswith(".zip") and raw.strip() and len(raw) <= limit:
        open_zip(raw, file_name).close()  # a broken .zip is called a ZIP file, not a broken workbook
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
