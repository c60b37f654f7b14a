"""The bank as a 千牛 快捷短语 CSV: header, codes, filters, encodings, the report, roles, the page."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, func, select
from streamlit.testing.v1 import AppTest

from scripts_bank import authoring
from scripts_bank.qianniu import (
    FILL,
    GBK,
    GROUP_BY_TAG,
    KEEP,
    MAX_CODE_CHARS,
    MAX_SCRIPT_ID,
    UTF8_BOM,
    QianniuExportError,
    export_file_name,
    export_qianniu,
    shortcut_code,
)
from training.auth.permissions import PermissionDenied
from training.models import AuditLog, Script, ScriptVersion, User

APP = str(Path(__file__).resolve().parents[1] / "app.py")
HEADER_LINE = "快捷短语编码,快捷短语,快捷短语分组"


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _add(session: Session, trainer: User, question: str, answer: str, category: str = "物流配送",
         **extra: object) -> int:
    view = authoring.create_script(session=session, actor=trainer, question=question, answer=answer,
                                   category=category, **extra)  # type: ignore[arg-type]
    return view.id


def _rows(data: bytes, encoding: str = UTF8_BOM) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def _approved_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Script).where(Script.status == "approved")).one()


def test_header_is_exact_and_one_row_per_approved_script(session: Session, demo: Demo) -> None:
    draft = _add(session, demo.trainer, "草稿问题", "亲，这是草稿", approve=False)
    made = export_qianniu(session=session, actor=demo.trainer)
    assert made.data.startswith(b"\xef\xbb\xbf")
    assert made.data.decode("utf-8-sig").split("\r\n", 1)[0] == HEADER_LINE
    rows = _rows(made.data)
    assert rows[0] == HEADER_LINE.split(",")
    assert len(rows) - 1 == _approved_count(session) == made.report.rows
    assert shortcut_code(draft) not in [r[0] for r in rows[1:]]


def test_codes_are_short_unique_and_stable(session: Session, demo: Demo) -> None:
    first = _rows(export_qianniu(session=session, actor=demo.trainer).data)[1:]
    new = _add(session, demo.trainer, "多久发货", "亲，48小时内发货")
    second = _rows(export_qianniu(session=session, actor=demo.trainer).data)[1:]
    codes = [r[0] for r in second]
    assert all(1 <= len(c) <= MAX_CODE_CHARS for c in codes)
    assert len(set(codes)) == len(codes)
    assert {r[0]: r[1] for r in first}.items() <= {r[0]: r[1] for r in second}.items()
    assert shortcut_code(new) in codes
    assert shortcut_code(35) == "z" and shortcut_code(36) == "10" and len(shortcut_code(MAX_SCRIPT_ID)) == 4
    with pytest.raises(QianniuExportError):
        shortcut_code(MAX_SCRIPT_ID + 1)


def test_filters_and_group_by_tag(session: Session, demo: Demo) -> None:
    a = _add(session, demo.trainer, "保温杯能装热水吗", "亲，可以装开水哦", "售前咨询", product="保温杯QN",
             tags=["材质", "保温"])
    b = _add(session, demo.trainer, "保温杯多久到", "亲，一般三天到", "物流配送", product="保温杯QN",
             tags=["保温"])
    _add(session, demo.trainer, "电饭煲多久到", "亲，一般两天到", "物流配送", product="电饭煲QN")
    by_product = _rows(export_qianniu(session=session, actor=demo.trainer, product="保温杯QN").data)[1:]
    assert sorted(r[0] for r in by_product) == sorted([shortcut_code(a), shortcut_code(b)])
    assert {r[2] for r in by_product} == {"售前咨询", "物流配送"}
    both = _rows(export_qianniu(session=session, actor=demo.trainer, product="保温杯QN",
                                category="物流配送").data)[1:]
    assert [r[0] for r in both] == [shortcut_code(b)]
    tagged = _rows(export_qianniu(session=session, actor=demo.trainer, tag="保温",
                                  group_by=GROUP_BY_TAG).data)
    assert [(r[0], r[2]) for r in tagged[1:]] == [(shortcut_code(a), "保温"), (shortcut_code(b), "保温")]
    first_tag = _rows(export_qianniu(session=session, actor=demo.trainer, product="保温杯QN",
                                     group_by=GROUP_BY_TAG).data)[1:]
    assert {r[0]: r[2] for r in first_tag} == {shortcut_code(a): "材质", shortcut_code(b): "保温"}


def test_gbk_reports_the_script_and_characters_and_still_decodes(session: Session, demo: Demo) -> None:
    emoji = _add(session, demo.trainer, "可以便宜点吗", "亲，已经是最低价啦😊", "价格优惠")
    rare = _add(session, demo.trainer, "吉字怎么写", "亲，𠮷野家的𠮷", "其他")
    made = export_qianniu(session=session, actor=demo.trainer, encoding=GBK)
    assert not made.data.startswith(b"\xef\xbb\xbf")
    rows = _rows(made.data, GBK)  # decodes strictly
    assert rows[0] == HEADER_LINE.split(",")
    written = [r[0] for r in rows[1:]]
    assert shortcut_code(emoji) not in written and shortcut_code(rare) not in written
    problems = {p.script_id: p for p in made.report.unencodable}
    assert "😊" in problems[emoji].detail and problems[emoji].question == "可以便宜点吗"
    assert "𠮷" in problems[rare].detail
    text = "\n".join(made.report.lines())
    assert "可以便宜点吗" in text and "😊" in text and "GBK" in text
    assert made.report.rows == len(rows) - 1 == _approved_count(session) - 2
    utf8 = export_qianniu(session=session, actor=demo.trainer)
    assert not utf8.report.unencodable and "亲，𠮷野家的𠮷" in [r[1] for r in _rows(utf8.data)]


def test_over_long_phrase_and_group_are_reported(session: Session, demo: Demo) -> None:
    long_id = _add(session, demo.trainer, "退货流程是什么", "亲，" + "退货流程说明。" * 70, "退换货",
                   tags=["一个特别长的标签名称超过十字"])
    made = export_qianniu(session=session, actor=demo.trainer, group_by=GROUP_BY_TAG)
    assert [p.script_id for p in made.report.long_phrases] == [long_id]
    assert made.report.long_groups == {"一个特别长的标签名称超过十字": 14}
    text = "\n".join(made.report.lines())
    assert "430" in text and "退货流程是什么" in text and "一个特别长的标签名称超过十字" in text
    assert shortcut_code(long_id) in [r[0] for r in _rows(made.data)]  # reported, still written
    assert not made.report.clean


def test_placeholders_kept_or_filled(session: Session, demo: Demo) -> None:
    sid = _add(session, demo.trainer, "发货了吗", "{客户称呼}您好，订单{订单号}已发出，｛客服昵称｝为您服务")
    code = shortcut_code(sid)

    def phrase(**options: object) -> tuple[str, list[str]]:
        made = export_qianniu(session=session, actor=demo.trainer, **options)  # type: ignore[arg-type]
        unfilled = [p.detail for p in made.report.unfilled if p.script_id == sid]
        return next(r[1] for r in _rows(made.data) if r[0] == code), unfilled

    assert phrase(placeholders=KEEP) == ("{客户称呼}您好，订单{订单号}已发出，｛客服昵称｝为您服务", [])
    filled, unfilled = phrase(placeholders=FILL)
    assert filled == "亲您好，订单{订单号}已发出，客服为您服务"
    assert unfilled == ["无默认值：{订单号}"]
    custom, unfilled = phrase(placeholders=FILL, defaults={"客户称呼": "亲爱的", "订单号": "（见订单）"})
    assert custom == "亲爱的您好，订单（见订单）已发出，｛客服昵称｝为您服务"
    assert unfilled == ["无默认值：{客服昵称}"]


def test_formula_like_phrase_is_neutralised(session: Session, demo: Demo) -> None:
    sid = _add(session, demo.trainer, "一加一等于几", "=1+1", "其他", tags=["-cmd"])
    made = export_qianniu(session=session, actor=demo.trainer, group_by=GROUP_BY_TAG)
    [row] = [r for r in _rows(made.data) if r[0] == shortcut_code(sid)]
    assert row[1:] == ["'=1+1", "'-cmd"]


def test_agents_may_not_export(session: Session, demo: Demo) -> None:
    def counts() -> tuple[int, ...]:
        return tuple(session.exec(select(func.count()).select_from(t)).one()
                     for t in (Script, ScriptVersion, AuditLog))

    before = counts()
    for actor in (demo.agent, demo.newhire, None):
        with pytest.raises(PermissionDenied):
            export_qianniu(session=session, actor=actor)
    assert counts() == before
    export_qianniu(session=session, actor=demo.trainer)
    assert session.exec(select(AuditLog).where(AuditLog.action == "scripts.export")).all()


def test_file_name_uses_the_day() -> None:
    from datetime import date

    assert export_file_name(date(2026, 3, 5)) == "快捷短语-20260305.csv"


def test_trainer_page_shows_the_report_then_the_download(session: Session, demo: Demo) -> None:
    _add(session, demo.trainer, "能便宜吗", "亲，已经是最低价啦😊", "价格优惠")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = demo.trainer.id
    at.run()
    at.switch_page("pages/script_bank.py")
    at.run()
    assert not at.exception, at.exception
    at.radio(key="qianniu_encoding").set_value(GBK)
    at.radio(key="qianniu_placeholders").set_value(FILL)
    at.run()
    assert not at.exception, at.exception
    next(b for b in at.button if b.key == "qianniu_export").click()
    at.run()
    assert not at.exception, at.exception
    assert any("写入文件" in s.value for s in at.success)
    assert any("能便宜吗" in w.value and "GBK" in w.value for w in at.warning)
    downloads = at.get("download_button")
    assert len(downloads) == 1
    assert "快捷短语-" in str(downloads[0].proto.label)
    # Filters that match no approved script: said in words, and no header-only file is offered.
    everything = at.selectbox(key="qianniu_category").options[0]  # the "all" label
    categories = at.selectbox(key="qianniu_category").options[1:]
    tags = at.selectbox(key="qianniu_tag").options[1:]
    assert everything == "全部"
    empty = next((c, t) for c in categories for t in tags
                 if export_qianniu(session=session, actor=demo.trainer, category=c, tag=t).report.rows == 0)
    at.selectbox(key="qianniu_category").set_value(empty[0])
    at.selectbox(key="qianniu_tag").set_value(empty[1])
    at.run()
    next(b for b in at.button if b.key == "qianniu_export").click()
    at.run()
    assert not at.exception, at.exception
    assert any("没有可写入的话术" in i.value for i in at.info)
    assert not at.get("download_button") and not any("写入文件" in x.value for x in at.success)
