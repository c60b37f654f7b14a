"""AppTest: the trainer's question bank, knowledge items and paper builder pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from training.core.db import get_engine
from training.mining.question_bank import store_clusters
from training.models import ExamAssignment, ExamItem, ExamPaper, KnowledgeItem, MinedQuestion, Role, User
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")


class Cluster:
    def __init__(self, question: str, frequency: int, category: str) -> None:
        self.question, self.frequency, self.category = question, frequency, category
        self.examples = [question + "呀", question + "？"]
        self.context = [{"role": "customer", "text": "在吗"}, {"role": "agent", "text": "在的亲"}]
        self.agent_replies = ["亲，稍等帮您查询"]


@pytest.fixture
def trainer_app(db_url: str) -> AppTest:
    with Session(get_engine()) as session:
        seed_demo(session=session)
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        store_clusters(session=session, actor=trainer, import_id=None, clusters=[
            Cluster("什么时候发货", 30, "物流配送"), Cluster("快递到哪了", 12, "物流配送"),
            Cluster("能开发票吗", 8, "发票"), Cluster("怎么退货", 5, "退换货")])
        trainer_id = trainer.id
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = trainer_id
    at.run()
    return at


def test_promote_merge_and_edit_in_question_bank(trainer_app: AppTest) -> None:
    at = trainer_app
    at.switch_page("pages/question_bank.py")
    at.run()
    assert not at.exception
    with Session(get_engine()) as session:
        ids = [q.id for q in session.exec(select(MinedQuestion)).all()]
    at.multiselect(key="qb_selected").set_value(ids[:3]).run()
    at.button(key="qb_bulk_加入题库").click()
    at.run()
    assert at.success[0].value == "已加入题库 3 个问题。"
    at.multiselect(key="qb_selected").set_value(ids[:2]).run()
    at.button(key="qb_merge").click()
    at.run()
    at.button(key="qb_merge_confirm").click()  # merging asks first
    at.run()
    with Session(get_engine()) as session:
        rows = session.exec(select(MinedQuestion)).all()
        assert len(rows) == 3 and sum(q.in_question_bank for q in rows) == 2
        assert max(q.frequency for q in rows) == 42


def test_create_knowledge_item_through_the_form(trainer_app: AppTest) -> None:
    at = trainer_app
    at.switch_page("pages/knowledge_items.py")
    at.run()
    at.selectbox(key="ki_kind").select("truefalse")
    at.text_area(key="ki_stem").input("破壁机可以空转")
    at.text_input(key="ki_answer").input("错")
    next(b for b in at.button if b.label == "保存").click()
    at.run()
    assert not at.exception and at.success[0].value.startswith("已保存第 ")
    with Session(get_engine()) as session:
        assert session.exec(select(KnowledgeItem).where(KnowledgeItem.stem == "破壁机可以空转")).one()


def test_invalid_knowledge_item_shows_the_reason(trainer_app: AppTest) -> None:
    at = trainer_app
    at.switch_page("pages/knowledge_items.py")
    at.run()
    at.text_area(key="ki_stem").input("没有选项的单选")
    at.text_input(key="ki_answer").input("A")
    next(b for b in at.button if b.label == "保存").click()
    at.run()
    assert "至少需要两个选项" in at.error[0].value


def test_build_preview_and_publish_a_paper(trainer_app: AppTest) -> None:
    at = trainer_app
    with Session(get_engine()) as session:
        for q in session.exec(select(MinedQuestion)).all():
            q.in_question_bank = True
            session.add(q)
        session.commit()
    at.switch_page("pages/paper_builder.py")
    at.run()
    at.text_input(key="pb_title").input("新人物流上岗考")
    next(b for b in at.button if b.label == "创建").click()
    at.run()
    assert not at.exception
    at.number_input(key="pb_quota_LOGISTICS").set_value(2)
    at.number_input(key="pb_quota_INVOICE").set_value(3)
    at.button(key="pb_add_quota").click()
    at.run()
    assert at.success[0].value == "已加入 3 题。"
    assert "发票 少 2 题" in at.warning[0].value
    at.radio(key="pb_random_kind").set_value("objective")
    at.number_input(key="pb_random_count").set_value(4)
    at.button(key="pb_add_random").click()
    at.run()
    at.toggle(key="pb_preview").set_value(True)
    at.run()
    assert not at.exception
    assert sum("第 " in m.value and " 题" in m.value for m in at.markdown) == 7
    assert len(at.radio) >= 1  # objective items render as choices
    at.multiselect(key="pb_cohorts").set_value([1]).run()
    at.button(key="pb_publish").click()
    at.run()
    assert at.success[-1].value.startswith("已将「新人物流上岗考」发布给 ")
    with Session(get_engine()) as session:
        paper = session.exec(select(ExamPaper)).one()
        assert paper.status == "published"
        assert len(session.exec(select(ExamItem).where(ExamItem.paper_id == paper.id)).all()) == 7
        assert session.exec(select(ExamAssignment)).one().cohort_id == 1
    assert at.get("download_button")


def test_edit_knowledge_item_through_the_form(trainer_app: AppTest) -> None:
    at = trainer_app
    at.switch_page("pages/knowledge_items.py")
    at.run()
    with Session(get_engine()) as session:
        first = session.exec(select(KnowledgeItem).order_by(KnowledgeItem.id)).first()  # type: ignore[arg-type]
        assert first is not None
    at.selectbox(key="ki_edit_pick").set_value(first.id).run()
    form_area = next(t for t in at.text_area if t.value == first.explanation)
    form_area.set_value("解析已更新：以官网为准。")
    next(b for b in at.button if b.label == "保存修改").click().run()
    assert any(s.value == f"已保存第 {first.id} 题的修改。" for s in at.success)
    with Session(get_engine()) as session:
        again = session.get(KnowledgeItem, first.id)
        assert again is not None and again.explanation == "解析已更新：以官网为准。"
        assert again.stem == first.stem
