"""Key points of an approved script: the content words a candidate's reply should carry.

The script is cut by jieba with part-of-speech tags (the shop's dictionary of ``keywords``);
placeholders such as ``{客户称呼}`` are left out, and only nouns, verbs, times, product codes,
the shop's own terms and amounts with their unit (``12元``, ``48小时``, ``16:00``) count, minus
courtesy phrases and the function words every reply has (如果、这边、需要 …).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import jieba.posseg

from training.nlp.keywords import DOMAIN_WORDS, STOPWORDS, get_tokenizer
from training.nlp.placeholder_syntax import PLACEHOLDER

#: At most this many key points are taken from a script.
MAX_KEY_POINTS = 12
#: Courtesy words every reply has; they are not what a script teaches.
COURTESY = frozenset(
    "您好 你好 亲亲 谢谢 感谢 不好意思 抱歉 麻烦 稍等 欢迎 光临 咱们 我们 您的 理解 心情 担心 着急 "
    "别着急 久等 放心 谅解 添麻烦 耐心".split()
)
#: Function words and all-purpose verbs that jieba tags as nouns or verbs but carry no content.
FUNCTION_WORDS = frozenset(
    "需要 如果 这边 那边 这里 那里 可以 没有 的话 比较 现在 目前 平时 一般 或者 为了 不要 不会 不用 "
    "就是 还是 已经 直接 告诉 帮您 帮忙 一下 这些 那些 这个 那个 其他 时候 情况 问题 即可 只有 还有 "
    "东西 方面 方式 一起 自己 大家 看看 知道 觉得 希望 建议 进行 出现 通过 选择 提供 处理 查到 "
    "可能 应该 能够 成为 留意 只能 导致 遇到 发给 信息 客户 顾客 称呼 小禾 客服".split()
)
#: jieba tags kept: nouns (not personal names), verbs, times, English (model codes).
_KEPT_TAGS = ("n", "v", "t", "eng", "s", "j")
_DROPPED_TAGS = ("nr",)
#: Product codes (QH-AF01) and amounts with their unit (12元, 48小时, 7天无理由) or clock times
#: (16:00) are cut before jieba, which would split them; a bare number says nothing on its own.
_SPECIAL = re.compile(
    r"[A-Za-z]+-[A-Za-z0-9]+"
    r"|\d+天无理由"
    r"|\d+(?:\.\d+)?(?:个工作日|工作日|天内|小时|分钟|个月|元|天|月|期|次|张|年|周|件)"
    r"|\d{1,2}[:：]\d{2}"
    r"|\d+(?:\.\d+)?"
)
_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class KeyPoints:
    """The script's key points the answer covered and missed, and the script cut for highlighting."""

    covered: list[str]
    missed: list[str]
    segments: list[tuple[str, bool | None]]  # (text, True covered / False missed / None plain)


@functools.cache
def _tagger() -> jieba.posseg.POSTokenizer:
    """jieba's part-of-speech tagger over the shop's dictionary, loaded once per process."""
    return jieba.posseg.POSTokenizer(get_tokenizer())


def _words(text: str) -> list[tuple[str, str]]:
    """``(word, tag)`` pairs of ``text``: jieba's tags, ``code``/``amount``/``number`` for specials."""
    pairs: list[tuple[str, str]] = []
    start = 0
    for match in _SPECIAL.finditer(text):
        pairs.extend((w.word, w.flag) for w in _tagger().lcut(text[start:match.start()]))
        special = match.group(0)
        kind = "number" if _BARE_NUMBER.fullmatch(special) else ("code" if special[0].isalpha() else "amount")
        pairs.append((special, kind))
        start = match.end()
    pairs.extend((w.word, w.flag) for w in _tagger().lcut(text[start:]))
    return pairs


def _is_point(word: str, tag: str) -> bool:
    word = word.strip()
    if len(word) < 2 or word.lower() in STOPWORDS | COURTESY | FUNCTION_WORDS:
        return False
    if word in DOMAIN_WORDS or tag in ("amount", "code"):
        return True
    if tag.startswith(_DROPPED_TAGS) or not tag.startswith(_KEPT_TAGS):
        return False
    return any(ch.isalpha() for ch in word)


@functools.lru_cache(maxsize=1024)
def _pieces(script: str) -> tuple[tuple[str, str, bool], ...]:
    """The script as ``(word, tag, in_placeholder)``; a placeholder is one plain piece.

    Cached: grading and 逐题评阅 cut the same scripts for every answer to a question.
    """
    pieces: list[tuple[str, str, bool]] = []
    start = 0
    for match in PLACEHOLDER.finditer(script):
        pieces.extend((w, t, False) for w, t in _words(script[start:match.start()]))
        pieces.append((match.group(0), "placeholder", True))
        start = match.end()
    pieces.extend((w, t, False) for w, t in _words(script[start:]))
    return tuple(pieces)


def key_points(script: str, answer: str) -> KeyPoints:
    """The script's key points, and which of them the candidate's answer covers.

    Args:
        script: the approved reply (placeholders such as ``{订单号}`` are never key points).
        answer: the candidate's reply; a key point counts as covered if it appears in it.

    Returns:
        Covered and missed key points (script order) and the script as highlightable segments.
    """
    pieces = _pieces(script)
    points = list(dict.fromkeys(w.strip() for w, t, inside in pieces if not inside and _is_point(w, t)))
    points = points[:MAX_KEY_POINTS]
    lowered = answer.lower()
    covered = [p for p in points if p.lower() in lowered]
    missed = [p for p in points if p.lower() not in lowered]
    segments: list[tuple[str, bool | None]] = []
    for word, _, inside in pieces:
        mark = (word.strip() in covered) if not inside and word.strip() in points else None
        if segments and segments[-1][1] is None and mark is None:
            segments[-1] = (segments[-1][0] + word, None)
        else:
            segments.append((word, mark))
    return KeyPoints(covered, missed, segments)
