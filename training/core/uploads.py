"""The one gate every importer passes uploaded bytes through, before anything parses them.

``check_upload`` refuses an empty file, one over the upload limit (``HUASHU_UPLOAD_LIMIT_MB``), an
old .xls or UTF-16 file, and an XLSX that is broken or unpacks to a zip bomb; ``decode_text`` reads
text in UTF-8 (with or without BOM) or GBK/GB18030. The chat-log import, the knowledge items, the
bulk user import and the 话术 table all go through them (``training.core.tables.read_table`` calls
both for a CSV/XLSX table). Refusals are ``UserError``s with a Chinese message; each importer may
pass its own subclass as ``error``.
"""

from __future__ import annotations

import io
import zipfile

from training.core.config import get_settings
from training.core.errors import UserError

MB = 1024 * 1024

#: Text encodings tried in order: UTF-8 (a BOM is dropped), then GB18030, a superset of GBK.
ENCODINGS = ("utf-8-sig", "gb18030")

#: An XLSX may unpack to this many times the upload limit; more is treated as a zip bomb.
XLSX_MAX_EXPANSION = 20

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls, and encrypted workbooks
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class TableError(UserError):
    """An uploaded file or table cannot be read; the message is shown to the user as is."""


def upload_limit_bytes() -> int:
    """The largest upload accepted, in bytes (``settings.upload_limit_mb``)."""
    return get_settings().upload_limit_mb * MB


def check_upload(
    raw: bytes, *, file_name: str, limit_bytes: int | None = None, error: type[UserError] = TableError,
) -> int:
    """Refuse what no importer can read, before parsing; return the size limit applied.

    Args:
        raw: the uploaded bytes.
        file_name: shown in the messages; an .xlsx/.xlsm name marks a workbook.
        limit_bytes: the size cap; the upload limit of the settings when None.
        error: the ``UserError`` subclass raised.

    Raises:
        ``error`` for an empty (or blank) file, a file over the limit, an old .xls or encrypted
        workbook, UTF-16 text, and a workbook (by name or content) that is broken or unpacks to
        more than ``XLSX_MAX_EXPANSION`` times the limit.
    """
    limit = limit_bytes if limit_bytes is not None else upload_limit_bytes()
    if not raw.strip():
        raise error(f"文件「{file_name}」是空的。")
    if len(raw) > limit:
        raise error(f"文件「{file_name}」大小 {len(raw) / MB:.1f} MB，超过上传上限 "
                    f"{limit / MB:.0f} MB，请拆分后再导入。")
    lower = file_name.lower()
    if raw.startswith(_OLE_MAGIC) or lower.endswith(".xls"):
        raise error(f"文件「{file_name}」是旧版 Excel (.xls) 或加密的工作簿：请另存为 .xlsx 后重试。")
    if raw.startswith(_UTF16_BOMS):
        raise error(f"文件「{file_name}」是 UTF-16 编码：请另存为 UTF-8 或 GBK 编码后重试。")
    if is_workbook(raw, file_name):
        check_xlsx_archive(raw, file_name=file_name, limit=limit, error=error)
    return limit


def is_workbook(raw: bytes, file_name: str) -> bool:
    """Whether ``raw`` is meant as, or is, a zip archive (an XLSX), whatever its name says."""
    if raw.startswith(_ZIP_MAGIC) or file_name.lower().endswith((".xlsx", ".xlsm")):
        return True
    return zipfile.is_zipfile(io.BytesIO(raw))  # a zip behind a prefix still opens


def check_xlsx_archive(
    raw: bytes, *, file_name: str, limit: int, error: type[UserError] = TableError,
) -> None:
    """Refuse a broken XLSX or one whose unpacked size betrays a zip bomb (raises ``error``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise error(f"文件「{file_name}」不是有效的 Excel (.xlsx) 文件，可能已损坏或不完整。") from exc
    if unpacked > limit * XLSX_MAX_EXPANSION:
        raise error(f"文件「{file_name}」解压后过大，请拆分后再导入。")


def decode_text(raw: bytes, *, file_name: str, error: type[UserError] = TableError) -> str:
    """Decode UTF-8 (with or without BOM) or GBK/GB18030 bytes, else raise ``error``."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise error(f"文件「{file_name}」的编码无法识别：请另存为 UTF-8 或 GBK 编码后重试。")
