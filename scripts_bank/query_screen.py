"""Screening what agents typed before it becomes a bank question: markup, web addresses, no words."""

from __future__ import annotations

import re

#: Longer than any customer's question: a pasted page or log, not something to examine on.
MAX_QUESTION_CHARS = 200

_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!][^<>]*>|<\s*script|javascript\s*:|\bon[a-z]+\s*=", re.IGNORECASE)
_ADDRESS = re.compile(r"https?://|www\.[\w-]+\.", re.IGNORECASE)
_CODE = re.compile(r"(?is)\b(select|union|drop|insert|delete|update)\b.+\b(from|table|into|set)\b"
                   r"|;\s*--|'\s*or\s+\d+\s*=\s*\d+")
_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def not_a_question(text: str) -> str | None:
    """Why ``text`` is obviously not a customer question (Chinese, for the trainer), or None.

    Only the obvious is caught — markup or script, a web address, code, no words at all, a
    pasted page — so every real question, however odd its wording, still reaches the trainer.
    """
    stripped = text.strip()
    if not _WORD.search(stripped):
        return "没有文字"
    if _MARKUP.search(stripped):
        return "含网页代码"
    if _CODE.search(stripped):
        return "含程序代码"
    if _ADDRESS.search(stripped):
        return "是网址"
    if len(stripped) > MAX_QUESTION_CHARS:
        return f"超过 {MAX_QUESTION_CHARS} 字，不像一句顾客问题"
    return None
