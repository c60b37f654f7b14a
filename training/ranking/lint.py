"""Answer lint: forbidden, rude, risky or empty replies, each with the reason shown to trainers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

LINT_KINDS: dict[str, str] = {
    "forbidden": "禁用语",
    "filler": "敷衍语气词",
    "rude": "不文明用语",
    "ad_law": "广告法极限词",
    "promise": "无法兑现的承诺",
    "empty": "空白回答",
    "copies_question": "照抄问题",
}

#: Penalty of a rule when none is given (subtracted from the final score, which is in [0, 1]).
DEFAULT_PENALTY = 0.2
EMPTY_PENALTY = 1.0
COPY_PENALTY = 0.4
#: Character-bigram Dice overlap with the question above which an answer counts as a copy.
COPY_OVERLAP = 0.8


@dataclass(frozen=True)
class LintRule:
    """A phrase trainers flag in answers (the rule list is data, edited by trainers).

    ``exceptions`` are longer phrases containing ``phrase`` in which it is harmless (advice such
    as 您最好先拍照, 第一时间); ``whole_reply`` rules match only when the phrase is the entire reply.
    """

    phrase: str
    kind: str
    reason: str = ""
    whole_reply: bool = False
    penalty: float = DEFAULT_PENALTY
    exceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class LintFinding:
    """One problem found in an answer."""

    kind: str
    phrase: str
    reason: str
    penalty: float


def _rules(kind: str, phrases: str, reason: str, penalty: float, *, whole_reply: bool = False,
           exceptions: dict[str, tuple[str, ...]] | None = None) -> tuple[LintRule, ...]:
    return tuple(LintRule(p, kind, reason, whole_reply, penalty, (exceptions or {}).get(p, ()))
                 for p in phrases.split())


DEFAULT_RULES: tuple[LintRule, ...] = (
    *_rules("forbidden", "我不知道 不知道 不清楚 不归我管 我也没办法 没办法 自己看 自己去查 不关我事",
            "推诿或消极的回答，请给出解决办法或转交渠道", 0.25,
            exceptions={"不知道": ("您不知道", "你不知道", "亲不知道"),
                        "不清楚": ("有不清楚", "您不清楚", "你不清楚", "如不清楚"),
                        "没办法": ("您没办法", "如果没办法")}),
    *_rules("filler", "哦 呃 啊 嗯 额 噢 哈 嗯嗯 哦哦", "只回了语气词，没有回应顾客的问题", 0.3,
            whole_reply=True),
    *_rules("rude", "滚 傻逼 傻X 白痴 有病 神经病 爱买不买 烦不烦 废话 闭嘴 你是不是傻 蠢",
            "不文明用语，会引起投诉", 0.5,
            exceptions={"滚": ("滚筒", "滚动", "滚轮", "滚珠", "滚刷")}),
    # 最好 as an adverb is advice (您最好先拍照留证, 最好上传照片), so only its adjective uses
    # (最好的/最好用…) are flagged; 第一 likewise only outside 第一时间/第一次/第一步….
    *_rules("ad_law", "最好的 最好用 最好看 最好吃 最好穿 第一 绝对 最佳 顶级 最低价 最便宜 全网最 "
            "史上最 独一无二 国家级 极品 万能", "广告法禁用的极限用语", 0.15,
            exceptions={"第一": ("第一时间", "第一步", "第一次", "第一天", "第一个", "第一件",
                                 "第一条", "第一单")}),
    *_rules("promise", "保证 一定会 一定能 一定给 肯定会 肯定能 百分百 100% 绝不会 永远不会",
            "做出店铺可能无法兑现的承诺", 0.15,
            exceptions={"保证": ("保证金", "保证书", "保证不了", "不能保证", "无法保证", "不保证",
                                 "没法保证", "不敢保证", "请保证", "请您保证", "需保证", "需要保证")}),
)

_PUNCT_CATEGORIES = ("P", "S", "Z", "C")


def normalise(text: str) -> str:
    """Text without whitespace, punctuation and symbols (NFKC, lower case) for comparisons."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(_PUNCT_CATEGORIES))


def _bigrams(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(len(text) - 1)] if len(text) > 1 else [text]


def _dice(a: str, b: str) -> float:
    """Character-bigram Dice overlap of two normalised texts."""
    ga, gb = _bigrams(a), _bigrams(b)
    pool = list(gb)
    common = 0
    for g in ga:
        if g in pool:
            pool.remove(g)
            common += 1
    return 2.0 * common / (len(ga) + len(gb)) if ga and gb else 0.0


def copies_question(answer: str, question: str) -> bool:
    """True when the answer only repeats the customer's question (or most of it)."""
    a, q = normalise(answer), normalise(question)
    if len(a) < 2 or len(q) < 2:
        return False
    if a == q:
        return True
    if a in q and len(a) >= max(4, 0.6 * len(q)):
        return True
    return len(a) >= 4 and _dice(a, q) >= COPY_OVERLAP


def _covered(text: str, start: int, phrase: str, exceptions: Sequence[str]) -> bool:
    """Whether the occurrence of ``phrase`` at ``start`` lies inside one of the exceptions."""
    end = start + len(phrase)
    for exc in exceptions:
        for m in re.finditer(re.escape(exc), text):
            if m.start() <= start and end <= m.end():
                return True
    return False


def _matches(rule: LintRule, text: str, bare: str) -> bool:
    if rule.whole_reply:
        phrase = normalise(rule.phrase)
        return bool(phrase) and bool(bare) and bare == phrase * (len(bare) // len(phrase))
    for m in re.finditer(re.escape(rule.phrase), text):
        if not _covered(text, m.start(), rule.phrase, rule.exceptions):
            return True
    return False


def lint_answer(answer: str, question: str,
                rules: Sequence[LintRule] = DEFAULT_RULES) -> list[LintFinding]:
    """The problems of one answer to a customer question.

    Args:
        answer: the agent's reply as written.
        question: the customer turn it answers (for the copy check).
        rules: phrase rules (trainer-edited; ``DEFAULT_RULES`` is the seed list).

    Returns:
        One finding per matching rule (a phrase counts once), plus the built-in structural
        checks: an empty answer, or one that only copies the question. Empty answers get no
        other findings.
    """
    bare = normalise(answer)
    if not bare:
        return [LintFinding("empty", "", "空白回答，得分为 0", EMPTY_PENALTY)]
    text = unicodedata.normalize("NFKC", answer).lower()
    findings: list[LintFinding] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        key = (rule.kind, rule.phrase)
        if key in seen or not rule.phrase.strip():
            continue
        if _matches(rule, text, bare):
            seen.add(key)
            label = LINT_KINDS.get(rule.kind, rule.kind)
            reason = f"{label}「{rule.phrase}」" + (f"：{rule.reason}" if rule.reason else "")
            findings.append(LintFinding(rule.kind, rule.phrase, reason, rule.penalty))
    # 我不知道 also contains 不知道: one finding per problem, the longest phrase wins
    findings = [f for f in findings if not any(
        g.kind == f.kind and f.phrase != g.phrase and f.phrase in g.phrase for g in findings)]
    if copies_question(answer, question):
        findings.append(LintFinding("copies_question", "", "照抄了顾客的问题，没有作答",
                                    COPY_PENALTY))
    return findings
