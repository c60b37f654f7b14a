"""千牛 快捷短语 files into the bank as drafts: formats, escapes, encodings, duplicates, roles, the page."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from exam_world import Demo, demo_people
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select
from streamlit.testing.v1 import AppTest

from scripts_bank import authoring
from scripts_bank.qianniu import GBK, GROUP_BY_TAG, export_qianniu
from scripts_bank.qianniu_import import (
    NO_GROUP,
    QianniuImportError,
    draft_row,
    import_qianniu,
    plan_qianniu_import,
    read_qianniu_phrases,
)
from training.auth.permissions import PermissionDenied
from training.models import AuditLog, Script, ScriptVersion

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def demo(session: Session) -> Demo:
    """The demo's people over an empty bank (the demo's scripts archived)."""
    people = demo_people(session)
    for script in session.exec(select(Script)).all():
        script.status = "archived"
        session.add(script)
    session.commit()
    return people


def _drafts(session: Session) -> list[tuple[Script, ScriptVersion]]:
    return list(session.exec(select(Script, ScriptVersion).where(
        Script.status == "draft", ScriptVersion.script_id == Script.id,
        ScriptVersion.note == "千牛快捷短语导入").order_by(Script.id)).all())


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Script)).one()


def test_export_then_import_gives_drafts_with_the_same_texts_and_groups(session: Session, demo: Demo) -> None:
    texts = [("有货吗", "亲，现货，今天下单今天发{客户称呼}", "售前咨询", ["现货"]),
             ("几天到", "亲，一般 2-3 天到，\n偏远地区 5 天左右", "物流配送", []),
             ("公式", "=1+1 是 2, 亲", "其他", ["催付"])]
    for question, answer, category, tags in texts:
        authoring.create_script(session=session, actor=demo.trainer, question=question, answer=answer,
                                category=category, tags=tags)
    read = {}
    for group_by in (GROUP_BY_TAG, "category"):
        made = export_qianniu(session=session, actor=demo.trainer, group_by=group_by, encoding=GBK)
        read[group_by] = phrases = read_qianniu_phrases(made.data, file_name="快捷短语.csv")
        assert [(p.text, p.group) for p in phrases] == [
            (a, (t[0] if t and group_by == GROUP_BY_TAG else c)) for _, a, c, t in texts]
        assert all(p.code for p in phrases)
    # The bank already has them approved: nothing new, every phrase reported.
    plan = plan_qianniu_import(session=session, actor=demo.trainer, phrases=phrases)
    assert not plan.new and len(plan.in_bank) == 3
    # the summary counts the file's groups, not only the new phrases' (there are none)
    assert f"{len({p.group for p in phrases})} 个分组；0 条将作为草稿导入" in plan.lines()[0]
    # Into an empty bank (the originals archived): drafts with the same texts.
    for script in session.exec(select(Script)).all():
        script.status = "archived"
        session.add(script)
    session.commit()
    done = import_qianniu(session=session, actor=demo.trainer, phrases=phrases, file_name="快捷短语.csv")
    assert done.created == 3
    drafts = _drafts(session)
    assert [v.answer for _, v in drafts] == [a for _, a, _, _ in texts]
    assert [s.category for s, _ in drafts] == ["售前咨询", "物流配送", "其他"]
    assert [s.tags for s, _ in drafts] == [[], [], []]
    # Grouped by tag: a group that is not a category files under 其他 and is kept as a tag.
    assert [draft_row(p).tags for p in read[GROUP_BY_TAG]] == [["现货"], [], ["催付"]]
    assert [draft_row(p).category for p in read[GROUP_BY_TAG]] == ["其他", "物流配送", "其他"]
    assert all(v.status == "draft" and s.question.startswith("[") for s, v in drafts)
    log = session.exec(select(AuditLog).where(AuditLog.action == "scripts.import")).all()[-1]
    assert log.detail["format"] == "qianniu" and log.detail["drafts"] == 3


def test_the_pipe_variant_with_escapes_and_an_empty_group(session: Session, demo: Demo) -> None:
    raw = ("快捷编码 | 快捷短语 | 快捷短语分组\r\n"
           "a1 | 亲&#44;在的&#13;请问有什么可以帮您 | 欢迎语\r\n"
           'b2|"好的\r\n稍等&#13;&#10;谢谢"|\r\n').encode("gbk")
    phrases = read_qianniu_phrases(raw, file_name="phrases.txt")
    assert [(p.row, p.code, p.text, p.group) for p in phrases] == [
        (2, "a1", "亲,在的\n请问有什么可以帮您", "欢迎语"), (3, "b2", "好的\n稍等\n谢谢", "")]
    tab = "快捷编码\t快捷短语\t快捷短语分组\n1\t在的&#44;亲\t\n".encode()
    (only,) = read_qianniu_phrases(tab, file_name="t.csv")
    assert (only.text, only.group) == ("在的,亲", "")
    done = import_qianniu(session=session, actor=demo.trainer, phrases=[only])
    (script, version), = _drafts(session)
    assert (script.category, script.tags, version.answer) == ("其他", [NO_GROUP], "在的,亲")
    assert done.created == 1 and script.question == "[1] 在的,亲"


def test_gbk_and_utf8_without_bom_are_detected(demo: Demo) -> None:
    text = "快捷短语编码,快捷短语,快捷短语分组\r\nx,亲，包邮哦,价格优惠\r\n"
    for raw in (text.encode("gbk"), text.encode("utf-8"), text.encode("utf-8-sig")):
        (phrase,) = read_qianniu_phrases(raw, file_name="快捷短语.csv")
        assert (phrase.code, phrase.text, phrase.group) == ("x", "亲，包邮哦", "价格优惠")


def test_xlsx_with_the_headers(session: Session, demo: Demo) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"快捷编码": ["k1", "k2"], "快捷短语": ["亲，在的", "多行\n短语"],
                  "快捷短语分组": ["欢迎", "物流"]}).to_excel(buffer, index=False)
    phrases = read_qianniu_phrases(buffer.getvalue(), file_name="短语.xlsx")
    assert [(p.row, p.text, p.group) for p in phrases] == [(2, "亲，在的", "欢迎"), (3, "多行\n短语", "物流")]
    import_qianniu(session=session, actor=demo.trainer, phrases=phrases)
    assert [s.category for s, _ in _drafts(session)] == ["其他", "物流配送"]


def test_old_xls_is_refused_in_words() -> None:
    with pytest.raises(QianniuImportError, match=r"\.xls.*另存为 \.xlsx"):
        read_qianniu_phrases(b"\xd0\xcf\x11\xe0" + b"\0" * 100, file_name="短语.xls")


@pytest.mark.parametrize(("body", "rows"), [
    ("a,亲，在的,欢迎\r\nb,,欢迎\r\nc,好的,欢迎\r\n", "第 3 行：快捷短语为空"),
    ("a,亲,在的,欢迎\r\n", "第 2 行：列数不是 3 列"),
    ("a," + "长" * 2001 + ",欢迎\r\n", "第 2 行：快捷短语超过 2000 字"),
])
def test_a_bad_row_imports_nothing_and_is_named(session: Session, demo: Demo, body: str, rows: str) -> None:
    before = _count(session)
    with pytest.raises(QianniuImportError, match=rows):
        read_qianniu_phrases(("快捷短语编码,快捷短语,快捷短语分组\r\n" + body).encode(), file_name="f.csv")
    with pytest.raises(QianniuImportError, match="不是千牛快捷短语文件"):
        read_qianniu_phrases("问题,话术\r\n在吗,在的\r\n".encode(), file_name="f.csv")
    assert _count(session) == before


def test_duplicates_of_approved_scripts_and_inside_the_file_are_skipped(session: Session, demo: Demo) -> None:
    kept = authoring.create_script(session=session, actor=demo.trainer, question="在吗", answer="亲，在的",
                                   category="其他")
    raw = ("快捷短语编码,快捷短语,快捷短语分组\n"
           "1, 亲，在的 ,欢迎\n2,好的  稍等,欢迎\n3,好的 稍等,欢迎\n").encode()
    phrases = read_qianniu_phrases(raw, file_name="f.csv")
    plan = plan_qianniu_import(session=session, actor=demo.trainer, phrases=phrases)
    assert [(p.row, sid) for p, sid in plan.in_bank] == [(2, kept.id)]
    assert [(p.row, first) for p, first in plan.in_file] == [(4, 3)]
    lines = plan.lines()
    assert "3 条快捷短语" in lines[0] and "1 条将作为草稿导入" in lines[0]
    assert "话术 #" in lines[1] and "第 4 行同第 3 行" in lines[2]
    done = import_qianniu(session=session, actor=demo.trainer, phrases=phrases)
    assert done.created == 1 and [v.answer for _, v in _drafts(session)] == ["好的  稍等"]
    # The same file again: the draft it made is not made twice.
    again = import_qianniu(session=session, actor=demo.trainer, phrases=phrases)
    assert again.created == 0 and [p.row for p, _ in again.in_drafts] == [3, 4]
    assert "待审定的草稿" in again.lines()[-1] and len(_drafts(session)) == 1


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=400), name=st.sampled_from(["f.csv", "f.txt", "f.xlsx", "f.xls"]))
def test_arbitrary_bytes_never_crash_the_reader(raw: bytes, name: str) -> None:
    try:
        phrases = read_qianniu_phrases(raw, file_name=name)
    except QianniuImportError:
        return
    assert phrases and all(p.text for p in phrases)


@settings(max_examples=100, deadline=None)
@given(cells=st.lists(st.tuples(st.text(max_size=30), st.text(min_size=1, max_size=60), st.text(max_size=8)),
                      min_size=1, max_size=5))
def test_written_phrases_read_back_or_are_refused_in_words(cells: list[tuple[str, str, str]]) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([("快捷短语编码", "快捷短语", "快捷短语分组"), *cells])
    try:
        phrases = read_qianniu_phrases(buffer.getvalue().encode(), file_name="f.csv")
    except QianniuImportError:
        return
    assert all(p.text and "\r" not in p.text for p in phrases)


def test_an_agent_may_not_import(session: Session, demo: Demo) -> None:
    raw = "快捷短语编码,快捷短语,快捷短语分组\n1,亲,欢迎\n".encode()
    phrases = read_qianniu_phrases(raw, file_name="f.csv")
    for call in (plan_qianniu_import, import_qianniu):
        with pytest.raises(PermissionDenied):
            call(session=session, actor=demo.agent, phrases=phrases)
    assert not _drafts(session)


def test_trainer_page_previews_then_imports_drafts(session: Session, demo: Demo) -> None:
    authoring.create_script(session=session, actor=demo.trainer, question="在吗", answer="亲，在的",
                            category="其他")
    raw = "快捷短语编码,快捷短语,快捷短语分组\r\n1,亲，在的,欢迎\r\n2,**好的**稍等,欢迎\r\n3,包邮哦,\r\n"
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = demo.trainer.id
    at.run()
    at.switch_page("pages/script_bank.py")
    at.run()
    assert not at.exception, at.exception
    at.file_uploader(key="qianniu_import_file").set_value(("快捷短语.csv", raw.encode("gbk"), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    assert any("3 条快捷短语" in i.value and "2 个分组" in i.value for i in at.info)
    assert any("已审定话术内容相同" in w.value for w in at.warning)
    assert not _drafts(session)
    next(b for b in at.button if b.key == "qianniu_import").click()
    at.run()
    assert not at.exception, at.exception
    assert any("已导入 2 条草稿话术" in s.value and "话术列表" in s.value for s in at.success)
    session.expire_all()
    assert sorted(v.answer for _, v in _drafts(session)) == ["**好的**稍等", "包邮哦"]
    # the imported file leaves the box: a fresh, empty uploader and no stale preview
    boxes = [u.key for u in at.get("file_uploader") if "qianniu_import" in str(u.key)]
    assert boxes == ["qianniu_import_file-1"]
    assert not any("3 条快捷短语" in i.value for i in at.info)
