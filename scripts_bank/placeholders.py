"""Placeholders in scripts (``{客户称呼}``, ``{订单号}`` …): find, fill and check them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from training.nlp.placeholder_syntax import CLOSE_BRACES as _CLOSE
from training.nlp.placeholder_syntax import MAX_NAME_LENGTH
from training.nlp.placeholder_syntax import OPEN_BRACES as _OPEN
from training.nlp.placeholder_syntax import PLACEHOLDER as _PLACEHOLDER

#: The placeholders the lookup page offers to fill; others are allowed (see placeholder_problems).
KNOWN_PLACEHOLDERS: tuple[str, ...] = (
    "客户称呼", "订单号", "商品名称", "客服昵称", "店铺名称", "物流单号", "快递公司",
    "收货地址", "金额", "日期", "时间", "优惠券",
)


def placeholders_in(text: str) -> list[str]:
    """Names of the well-formed placeholders in ``text``, unique, in order of appearance."""
    names = (m.group(1).strip() for m in _PLACEHOLDER.finditer(text))
    return list(dict.fromkeys(n for n in names if n))


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each placeholder replaced by its value; blank or missing values stay visible."""

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1).strip(), "")
        return value if value.strip() else match.group(0)

    return _PLACEHOLDER.sub(replace, text)


def placeholder_problems(text: str) -> list[str]:
    """Problems a trainer should fix before saving (Chinese, one message each).

    Unbalanced or nested braces, empty ``{}`` and over-long names are errors; names outside
    ``KNOWN_PLACEHOLDERS`` are allowed but reported as a hint (the page cannot offer to fill them).
    """
    problems: list[str] = []
    open_at: int | None = None
    for pos, char in enumerate(text):
        if char in _OPEN:
            if open_at is not None:
                problems.append(f"第 {open_at + 1} 个字符处的「{text[open_at]}」没有闭合（占位符不能嵌套）。")
            open_at = pos
        elif char in _CLOSE:
            if open_at is None:
                problems.append(f"第 {pos + 1} 个字符处的「{char}」多余，没有对应的「{{」。")
                continue
            problems.extend(_name_problems(text[open_at + 1 : pos], open_at))
            open_at = None
        elif char in "\r\n" and open_at is not None:
            problems.append(f"第 {open_at + 1} 个字符处的「{text[open_at]}」没有闭合。")
            open_at = None
    if open_at is not None:
        problems.append(f"第 {open_at + 1} 个字符处的「{text[open_at]}」没有闭合。")
    unknown = [n for n in placeholders_in(text) if n not in KNOWN_PLACEHOLDERS]
    if unknown:
        names = "、".join(f"{{{n}}}" for n in unknown)
        problems.append(f"提示：{names} 不是常用占位符，查询页面不会提示填写，复制时请手动替换。")
    return problems


def _name_problems(name: str, open_at: int) -> list[str]:
    if not name.strip():
        return [f"第 {open_at + 1} 个字符处是空的占位符「{{}}」：请写上名称，例如 {{客户称呼}}。"]
    if len(name) > MAX_NAME_LENGTH:
        return [f"第 {open_at + 1} 个字符处的占位符名称过长（{len(name)} 个字，最多 {MAX_NAME_LENGTH} 个）："
                f"「{name[:20]}」。"]
    return []
