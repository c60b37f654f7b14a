"""Questions in and out of the database through Moodle XML, GIFT and the exam-tool Excel template:
all or nothing, duplicates skipped, round trips, roles, the CLI (dry run, import, export) and the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exam_world import Demo, demo_people
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from scripts_bank.cli.main import main
from training.auth.permissions import PermissionDenied
from training.exams.interchange.records import QuestionRecord
from training.exams.interchange.service import (
    GIFT,
    MOODLE,
    XLSX,
    QuestionImportError,
    export_questions,
    export_records,
    import_questions,
    plan_import,
    read_questions,
)
from training.exams.knowledge import KnowledgeDraft, create_item
from training.models import AuditLog, KnowledgeItem, MinedQuestion

pytestmark = pytest.mark.db
APP = str(Path(__file__).resolve().parents[1] / "app.py")

GIFT_FILE = """// 售后培训题库
$CATEGORY: $course$/top/售后维修

::质保期::本店手机的质保期是多久？{=12个月 ~6个月 ~24个月 #质保从签收日算起}

::发票::以下哪些情况可以开具增值税专用发票？{~%50%企业采购 ~%50%单位报销 ~%-100%个人自用}

::七天无理由::定制商品也支持七天无理由退货。{F}

::退款催促::顾客说：我退款申请三天了还没到账，你们是不是骗子？{}

::运费::一件商品的运费是多少元？{#10}
"""


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _stems(session: Session) -> set[str]:
    return {i.stem for i in session.exec(select(KnowledgeItem)).all()}


def _scenarios(session: Session) -> list[MinedQuestion]:
    return list(session.exec(select(MinedQuestion).where(col(MinedQuestion.import_id).is_(None),
                                                         col(MinedQuestion.in_question_bank).is_(True))).all())


def test_gift_file_imports_items_and_a_scenario_and_lists_the_skipped_type(
        session: Session, demo: Demo) -> None:
    parsed = read_questions(GIFT_FILE.encode("utf-8-sig"), file_name="题库.gift")
    assert [s.title for s in parsed.skipped] == ["运费"]
    plan = import_questions(session=session, actor=demo.trainer, parsed=parsed, file_name="题库.gift")
    assert (plan.created_items, plan.created_scenarios) == (3, 1)
    items = {i.stem: i for i in session.exec(select(KnowledgeItem)).all()}
    warranty = items["本店手机的质保期是多久？"]
    assert (warranty.kind, warranty.answer) == ("single", "A")
    assert warranty.options is not None and warranty.options[0].endswith("12个月")
    invoice = items["以下哪些情况可以开具增值税专用发票？"]
    assert (invoice.kind, invoice.answer) == ("multiple", "AB")
    assert (items["定制商品也支持七天无理由退货。"].kind, items["定制商品也支持七天无理由退货。"].answer) == (
        "truefalse", "错")
    [scenario] = _scenarios(session)
    assert scenario.question.startswith("顾客说：我退款申请三天了")
    assert scenario.category == "售后维修"  # the file's category names a Huashu category
    assert any(line.startswith("本系统没有的题型，已跳过 1 道") and "运费" in line for line in plan.lines())
    assert session.exec(select(AuditLog).where(AuditLog.action == "questions.import")).first() is not None


def test_importing_the_same_file_twice_adds_nothing_the_second_time(session: Session, demo: Demo) -> None:
    parsed = read_questions(GIFT_FILE.encode(), file_name="题库.gift")
    import_questions(session=session, actor=demo.trainer, parsed=parsed)
    before = (len(session.exec(select(KnowledgeItem)).all()), len(_scenarios(session)))
    again = import_questions(session=session, actor=demo.trainer, parsed=parsed)
    assert (again.created_items, again.created_scenarios, len(again.existing)) == (0, 0, 4)
    assert (len(session.exec(select(KnowledgeItem)).all()), len(_scenarios(session))) == before


def test_one_invalid_question_imports_nothing_and_names_its_line(session: Session, demo: Demo) -> None:
    broken = GIFT_FILE + "\n::多选只有一个对::哪些能退？{~%100%已拆封 ~未拆封}\n"
    parsed = read_questions(broken.encode(), file_name="坏.gift")
    before = _stems(session)
    plan = plan_import(session=session, actor=demo.trainer, parsed=parsed)
    assert not plan.ok
    with pytest.raises(QuestionImportError, match="多选只有一个对"):
        import_questions(session=session, actor=demo.trainer, parsed=parsed)
    session.rollback()
    assert _stems(session) == before and not _scenarios(session)


@pytest.mark.parametrize("fmt", [MOODLE, GIFT, XLSX])
def test_export_then_import_into_an_empty_bank_gives_the_same_questions(
        session: Session, demo: Demo, fmt: str) -> None:
    create_item(session=session, actor=demo.trainer, draft=KnowledgeDraft(
        "single", "「B. 」开头的选项也按位置对应？", ["B. 红色", "A. 蓝色", "绿色"], "C", "颜色按位置",
        "SKU-9", ["颜色"]))
    import_questions(session=session, actor=demo.trainer,
                     parsed=read_questions(GIFT_FILE.encode(), file_name="题库.gift"))
    before = export_records(session=session, actor=demo.trainer)
    data, count = export_questions(session=session, actor=demo.trainer, file_format=fmt)
    assert count == len(before) > 5
    for item in session.exec(select(KnowledgeItem)).all():
        session.delete(item)
    for question in session.exec(select(MinedQuestion).where(col(MinedQuestion.in_question_bank).is_(True))):
        session.delete(question)
    session.commit()
    name = {MOODLE: "题库.xml", GIFT: "题库.gift", XLSX: "题库.xlsx"}[fmt]
    parsed = read_questions(data, file_name=name)
    assert not parsed.skipped and not parsed.errors
    plan = import_questions(session=session, actor=demo.trainer, parsed=parsed)
    assert plan.created_items + plan.created_scenarios == count
    after = export_records(session=session, actor=demo.trainer)

    def comparable(records: list[QuestionRecord]) -> list[tuple[object, ...]]:
        return sorted((r.type, r.stem, tuple(r.options), r.answer,
                       r.explanation if r.type != "scenario" else "", tuple(sorted(r.tags))) for r in records)

    assert comparable(after) == comparable(before)
    colours = next(i for i in session.exec(select(KnowledgeItem)).all() if i.stem.startswith("「B. 」"))
    assert colours.sku == "SKU-9" and colours.answer == "C" and colours.options is not None
    assert colours.options[2].endswith("绿色")


def test_agents_can_neither_import_nor_export(session: Session, demo: Demo) -> None:
    parsed = read_questions(GIFT_FILE.encode(), file_name="题库.gift")
    with pytest.raises(PermissionDenied):
        import_questions(session=session, actor=demo.agent, parsed=parsed)
    with pytest.raises(PermissionDenied):
        export_questions(session=session, actor=demo.newhire, file_format=GIFT)


def test_empty_and_unknown_files_get_a_chinese_message(session: Session) -> None:
    with pytest.raises(QuestionImportError):
        read_questions(b"", file_name="x.gift")
    with pytest.raises(QuestionImportError, match="无法识别|无法按|没有题目"):
        read_questions("只是一段话，没有题目".encode(), file_name="说明.txt")


def test_cli_dry_run_prints_one_json_line_per_question_and_the_skipped_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "题库.gift"
    source.write_text(GIFT_FILE, encoding="utf-8")
    assert main(["questions", "import", str(source), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["type"] for line in lines] == ["single", "multiple", "truefalse", "scenario"]
    assert set(lines[0]) == {"title", "type", "stem", "options", "answer", "explanation", "tags"}
    assert [line["answer"] for line in lines] == ["A", "AB", "错", ""]
    assert "运费" in err and "跳过" in err


def test_cli_imports_and_exports_against_the_configured_database(
        session: Session, demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "题库.gift"
    source.write_text(GIFT_FILE, encoding="utf-8")
    assert main(["questions", "import", str(source), "--as", demo.trainer.username]) == 0
    session.expire_all()
    assert "本店手机的质保期是多久？" in _stems(session)
    assert main(["questions", "import", str(source), "--as", demo.agent.username]) == 2
    assert "无权" in capsys.readouterr().err
    out = tmp_path / "导出.xml"
    assert main(["questions", "export", "--format", "moodle-xml", "--output", str(out)]) == 0
    assert b"<quiz>" in out.read_bytes() and "质保期是多久".encode() in out.read_bytes()
    assert main(["questions", "export", "--format", "xlsx", "--output", str(tmp_path / "x.xlsx"),
                 "--as", "nobody"]) == 2
    assert not (tmp_path / "x.xlsx").exists()


def test_page_previews_then_imports_and_offers_the_export(session: Session, demo: Demo) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = demo.trainer.id
    at.run()
    at.switch_page("pages/knowledge_items.py")
    at.run()
    assert not at.exception, at.exception
    at.file_uploader(key="qx_file").set_value(("题库.gift", GIFT_FILE.encode("gbk"), "text/plain"))
    at.run()
    assert not at.exception, at.exception
    assert any("新题 4 道" in i.value for i in at.info)
    assert any("运费" in w.value for w in at.warning)
    assert "本店手机的质保期是多久？" not in _stems(session)
    next(b for b in at.button if b.key == "qx_import").click()
    at.run()
    assert not at.exception, at.exception
    assert any("已导入知识题 3 道、情景题 1 道" in s.value for s in at.success)
    session.expire_all()
    assert "本店手机的质保期是多久？" in _stems(session)
    assert [u.key for u in at.get("file_uploader") if str(u.key).startswith("qx_file")] == ["qx_file-1"]
    at.selectbox(key="qx_export_format").set_value(GIFT)
    next(b for b in at.button if b.key == "qx_export").click()
    at.run()
    assert not at.exception, at.exception
    assert any("GIFT" in s.value for s in at.success)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.binary(max_size=400),
                     st.text(alphabet="{}=~#%:$/\n ，质保退货TF0123-><", max_size=200).map(str.encode)),
       name=st.sampled_from(["q.gift", "q.xml", "q.xlsx", "q.csv", "q.txt"]))
def test_arbitrary_files_are_refused_in_chinese_or_imported_whole(
        session: Session, demo: Demo, raw: bytes, name: str) -> None:
    before = (len(_stems(session)), len(_scenarios(session)))
    try:
        parsed = read_questions(raw, file_name=name)
    except QuestionImportError as exc:
        assert str(exc) and not str(exc).isascii()
        return
    plan = plan_import(session=session, actor=demo.trainer, parsed=parsed)
    if plan.ok:
        done = import_questions(session=session, actor=demo.trainer, parsed=parsed)
        assert (len(_stems(session)), len(_scenarios(session))) == (
            before[0] + done.created_items, before[1] + done.created_scenarios)
    else:
        with pytest.raises(QuestionImportError):
            import_questions(session=session, actor=demo.trainer, parsed=parsed)
        session.rollback()
        assert (len(_stems(session)), len(_scenarios(session))) == before
