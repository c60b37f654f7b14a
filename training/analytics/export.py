"""Chart data as downloadable CSV/XLSX, text cells neutralised against formula injection."""

from __future__ import annotations

import io
import re

import pandas as pd

from training.core.tables import safe_export

EXPORT_FORMATS = ("csv", "xlsx")


def chart_data_bytes(frame: pd.DataFrame, fmt: str, *, sheet: str = "数据") -> bytes:
    """``frame`` as CSV (UTF-8 with BOM, for Excel/WPS) or XLSX, via ``tables.safe_export``."""
    safe = safe_export(frame)
    if fmt == "csv":
        return safe.to_csv(index=False).encode("utf-8-sig")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            safe.to_excel(writer, index=False, sheet_name=re.sub(r"[\[\]:*?/\\]", "", sheet)[:31] or "数据")
        return buffer.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")
