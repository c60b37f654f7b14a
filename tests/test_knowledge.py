"""Knowledge items: validation, grading, import with per-row errors, role checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from training.auth.permissions import PermissionDenied
from training.exams import choices, knowledge
from training.exams.knowledge import KnowledgeDraft, KnowledgeError
from training.models import KnowledgeItem, Role, User
from training.ops.demo.seed import seed_demo

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "knowledge_items.csv"


@pytest.fixture
def trainer(session: Session) -> User:
    seed_demo(session=session)
    return session.exec(select(User).where(User.role == Role.TRAINER.value)).one()


@pytest.mark.parametrize(("draft", "message"), [
    (KnowledgeDraft("essay", "题干"), "题型"),
    (KnowledgeDraft("single", " ", ["A. 1", "B. 2"], "A"), "题干"),
    (KnowledgeDraft("single", "题干", ["A. 1"], "A"), "两个选项"),
    (KnowledgeDraft("single", "题干", ["A. 1", "B. 2"], "C"), "不在选项"),
    (KnowledgeDraft("single", "题干", ["A. 1", "B. 2"], "AB"), "只能有一个"),
    (KnowledgeDraft("multiple", "题干", ["A. 1", "B. 2", "C. 3"], "B"), "至少需要两个"),
    (KnowledgeDraft("truefalse", "题干", [], "也许"), "对」或「错"),
])
def test_invalid_drafts_are_rejected(draft: KnowledgeDraft, message: str) -> None:
    with pytest.raises(KnowledgeError, match=message):
        knowledge.validate(draft)


def test_answers_are_normalised_and_graded(trainer: User, session: Session) -> None:
    item = knowledge.create_item(session=session, actor=trainer, draft=KnowledgeDraft(
        "multiple", "哪些商品支持7天无理由？", ["A. 空气炸锅", "B. 定制商品", "C. 电热水壶"], "c, a"))
    assert item.answer == "AC"
    assert knowledge.grade(item, "CA") == 1.0
    assert knowledge.grade(item, "A") == 0.0
    assert knowledge.grade(item, "") == 0.0
    tf = knowledge.create_item(session=session, actor=trainer,
                               draft=KnowledgeDraft("truefalse", "榨汁杯质保12个月", [], "错误"))
    assert tf.answer == "错" and knowledge.grade(tf, "错") == 1.0 and knowledge.grade(tf, "对") == 0.0


def test_demo_csv_imports_cleanly(trainer: User, session: Session) -> None:
    before = len(session.exec(select(KnowledgeItem)).all())
    result = knowledge.import_items(session=session, actor=trainer, raw=DEMO.read_bytes(),
                                    file_name=DEMO.name, limit_bytes=10**6)
    assert result.errors == [] and result.created >= 20
    assert len(session.exec(select(KnowledgeItem)).all()) == before + result.created


def test_import_lists_errors_per_row_and_stores_nothing(trainer: User, session: Session) -> None:
    before = len(session.exec(select(KnowledgeItem)).all())
    csv = ("kind,stem,options,answer,explanation,sku,tags\n"
           "single,好题,A. 1|B. 2,A,,,\n"
           "single,坏题,A. 1|B. 2,Z,,,\n"
           "essay,坏题型,,A,,,\n")
    result = knowledge.import_items(session=session, actor=trainer, raw=csv.encode("gbk"),
                                    file_name="items.csv", limit_bytes=10**6)
    assert result.created == 0
    assert [e.split("：")[0] for e in result.errors] == ["第 3 行", "第 4 行"]
    assert len(session.exec(select(KnowledgeItem)).all()) == before


def test_agents_cannot_see_or_write_items(trainer: User, session: Session) -> None:
    agent = session.exec(select(User).where(User.role == Role.AGENT.value)).one()
    with pytest.raises(PermissionDenied):
        knowledge.list_items(session=session, actor=agent)
    with pytest.raises(PermissionDenied):
        knowledge.create_item(session=session, actor=agent,
                              draft=KnowledgeDraft("truefalse", "x", [], "对"))
    assert knowledge.list_items(session=session, actor=trainer, tag="质保")


@pytest.mark.parametrize(("kind", "options", "answer", "picked"), [
    ("single", ["红色", "蓝色", "绿色"], "B", ["蓝色"]),
    ("single", ["A. 12个月", "B. 24个月"], "B", ["B. 24个月"]),
    ("multiple", ["滤网", "电机", "拖布"], "A,C", ["拖布", "滤网"]),
    ("multiple", ["A. 秒杀价", "B. 直播价", "C. 普通降价"], "AB", ["B. 直播价", "A. 秒杀价"]),
    ("truefalse", [], "正确", ["对"]),
])
def test_one_mapping_from_options_to_answer_codes(
    trainer: User, session: Session, kind: str, options: list[str], answer: str, picked: list[str],
) -> None:
    """Import, the exam page (choice_code) and grading agree on prefixed and unprefixed options."""
    rows = f"kind,stem,options,answer\n{kind},题干,{'|'.join(options)},\"{answer}\"\n"
    result = knowledge.import_items(session=session, actor=trainer, raw=rows.encode(), file_name="x.csv",
                                    limit_bytes=10_000)
    assert result.errors == [] and result.created == 1
    item = session.exec(select(KnowledgeItem).where(KnowledgeItem.stem == "题干")).one()
    shown = list(item.options or []) if kind != "truefalse" else ["对", "错"]
    code = choices.choice_code(kind, shown, picked)
    assert knowledge.grade(item, code) == 1.0
    assert sorted(choices.picked_options(kind, shown, code)) == sorted(picked)
    wrong = [o for o in shown if o not in picked][:1]
    assert knowledge.grade(item, choices.choice_code(kind, shown, wrong)) == 0.0
    assert all(label[:1] in "ABC对错" for label in choices.labelled_options(kind, shown))
