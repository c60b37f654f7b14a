"""Script placeholders: finding, filling and checking them."""

from __future__ import annotations

from scripts_bank.placeholders import (
    KNOWN_PLACEHOLDERS,
    fill_placeholders,
    placeholder_problems,
    placeholders_in,
)

SCRIPT = "{客户称呼}您好，您的订单{订单号}已发出，物流单号 {物流单号}，{客户称呼}请留意查收～"


def test_known_placeholders_include_the_common_ones() -> None:
    for name in ("客户称呼", "订单号", "商品名称", "客服昵称", "店铺名称", "物流单号"):
        assert name in KNOWN_PLACEHOLDERS


def test_placeholders_are_unique_in_order_of_appearance() -> None:
    assert placeholders_in(SCRIPT) == ["客户称呼", "订单号", "物流单号"]
    assert placeholders_in("亲，没有占位符哦") == []


def test_full_width_braces_typed_by_an_input_method_count() -> None:
    assert placeholders_in("｛客户称呼｝您好") == ["客户称呼"]
    assert fill_placeholders("｛客户称呼｝您好", {"客户称呼": "王女士"}) == "王女士您好"


def test_fill_replaces_every_occurrence_and_leaves_blank_values_visible() -> None:
    filled = fill_placeholders(SCRIPT, {"客户称呼": "张先生", "订单号": "2024061100123", "物流单号": "  "})
    assert filled == "张先生您好，您的订单2024061100123已发出，物流单号 {物流单号}，张先生请留意查收～"


def test_fill_keeps_unknown_placeholders_and_plain_braces_in_text() -> None:
    assert fill_placeholders("{优惠码}可用", {}) == "{优惠码}可用"
    assert fill_placeholders("套装{A+B}", {"客户称呼": "李"}) == "套装{A+B}"


def test_a_well_formed_script_has_no_problems() -> None:
    assert placeholder_problems(SCRIPT) == []
    assert placeholder_problems("亲，付款后48小时内发货") == []


def test_unbalanced_braces_are_reported_with_their_position() -> None:
    opened = placeholder_problems("{客户称呼您好")
    assert len(opened) == 1 and "第 1 个字符" in opened[0] and "没有闭合" in opened[0]
    closed = placeholder_problems("您好}")
    assert len(closed) == 1 and "第 3 个字符" in closed[0] and "多余" in closed[0]


def test_nested_braces_are_reported() -> None:
    problems = placeholder_problems("{{客户称呼}}")
    assert any("嵌套" in p for p in problems)
    assert any("多余" in p for p in problems)


def test_empty_and_over_long_names_are_errors() -> None:
    assert any("空的占位符" in p for p in placeholder_problems("您好{}"))
    assert any("名称过长" in p for p in placeholder_problems("{这是一段被花括号误包起来的很长的普通句子}"))


def test_unknown_names_are_only_a_hint() -> None:
    problems = placeholder_problems("{客户称呼}，您的{会员等级}已升级")
    assert problems == [p for p in problems if p.startswith("提示")]
    assert len(problems) == 1 and "{会员等级}" in problems[0]
