"""知识题库 (issue 17.11): an item can be retired (asked first) and restored; a retired item is not
put on new papers; the 答案 column is in view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from training.auth.permissions import PermissionDenied
from training.exams import delivery as paper_delivery
from training.exams import knowledge, papers
from training.models import AuditLog, ExamItem, KnowledgeItem

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _items(session: Session) -> list[KnowledgeItem]:
    return list(session.exec(select(KnowledgeItem).order_by(col(KnowledgeItem.id))).all())


def test_a_retired_item_is_not_put_on_new_papers_and_can_come_back(session: Session, demo: Demo) -> None:
    items = _items(session)
    keep, retire = items[0], items[1:]
    for item in retire:
        knowledge.retire_item(session=session, actor=demo.trainer, item_id=item.id or 0)
    assert [i.id for i in knowledge.list_items(session=session, actor=demo.trainer)] == [keep.id]
    assert {i.id for i in knowledge.list_items(session=session, actor=demo.trainer, retired=True)} == {
        i.id for i in retire}

    paper = papers.create_paper(session=session, actor=demo.trainer, title="随机知识题", shuffle=False)
    papers.add_random_slots(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                            kind=papers.OBJECTIVE, count=1)
    drawn = {q.knowledge_item_id for seed in range(20)
             for q in paper_delivery.draw_paper(session=session, paper=paper, seed=seed)}
    assert drawn == {keep.id}, "only the item in use is drawn"
    added = papers.add_questions(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                                 knowledge_item_ids=[retire[0].id or 0])
    assert added == 0 and not session.exec(select(ExamItem).where(
        ExamItem.knowledge_item_id == retire[0].id)).all()

    knowledge.restore_item(session=session, actor=demo.trainer, item_id=retire[0].id or 0)
    assert retire[0].id in {i.id for i in knowledge.list_items(session=session, actor=demo.trainer)}
    actions = [a.action for a in session.exec(select(AuditLog).where(
        col(AuditLog.action).in_(["knowledge.retire", "knowledge.restore"])).order_by(col(AuditLog.id)))]
    assert actions == ["knowledge.retire"] * len(retire) + ["knowledge.restore"]
    with pytest.raises(knowledge.KnowledgeError, match="没有停用"):
        knowledge.restore_item(session=session, actor=demo.trainer, item_id=keep.id or 0)
    with pytest.raises(PermissionDenied):
        knowledge.retire_item(session=session, actor=demo.agent, item_id=keep.id or 0)


def _page(demo: Demo) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user_id"] = demo.trainer.id
    at.run()
    at.switch_page("pages/knowledge_items.py").run()
    assert not at.exception, at.exception
    return at


def test_knowledge_page_retires_after_asking_and_restores(session: Session, demo: Demo) -> None:
    item = _items(session)[0]
    at = _page(demo)
    table = at.dataframe[0]
    columns = list(table.value.columns)
    assert columns.index("答案") < columns.index("题干") and columns.index("答案") < columns.index("选项")
    widths = json.loads(table.proto.columns)
    assert widths["答案"]["width"] == "small" and widths["题干"]["width"] == "large"

    at.selectbox(key="ki_edit_pick").set_value(item.id).run()
    at.button(key="ki_retire").click().run()
    session.expire_all()
    assert session.get(KnowledgeItem, item.id).retired_at is None, "nothing changes before 确认"  # type: ignore[union-attr]
    assert f"确认停用第 {item.id} 题" in at.warning[0].value
    at.button(key="ki_retire_confirm").click().run()
    assert not at.exception, at.exception
    session.expire_all()
    assert session.get(KnowledgeItem, item.id).retired_at is not None  # type: ignore[union-attr]
    assert at.success[0].value.startswith(f"已停用第 {item.id} 题")
    assert item.id not in list(at.dataframe[0].value["ID"])

    at.selectbox(key="ki_status").set_value("已停用").run()
    assert list(at.dataframe[0].value["ID"]) == [item.id]
    at.button(key="ki_restore").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith(f"已恢复第 {item.id} 题") and not at.warning
    session.expire_all()
    assert session.get(KnowledgeItem, item.id).retired_at is None  # type: ignore[union-attr]
