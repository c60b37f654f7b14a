"""The approved bank as a Zammad text-module CSV (``name,keywords,content,note,active``).

Zammad (an open-source help desk) imports text modules from a CSV with these headers; ``name`` is
the title an agent searches, ``keywords`` the words its ``::`` shortcut matches, ``content`` the
reply (HTML in Zammad: line breaks become ``<br>``, the text is escaped). Cells are safe from
formula injection like every export.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable

from scripts_bank.io import ScriptRow
from training.core.tables import safe_cell

HEADER = ("name", "keywords", "content", "note", "active")
NOTE = "话术 Huashu 导出"


def zammad_csv(rows: Iterable[ScriptRow]) -> bytes:
    """One text module per approved script: name = question, keywords = category and tags."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        content = "<br>".join(html.escape(line) for line in row.answer.splitlines())
        keywords = " ".join(dict.fromkeys([row.category, *row.tags, *([row.product] if row.product else [])]))
        name = row.question + (f"（{row.variant}）" if row.variant else "")
        writer.writerow([safe_cell(name), safe_cell(keywords), safe_cell(content), NOTE, "true"])
    return buffer.getvalue().encode("utf-8")
