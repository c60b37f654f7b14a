"""Reading uploaded CSV/XLSX tables (through the upload gate) and writing formula-safe exports."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping, Sequence

import pandas as pd

from training.core.uploads import TableError, check_upload, decode_text

__all__ = ["FORMULA_PREFIXES", "TableError", "read_table", "require_columns", "safe_cell", "safe_export",
           "use_headers"]


def read_table(raw: bytes, *, file_name: str, limit_bytes: int | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/XLSX upload into a DataFrame of strings (empty cells become "").

    The bytes pass ``training.core.uploads.check_upload`` first (size limit, the settings' when
    ``limit_bytes`` is None; zip bombs; old .xls); any failure is a TableError in Chinese.
    """
    check_upload(raw, file_name=file_name, limit_bytes=limit_bytes)
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
    except Exception as exc:  # damaged workbooks raise zlib.error, XML ParseError, ... (fuzzed)
        raise TableError(f"文件「{file_name}」无法读取，可能已损坏或不完整。") from exc
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


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formula injection in an exported cell."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_export(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as formulas in Excel/WPS."""
    return frame.map(safe_cell)
