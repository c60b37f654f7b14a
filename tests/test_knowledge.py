"""Knowledge items: validation, grading, import with per-row errors, role checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from training import knowledge
from training.knowledge import KnowledgeDraft, KnowledgeError
from training.models import KnowledgeItem, Role, User
from training.permissions import PermissionDenied
from training.seed import seed_demo

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "knowledge_items.csv"


@pytest.fixture
def trainer(session: Session) -> User:
    seed_demo(session)
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
