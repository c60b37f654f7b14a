"""Answer lint: each kind, the false positives we decided against, and trainer-edited rules."""

from __future__ import annotations

import pytest

from training.ranking.lint import DEFAULT_RULES, LINT_KINDS, LintRule, lint_answer

QUESTION = "我买的鞋子尺码不合适，能换吗"


def kinds(answer: str, question: str = QUESTION, rules: tuple[LintRule, ...] = DEFAULT_RULES
          ) -> list[str]:
    return [f.kind for f in lint_answer(answer, question, rules)]


@pytest.mark.parametrize(("answer", "kind"), [
    ("我不知道", "forbidden"),
    ("这个不清楚，你自己看吧", "forbidden"),
    ("哦", "filler"),
    ("嗯嗯。", "filler"),
    ("爱买不买", "rude"),
    ("这是全网最好的鞋子，质量绝对没问题", "ad_law"),
    ("我们保证明天一定会到", "promise"),
    ("   ", "empty"),
    ("我买的鞋子尺码不合适，能换吗？", "copies_question"),
    ("鞋子尺码不合适能换吗", "copies_question"),
])
def test_each_kind_is_found_with_a_chinese_reason(answer: str, kind: str) -> None:
    findings = lint_answer(answer, QUESTION)
    assert kind in [f.kind for f in findings]
    finding = next(f for f in findings if f.kind == kind)
    assert finding.penalty > 0 and finding.reason and kind in LINT_KINDS
    assert any("\u4e00" <= ch <= "\u9fff" for ch in finding.reason)


@pytest.mark.parametrize("answer", [
    "亲，可以的，签收7天内不影响二次销售都能换，您最好先拍照留证再申请换货哦",
    "亲，建议最好上传一下照片，我们第一时间为您处理",
    "快递时效小店保证不了哦，一般3天左右到",
    "亲，换货请保证吊牌完整、鞋子未穿着",
    "如有不清楚的地方可以随时问我哦",
    "滚筒洗衣机的话要先排水",
    "好的亲，请您在订单页申请换货，选择合适的尺码即可",
])
def test_decided_false_positives_are_not_flagged(answer: str) -> None:
    assert lint_answer(answer, QUESTION) == []


def test_the_longest_phrase_wins_and_an_empty_answer_gets_only_one_finding() -> None:
    assert [f.phrase for f in lint_answer("我不知道", QUESTION)] == ["我不知道"]
    assert kinds("") == ["empty"]


def test_short_polite_reply_inside_the_question_is_not_a_copy() -> None:
    assert lint_answer("好的", "好的，谢谢你") == []


def test_rules_are_data_trainers_can_edit() -> None:
    custom = (LintRule("稍等", "forbidden", "不要让顾客等", penalty=0.5),
              LintRule("嗯", "filler", whole_reply=True))
    findings = lint_answer("亲稍等，我查一下", QUESTION, custom)
    assert [(f.kind, f.phrase, f.penalty) for f in findings] == [("forbidden", "稍等", 0.5)]
    assert "不要让顾客等" in findings[0].reason
    assert kinds("我不知道", rules=custom) == []  # the default list is not applied
    assert kinds("嗯", rules=custom) == ["filler"]
    assert kinds("嗯，可以换的", rules=custom) == []  # whole-reply rules ignore longer replies
