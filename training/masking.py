"""Personal-data masking of chat text and normalisation of export placeholders.

``mask_personal_data`` runs on every imported chat line before anything else sees it; the
result is what gets stored. ``clean_text`` (placeholders unified, whitespace collapsed) makes
the copy that mining compares, so "[数字x]" from JD and "[数字3]" from another export match.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

PHONE = "[手机号]"
LANDLINE = "[座机]"
ID_CARD = "[身份证号]"
EMAIL = "[邮箱]"
BANK_CARD = "[银行卡号]"
ADDRESS = "[地址]"
MASK_PLACEHOLDERS = (PHONE, LANDLINE, ID_CARD, EMAIL, BANK_CARD, ADDRESS)

# --- context ------------------------------------------------------------------------------
# The nearest label before a number decides ambiguous cases: "卡号 6217…" is a card even
# without a valid Luhn digit, "订单号 2769…" is an order id even if it passes Luhn.
_LABELS: dict[str, str] = {
    **dict.fromkeys(("卡号", "银行卡", "信用卡", "储蓄卡", "借记卡", "卡", "账号", "帐号"), "card"),
    **dict.fromkeys(("订单号", "订单", "单号", "运单", "快递单", "物流单"), "order"),
    **dict.fromkeys(("身份证", "证件"), "id"),
    **dict.fromkeys(("电话", "手机", "联系方式", "tel", "TEL", "Tel"), "phone"),
}
_LABEL_RE = re.compile("|".join(sorted(map(re.escape, _LABELS), key=len, reverse=True)))
_CONTEXT_CHARS = 12


def _label_before(text: str, start: int) -> str | None:
    window = text[max(0, start - _CONTEXT_CHARS):start]
    found = list(_LABEL_RE.finditer(window))
    return _LABELS[found[-1].group()] if found else None


def luhn_valid(digits: str) -> bool:
    """True if a digit string passes the Luhn check used by bank cards."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def id_checksum_valid(number: str) -> bool:
    """True if an 18-character ID-card number has a correct ISO 7064 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


# --- patterns -----------------------------------------------------------------------------
_NB = r"(?<![0-9A-Za-z_])"  # not glued to a longer code on the left
_NA = r"(?![0-9A-Za-z_])"  # ... or on the right
_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"

# Bounded repeats: an unbounded local part makes long letter runs without "@" quadratic.
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![A-Za-z])"
)
_ID18_RE = re.compile(_NB + r"[1-8]\d{5}(?:18|19|20)\d{2}" + _DATE + r"\d{3}[\dXx]" + _NA)
_ID15_RE = re.compile(_NB + r"[1-8]\d{7}" + _DATE + r"\d{3}" + _NA)
_CARD_RE = re.compile(_NB + r"(?:\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{16,19})" + _NA)
_MOBILE_RE = re.compile(r"(?<![0-9A-Za-z_+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _NA)
_LANDLINE_RE = re.compile(_NB + r"(?:\(0\d{2,3}\)|0\d{2,3}[ -]?)\d{7,8}(?:-\d{1,5})?" + _NA)

_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|"
    "广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
# A place-name character: Han, but not words that start a sentence ("地址是…", "寄到…"),
# so the match begins at the place name instead of swallowing the words before it.
_PLACE = r"(?:(?![址是在到我你的请住寄送改收话])[\u4e00-\u9fff])"
_CITY = _PLACE + r"{2,6}?(?:市|自治州|地区|盟)"
_DISTRICT = _PLACE + r"{1,6}?(?:区|县|旗|市)"
_ADDRESS_RE = re.compile(
    rf"(?:(?:{_PROVINCES})(?:省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)?"
    rf"(?:{_CITY})?(?:{_DISTRICT})?|{_CITY}(?:{_DISTRICT})?|{_DISTRICT})"
    r"(?:" + _PLACE + r"{1,8}?(?:街道|镇|乡))?"
    r"[\u4e00-\u9fffA-Za-z0-9]{1,12}?(?:大街|大道|胡同|路|街|道|巷|弄)"
    r"\d{1,5}(?:-\d{1,5})?号"
    r"(?:[\dA-Za-z一二三四五六七八九十]{1,4}(?:号楼|栋|幢|座))?"
    r"(?:\d{1,3}单元)?(?:\d{1,3}[层楼])?(?:[\dA-Za-z]{1,5}(?:室|房|户))?"
)


_Decide = Callable[[str, re.Match[str]], str | None]


def _id18(text: str, match: re.Match[str]) -> str | None:
    label = _label_before(text, match.start())
    if label == "card" or (label == "order" and not id_checksum_valid(match.group())):
        return None
    return ID_CARD


def _id15(text: str, match: re.Match[str]) -> str | None:
    # 15-digit numbers are common as codes; only the old ID format when labelled as one.
    return ID_CARD if _label_before(text, match.start()) == "id" else None


def _card(text: str, match: re.Match[str]) -> str | None:
    label = _label_before(text, match.start())
    if label == "card":
        return BANK_CARD
    if label == "order":
        return None
    return BANK_CARD if luhn_valid(re.sub(r"\D", "", match.group())) else None


def _phone_like(placeholder: str) -> _Decide:
    def decide(text: str, match: re.Match[str]) -> str | None:
        return None if _label_before(text, match.start()) == "order" else placeholder
    return decide


def _always(placeholder: str) -> _Decide:
    return lambda _text, _match: placeholder


# Order matters: longer and more specific patterns first, so a phone number inside an
# address or an ID number is never half-masked. The hint skips a pattern cheaply when the
# text cannot contain a match (most chat lines hold no digits at all).
_HAS_DIGITS = re.compile(r"\d{3}").search
_HAS_STREET_NUMBER = re.compile(r"(?:街|道|路|巷|弄|同)\d{1,5}(?:-\d{1,5})?号").search
_RULES: tuple[tuple[Callable[[str], object], re.Pattern[str], _Decide], ...] = (
    (lambda t: "@" in t, _EMAIL_RE, _always(EMAIL)),
    (_HAS_STREET_NUMBER, _ADDRESS_RE, _always(ADDRESS)),
    (_HAS_DIGITS, _ID18_RE, _id18),
    (_HAS_DIGITS, _CARD_RE, _card),
    (_HAS_DIGITS, _ID15_RE, _id15),
    (_HAS_DIGITS, _MOBILE_RE, _phone_like(PHONE)),
    (_HAS_DIGITS, _LANDLINE_RE, _phone_like(LANDLINE)),
)


# Full-width digits, letters and signs are common in Chinese input ("１３８…"); patterns run on
# a copy translated one-to-one to ASCII, so match positions are also valid in the original.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def mask_with_counts(text: str) -> tuple[str, Counter[str]]:
    """Mask personal data in ``text`` and count the replacements per placeholder."""
    counts: Counter[str] = Counter()
    probe = text.translate(_HALF_WIDTH)
    for hint, pattern, decide in _RULES:
        if not hint(probe):
            continue
        kept: list[str] = []
        kept_probe: list[str] = []
        end = 0
        for match in pattern.finditer(probe):
            placeholder = decide(probe, match)
            if placeholder is None:
                continue
            counts[placeholder] += 1
            kept += (text[end:match.start()], placeholder)
            kept_probe += (probe[end:match.start()], placeholder)
            end = match.end()
        if end:
            text = "".join(kept) + text[end:]
            probe = "".join(kept_probe) + probe[end:]
    return text, counts


def mask_personal_data(text: str) -> str:
    """Replace phone, landline, ID-card, e-mail, bank-card and address data by placeholders."""
    return mask_with_counts(text)[0]


# --- placeholder normalisation ------------------------------------------------------------
_CANONICAL: dict[str, str] = {
    "数字": "[数字]", "订单": "[订单号]", "订单号": "[订单号]", "姓名": "[姓名]", "金额": "[金额]",
    "日期": "[日期]", "时间": "[时间]", "站点": "[站点]", "组织机构": "[机构]", "机构": "[机构]",
    "地址": "[地址]", "电话": "[电话]", "手机号": "[电话]", "座机": "[电话]", "身份证号": "[身份证号]",
    "邮箱": "[邮箱]", "银行卡号": "[银行卡号]", "链接": "[链接]", "图片": "[图片]", "表情": "[表情]",
    "商品快照": "[商品]", "商品": "[商品]", "视频": "[视频]", "语音": "[语音]",
}
_NORMALISERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JD's order card: [订单编号:[订单x]，订单金额:[金额x]，下单时间:[日期x] [时间x]]
    (re.compile(r"\[订单编号[:：](?:[^\[\]]|\[[^\[\]]*\])*\]"), "[订单号]"),
    (re.compile(r"\[ORDERID_\d+\]|(?:\[(?:子|父原始)\])\[(?:数字|订单)x?\d*\]"), "[订单号]"),
    (re.compile(r"\[USERID_(?:\[数字x?\d*\]|\d+)\]|USERID_\d+"), "[用户]"),
    (re.compile(r"#E-[A-Za-z](?:\[数字x?\d*\]|\d+)|#E(?![A-Za-z0-9-])"), "[表情]"),
    (re.compile(r"\[(?:[A-Z][a-z]+)+\]"), "[表情]"),  # English emoji names such as [Facepalm]
    (re.compile(r"https?://[^\s\u4e00-\u9fff]+"), "[链接]"),
)
_GENERIC_RE = re.compile(r"\[([\u4e00-\u9fff]{1,6}?)(?:x|X|_?\d+)?\]")
_SPACE_RE = re.compile(r"\s+")


def normalise_placeholders(text: str) -> str:
    """Map the placeholders of desensitised exports (``[数字x]``, ``[ORDERID_1]`` …) to one set."""
    for pattern, replacement in _NORMALISERS:
        text = pattern.sub(replacement, text)
    return _GENERIC_RE.sub(lambda m: _CANONICAL.get(m.group(1), m.group()), text)


def clean_text(text: str) -> str:
    """The comparison copy of a masked line: placeholders normalised, whitespace collapsed."""
    return _SPACE_RE.sub(" ", normalise_placeholders(text)).strip()
