"""The syntax of placeholders in scripts (``{客户称呼}``, full-width ``｛订单号｝``), shared by layers.

The script bank fills and checks placeholders (``scripts_bank.placeholders``); grading and
feedback read scripts without them. Both use this one pattern, kept here in ``training`` because
``scripts_bank`` imports ``training`` and never the other way round.
"""

from __future__ import annotations

import re

#: Longer names are almost always a stray brace around ordinary text.
MAX_NAME_LENGTH = 12
# Chinese input methods often type full-width braces, so both widths count.
OPEN_BRACES = "{｛"
CLOSE_BRACES = "}｝"
PLACEHOLDER = re.compile(rf"[{{｛]([^{{}}｛｝\r\n]{{1,{MAX_NAME_LENGTH}}})[}}｝]")


def without_placeholders(text: str, separator: str = "，") -> str:
    """``text`` with every well-formed placeholder replaced by ``separator`` (a word boundary)."""
    return PLACEHOLDER.sub(separator, text)
