"""Chat context shown to candidates and trainers reads the export's placeholders in Chinese."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    from pages.ui.exam_view import render_turns

    render_turns([{"role": "customer", "text": "[订单编号:[ORDERID_10231]，订单金额:[金额x]]"},
                  {"role": "agent", "text": "亲，订单[ORDERID_10814]已经发货了"}],
                 "[ORDERID_10814]什么时候到")


def test_context_placeholders_read_as_chinese_markers() -> None:
    at = AppTest.from_function(_page, default_timeout=30)
    at.run()
    assert not at.exception
    shown = [t.value for t in at.text]
    assert shown == ["[订单号]", "亲，订单[订单号]已经发货了", "[订单号]什么时候到"], shown
    assert not any("ORDERID" in text for text in shown)
