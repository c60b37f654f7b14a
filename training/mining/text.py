"""Text rules of question mining: cleaning chat messages and telling questions from small talk.

A customer message is cleaned in three steps: system fragments the chat platform inserted (order
cards, menu choices, transfer requests), emoji codes and links are cut out; the rest is split into
segments (JD joins a customer's burst of messages with spaces); segments that are only greetings,
thanks, acknowledgements or placeholders are dropped. What survives is asked :func:`is_question`.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u4e00-\u9fff]")
#: A desensitisation placeholder or media marker: ``[数字x]``, ``[订单x]``, ``[图片]``, ``[表情]``.
_PLACEHOLDER = re.compile(r"\[[^\[\]\s]{1,24}\]")
_PUNCT_OR_SPACE = re.compile(r"[\s\W_]+")

# Cut out of customer messages before anything else; each alternative is one kind of noise.
_NOISE = re.compile(
    "|".join(
        [
            # Order card the JD client pastes: "[订单编号:[订单x]，订单金额:[金额x]，下单时间:…]".
            r"\[订单编号[:：](?:[^\[\]]|\[[^\[\]]*\])*\]",
            r"顾客通过点击\S*?信息发送[:：]?",
            # Order fields as text: "咨询订单号:[订单x] 订单金额:[金额x] 下单时间:[日期x]".
            r"(?:\[日期x\]\s*\[时间x\]\s*)?(?:(?:咨询|查询)?(?:订单编号|订单号|订单金额|商品ID|商品号|下单时间)"
            r"[:：]\s*;?\s*(?:\[[^\[\]]*\]|[￥¥]?[0-9A-Za-z.:-]+)?(?:\s*\[时间x\])?[，,;\s]*)+",
            # Menu choices and requests for a human agent (the bot's transfer flow).
            r"请选择咨询订单|(?:我要)?转人工(?:客服|服务)?|人工(?:客服|服务)|^\s*人工\s*$|"
            r"(?:订单业务|商品信息|配送|返修退换货|发票|售后|售前|物流|支付)咨询(?=\s|$)|"
            r"\S{2,8}\((?:移动端|PC端|网页端|APP)\)",
            # Emoji codes, media markers, links.
            r"#E-[A-Za-z0-9-]+(?:\[[^\[\]]*\])?|\[(?:表情|图片|语音|视频|文件|动画表情|商品卡片|商品)\]",
            r"\[链接x?\d*\][\x21-\x7e]*|https?://[\x21-\x7e]+|www\.[\x21-\x7e]+",
            "[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]+",
        ]
    )
)
# Only the noise that should also leave agent replies and chat context (no menu logic there).
_REPLY_NOISE = re.compile(
    r"#E-[A-Za-z0-9-]+(?:\[[^\[\]]*\])?|\[(?:表情|图片|语音|视频|文件|动画表情)\]|"
    "[\U0001f000-\U0001faff\ufe0f\u200d]+"
)

# JD runs a burst of messages together with spaces; split there, but keep "iphone 6" in one piece.
_SEGMENT_SPLIT = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")

_GREETING_PREFIX = re.compile(
    r"^(?:(?:你好|您好|在吗|在么|在嘛|在不在|在不|在[?？]|hi|hello|哈喽|嗨|客服[,，]|亲[,，~～!！])"
    r"[\s,，.。!！?？~～、]*)+",
    re.IGNORECASE,
)

# Words that carry no request on their own. A segment made only of these (and particles and
# punctuation) is a greeting, a thank-you, a yes/no reply or a lead-in like "我想问一下".
_FILLER_WORDS = sorted(
    (
        "你好 您好 在吗 在么 在嘛 在不在 在不 在 有人吗 有人在吗 人在吗 人呢 亲 客服 hi hello 哈喽 嗨 "
        "好的 好吧 好滴 好嘞 好 嗯嗯 嗯 恩恩 恩 哦哦 哦 噢 喔 ok okay 行 行吧 可以 可以了 "
        "谢谢你 谢谢您 谢谢 多谢 谢了 谢啦 感谢 thanks thank you 辛苦了 辛苦 "
        "麻烦你了 麻烦您了 麻烦了 麻烦你 麻烦您 拜托了 拜托 "
        "请尽快 尽快 抓紧 赶紧 快点 有点急 很急 着急 急 "
        "没有了 没有啦 没有 没了 没啦 暂时 目前 就这些 没别的 没事了 没事 不用了 不用 "
        "是的 是啊 是 对的 对啊 对 嗯对 知道了 明白了 了解了 了解 收到 懂了 "
        "再见 拜拜 88 哈哈 呵呵 嘿嘿 稍等 等等 等一下 那好吧 那好 额 呃 "
        "我想问一下 我想问下 我想问 想问一下 问一下 问下 请问 我想咨询一下 我想咨询 咨询一下 咨询下 咨询"
    ).split(),
    key=len,
    reverse=True,
)
_FILLER = re.compile("|".join(re.escape(w) for w in _FILLER_WORDS), re.IGNORECASE)
_PARTICLES = re.compile(r"[吗嘛么呢吧啊呀哦啦了的哈嘞哒噢喔~～]+")

# ---- is_question -------------------------------------------------------------------------------
_CLAUSE_END = r"(?=[\s,，.。!！~～;；…]|$)"
_QUESTION = re.compile(
    "|".join(
        [
            r"[?？]",
            r"吗",
            r"(?<![这那怎什多要])么" + _CLAUSE_END,
            r"(?<![好行对是])嘛" + _CLAUSE_END,
            # "我的快递呢" asks; "好的呢"/"在看呢" do not.
            r"(?<![了的着在吧啊呀哦])呢" + _CLAUSE_END,
            r"(?<![不没])怎(?:么|样|办)|咋|如何|为何|为什么|为啥|干嘛|(?<![没不])什么|啥|哪(?!怕)",
            r"多(?:少|久|长|大|重|高|宽|厚|远|快|贵)",
            r"(?<![好十])几(?=[天号点个月日年次种折件斤寸档级位台小分周时码块成])",
            # A-not-A: 能不能, 是不是, 有没有, 大不大, 可不可以.
            r"([\u4e00-\u9fff])[不没]\1|可不可以",
            r"是否|能否|可否|有无",
            # "X不" asks like "X吗": "可以开纸质的发票不".
            r"(?:能|可以|会|有|是|行|要|记得)[^,，.。!！\s]{0,12}不" + _CLAUSE_END,
        ]
    ),
    re.IGNORECASE,
)
# Requests phrased as imperatives ("帮我改一下地址", "催一下快递"), which ask as much as a question.
_REQUEST = re.compile(
    r"帮我|帮忙|麻烦(?:你|您)|请(?:你|您)?(?:帮|给|尽快|安排|联系|处理|核实|确认|查)|"
    r"给我(?:看|查|改|换|退|发|补|开|安排|处理|回|个|一个)|我(?:要|想要|想|需要)(?!转人工)|"
    r"催(?:一下|下|促)|尽快|赶紧|快点|"
    r"(?:改|查|看|处理|安排|退|换|开|补|发|联系|核实|确认|登记|备注|取消|修改|更改|寄)(?:一下|下)(?![面来去午边])"
)
# "我去看下", "我再看看": the customer's own next step, not a request to the agent.
_OWN_STEP = re.compile(r"^(?:那|那就|好|好的)?我(?:去|再|先|自己|回头|看|查|找|问|想想|考虑|试)")
# Tag questions with 吧: "明天能到吧", "这个没关系吧"; but not "那就这样吧" or "算了吧".
_TAG_BA = re.compile(r"(?:应该|会|能|可以|有|是|对|没事|没关系|没错|没问题|不用|不需要|了)[^\s]{0,12}吧$")


def clean_customer_message(text: str) -> str:
    """A customer message without system fragments, emoji codes and links (spaces kept)."""
    return re.sub(r"[ \t]{2,}", " ", _NOISE.sub(" ", unicodedata.normalize("NFKC", text))).strip()


def clean_reply(text: str) -> str:
    """An agent message (or a context line) without emoji codes and media markers."""
    return re.sub(r"\s{2,}", " ", _REPLY_NOISE.sub(" ", text)).strip()


def has_content(segment: str) -> bool:
    """True if ``segment`` says something beyond placeholders, greetings, thanks and particles."""
    rest = _PLACEHOLDER.sub(" ", segment)
    if not _CJK.search(rest) and not re.search(r"[a-zA-Z]{3,}", rest):
        return False  # order numbers, bare digits, "?", placeholders only
    rest = _FILLER.sub(" ", rest)
    rest = _PARTICLES.sub(" ", rest)
    return bool(_PUNCT_OR_SPACE.sub("", rest))


def content_segments(message: str) -> list[str]:
    """The meaningful segments of a cleaned customer message (greeting prefixes cut off)."""
    out: list[str] = []
    for raw in _SEGMENT_SPLIT.split(message):
        segment = _GREETING_PREFIX.sub("", raw.strip()).strip()
        if segment and has_content(segment):
            out.append(segment)
    return out


def is_interrogative(text: str) -> bool:
    """True if ``text`` is phrased as a question (not only as a request)."""
    return bool(_QUESTION.search(unicodedata.normalize("NFKC", text)))


def is_question(text: str) -> bool:
    """True if a customer turn asks something or requests an action."""
    text = unicodedata.normalize("NFKC", text)
    if _QUESTION.search(text):
        return True
    clauses = re.split(r"[\s,，.。!！~～;；]+", text)
    return any(
        (_REQUEST.search(c) and not _OWN_STEP.search(c)) or (_TAG_BA.search(c) and "算了" not in c)
        for c in clauses
    )


_TRAILING_THANKS = re.compile(r"[\s,，.。!！~～]*(?:谢谢你?|谢谢您|多谢|谢啦|谢了|感谢)[\s,，.。!！~～]*$")
# "[数字x]" -> "数字", "[ORDERID_10655]" -> "ORDERID": the kind of value, not the value.
_PLACEHOLDER_LABEL = re.compile(r"\[([a-z]+|[\u4e00-\u9fff]+)(?:x|_?\d+)?\]")


# Words that say nothing about what is asked but weigh on e5's embedding: "这个订单可以明天到货吗"
# and "这个订单可以帮我改下电话吗" are closer than "可以明天到货吗" and "什么时候发货".
_ORDER_REFERENCE = re.compile(
    r"\[(?:订单x?\d*|订单号|orderid_\d+)\]|(?:我的|我这个|我那个|我这|这个|那个|这笔|这|那)(?:订单|单子)(?:号)?"
)
# Politeness lead-ins go wherever they are; short words only before a pause ("好用吗" stays).
_LEAD_IN = re.compile(
    r"^(?:(?:你好|您好|请问|麻烦问下|我想问一下|我想问下|想问一下|问一下|问下|我想咨询一下|咨询一下|麻烦你|麻烦您|麻烦)"
    r"[\s,，.。!！~～]*|(?:那么|那个|那|哦|噢|嗯|额|好的|好|亲)[\s,，.。!！~～]+)+"
)


def embedding_text(text: str) -> str:
    """The form of a question that is embedded: NFKC, lower case, without words that ask nothing.

    Dropped: order references ("这个订单", "[订单x]"), lead-ins ("请问", "那", "麻烦") and
    trailing thanks; other placeholders become their kind ("[数字x]" -> "数字").
    """
    original = text = unicodedata.normalize("NFKC", text).lower().strip()
    text = _ORDER_REFERENCE.sub(" ", text)
    text = _PLACEHOLDER_LABEL.sub(r"\1", text)
    text = _TRAILING_THANKS.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    stripped = _LEAD_IN.sub("", text).strip()
    return stripped or text or original


def dedupe_key(text: str) -> str:
    """Key under which trivially different spellings of one question count as identical."""
    key = _PUNCT_OR_SPACE.sub("", embedding_text(text))
    return key.rstrip("吗嘛么呢吧啊呀哦啦哈") or key


# ---- context-dependent fragments ---------------------------------------------------------------
# Words that only point back at the conversation ("那", "这个", "你帮我弄"), ask without a topic
# ("怎么办", "为什么", "多久") or give a bare time or amount ("一年多了", "明天下午", "[数字x]号").
# A turn made only of these means something only after the question before it.
_POINTING_WORDS = sorted(
    (
        "那么 那就 那 这个 那个 这样 那样 这边 那边 这 它 他们 他 她 你们 你 您 我们 我 咱们 咱 人家 "
        "怎么办 咋办 怎么弄 咋弄 怎么整 咋整 怎么搞 咋搞 怎么处理 怎么回事 怎么样 咋样 怎样 怎么 咋 如何 "
        "为什么 为啥 干嘛 什么意思 啥意思 什么情况 啥情况 什么 啥 哪里 哪儿 哪 "
        "然后 还有 就是 就 还 也 都 又 再 先 现在 已经 到底 究竟 "
        "是不是 是吗 对吗 对吧 真的 确定 可以 能 行 好 要 会 在 有 没有 不 没 是 对 "
        "帮我 帮忙 帮 给我 给 弄 处理 搞 整 办 做 操作 一下 下 "
        "多久 多长时间 多少时间 多少 多长 大概 差不多 应该 估计 左右 "
        "今天 明天 后天 昨天 前天 上午 下午 中午 晚上 早上 几点 几号 几天 "
        "点 号 天 年 月 日 周 星期 小时 分钟 个 多 半 几"
    ).split(),
    key=len,
    reverse=True,
)
_POINTING = re.compile("|".join(re.escape(w) for w in _POINTING_WORDS))
_NUMERAL = re.compile(r"[0-9０-９一二三四五六七八九十两百千万]+")


def is_context_fragment(text: str) -> bool:
    """True if a customer segment only makes sense after the question before it.

    "那咋办", "你帮我弄吧", "一年多了吧", "明天下午" or "[数字x]号" say nothing a trainer could
    answer on its own; "什么时候发货" or "能退吗" keep a topic ("发货", "退") and are questions.

    Args:
        text: one content segment of a customer turn (see :func:`content_segments`).

    Returns:
        Whether nothing but pointing words, question words, particles, times and numbers is left.
    """
    rest = _PLACEHOLDER.sub(" ", unicodedata.normalize("NFKC", text))
    rest = _FILLER.sub(" ", rest)
    rest = _POINTING.sub(" ", rest)
    rest = _NUMERAL.sub(" ", rest)
    rest = _PARTICLES.sub(" ", rest)
    return not _PUNCT_OR_SPACE.sub("", rest)
