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
NAME = "[姓名]"  # the same placeholder JD's exports normalise to (``[姓名x]`` -> ``[姓名]``)

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


# --- names ------------------------------------------------------------------------------
# A name is masked only where the customer says it is one: after 我叫 / 我姓 / 收件人 / 联系人 /
# 姓名 / 名字是 …, and only when it starts with a common surname. Without the cue, or with an
# ordinary word after it (我叫快递, 我姓名写错了, 收件人地址, 收件人马上到), nothing is masked.
_COMPOUND_SURNAMES = (
    "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|长孙|宇文|司徒|夏侯|轩辕|端木|独孤|南宫|西门|百里"
)
# The common surnames, less those that are mostly ordinary words in chat (和, 车, 时, 常 …).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁沈任姚卢姜崔钟谭陆汪范廖石金韦贾夏付傅方邹熊孟秦邱侯江尹薛闫段雷龙黎史陶贺顾毛郝"
    "龚邵万钱严覃武戴莫孔汤易乔赖庞樊殷施洪翟安颜倪牛温芦季俞章鲁葛伍申尤毕聂柴焦柳邢岳"
    "齐梅莘祝游蓝辛阮欧鲍甘骆景童裴宁凌柯卜房滕管储霍仇盛卓屈"
)
# Two-character words that open with a surname character but are not names after a cue.
_NOT_A_NAME = (
    "马上|高兴|方便|方式|方法|方面|包裹|包装|包邮|余额|金额|明天|明白|安装|安排|全部|成功|许多|万一|"
    "向你|向您|任何|周末|周[一二三四五六日天]|江湖|黄色|蓝色|白色|程序|段时间|常常|童装|龙头|石头|"
    "宁可|严重|毛病|牛奶|申请|管理|齐全|温度|钱包|钱款|付款|付钱|付了|孙子|叶子|沈阳|江苏|江西|"
    "贺卡|范围|谢谢|王者|杨梅|顾客"
)
# What cannot belong to a given name: particles, pronouns and the words that follow a name.
_NOT_GIVEN = (
    "的了吗嘛呢吧啊呀哦是在不没有和跟与及电话地址手机号码姓名先生女士小姐老师"
    "说要会能可想都也就还又再让给把被对向从到为写填改错变换收寄发等这那我你他她它们"
)
_TIME_WORD = "[今明后昨前]天|早上|晚上|上午|下午"
_NAME_CUE = (
    r"(?:我|本人|免贵)姓(?!名)|我叫|叫我|名字(?:是|叫)|姓名|(?:收件|收货|联系|签收)人的?(?:姓名|名字)?"
)
_NAME_RE = re.compile(
    rf"(?:{_NAME_CUE})[\s:：,，]*(?:是|为|叫|写的是|填的是|改成|改为|换成)?[\s:：]*"
    rf"(?P<pii>(?!{_NOT_A_NAME})(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])(?:(?!{_TIME_WORD}|[{_NOT_GIVEN}])[\u4e00-\u9fff]){{0,2}})"
)
_HAS_NAME_CUE = re.compile(r"姓|叫|名字|收件人|收货人|联系人|签收人").search


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
    (_HAS_NAME_CUE, _NAME_RE, _always(NAME)),
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
            # A pattern with a ``pii`` group keeps its cue words ("我叫") and masks only the group.
            start, stop = match.span("pii") if "pii" in pattern.groupindex else match.span()
            kept += (text[end:start], placeholder)
            kept_probe += (probe[end:start], placeholder)
            end = stop
        if end:
            text = "".join(kept) + text[end:]
            probe = "".join(kept_probe) + probe[end:]
    return text, counts


def mask_personal_data(text: str) -> str:
    """Replace phone, landline, ID-card, e-mail, bank-card, address data and names by placeholders."""
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
