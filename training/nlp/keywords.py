"""Chinese keyword tokenisation (jieba)."""

from __future__ import annotations

import functools
import logging
import re

import jieba

STOPWORDS = frozenset(
    "的 了 吗 呢 啊 吧 呀 哦 嘛 么 是 我 你 您 他 她 它 们 这 那 有 在 和 就 也 都 还 要 会 能 "
    "可以 一下 一个 请问 亲 好 呢 嗯 哈 什么 怎么 为什么 多少 几 个 下 吗 呗 哪 哪里".split()
)
#: E-commerce service terms jieba's general dictionary splits wrongly (运费险 -> 运费 / 险会).
DOMAIN_WORDS = ("运费险", "顺丰", "包邮", "七天无理由", "价保", "保价", "以旧换新", "京豆", "白条", "花呗",
                "电子发票", "发票抬头", "专票", "普票", "拒收", "签收", "催单", "补发", "换货", "退差价")
_TOKEN_RE = re.compile(r"[\w\u4e00-\u9fff]+")


@functools.cache
def get_tokenizer() -> jieba.Tokenizer:
    """jieba's dictionary, loaded once per process."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in DOMAIN_WORDS:
        tokenizer.add_word(word, freq=20000)
    return tokenizer


def keywords(text: str) -> list[str]:
    """Search-mode jieba tokens of ``text`` without punctuation and stopwords."""
    tokens = get_tokenizer().lcut_for_search(text.lower())
    return [t for t in tokens if _TOKEN_RE.fullmatch(t) and t not in STOPWORDS]
