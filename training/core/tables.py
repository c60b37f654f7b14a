"""Reading uploaded CSV/XLSX tables with encoding detection and Chinese error messages."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping, Sequence

import pandas as pd

from training.core.errors import UserError


class TableError(UserError):
    """An uploaded table cannot be read; the message is shown to the user as is."""


ENCODINGS = ("utf-8-sig", "gb18030")


def decode_text(raw: bytes, *, file_name: str) -> str:
    """Decode UTF-8 (with or without BOM) or GBK/GB18030 bytes, else raise a TableError."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(f"文件「{file_name}」的编码无法识别：请另存为 UTF-8 或 GBK 编码后重试。")


def read_table(raw: bytes, *, file_name: str, limit_bytes: int | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/XLSX upload into a DataFrame of strings (empty cells become "")."""
    if not raw:
        raise TableError(f"文件「{file_name}」是空的。")
    if limit_bytes is not None and len(raw) > limit_bytes:
        raise TableError(
            f"文件「{file_name}」超过大小上限 {limit_bytes // (1024 * 1024)} MB，请拆分后再上传。"
        )
    lower = file_name.lower()
    try:
        if lower.endswith((".xlsx", ".xlsm")):
            frame = pd.read_excel(io.BytesIO(raw), dtype=str, engine="openpyxl")
        else:
            text = decode_text(raw, file_name=file_name)
            sep = "\t" if lower.endswith(".tsv") else ","
            frame = pd.read_csv(io.StringIO(text), dtype=str, sep=sep, keep_default_na=False,
                                quoting=csv.QUOTE_MINIMAL)
    except TableError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise TableError(f"文件「{file_name}」不是有效的 Excel (.xlsx) 文件，可能已损坏或不完整。") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        # The parser's own message is English; only the line it names is worth passing on.
        line = re.search(r"line (\d+)", str(exc))
        where = f"（第 {line.group(1)} 行附近）" if line else ""
        raise TableError(f"文件「{file_name}」格式有误，无法解析{where}："
                         "请检查分隔符、引号和每行的列数。") from exc
    frame = frame.fillna("")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.map(lambda v: str(v).strip())


def use_headers(frame: pd.DataFrame, headers: Mapping[str, str], required: Sequence[str], *,
                file_name: str) -> pd.DataFrame:
    """``frame`` with its Chinese headers renamed to the internal column names.

    Args:
        headers: internal name -> the Chinese header users write (``{"stem": "题干"}``); the
            internal name itself is accepted too, so older English templates still import.
        required: internal names that must be present.

    Returns:
        The frame with internal column names; a TableError names the missing Chinese headers.
    """
    renamed = frame.rename(columns={label: name for name, label in headers.items()})
    missing = [headers[name] for name in required if name not in renamed.columns]
    if missing:
        needed = "、".join(headers[name] for name in required)
        raise TableError(f"文件「{file_name}」缺少列：{'、'.join(missing)}（需要：{needed}）。")
    return renamed


def require_columns(frame: pd.DataFrame, columns: list[str], *, file_name: str) -> None:
    """Raise a TableError naming the columns missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TableError(f"文件「{file_name}」缺少列：{'、'.join(missing)}（需要：{'、'.join(columns)}）。")


#: An XLSX may unpack to this many times the upload limit; more is treated as a zip bomb.
XLSX_MAX_EXPANSION = 20


def check_xlsx_archive(raw: bytes, *, file_name: str, limit: int, error: type[UserError] = UserError) -> None:
    """Refuse a broken XLSX or one whose unpacked size betrays a zip bomb (raises ``error``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise error(f"文件「{file_name}」不是有效的 Excel (.xlsx) 文件，可能已损坏或不完整。") from exc
    if unpacked > limit * XLSX_MAX_EXPANSION:
        raise error(f"文件「{file_name}」解压后过大，请拆分后再导入。")


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formula injection in an exported cell."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_export(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as formulas in Excel/WPS."""
    return frame.map(safe_cell)
