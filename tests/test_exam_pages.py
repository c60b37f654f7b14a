"""AppTest: the new hire's gate, taking an exam with autosave, results, certificate and 错题本."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from training.certification.programmes import create_certification
from training.core.db import get_engine
from training.exams import delivery as paper_delivery
from training.exams import papers
from training.exams.answering import save_answer
from training.exams.attempts import my_exams, start_attempt
from training.exams.grading import release_results
from training.exams.knowledge import KnowledgeDraft, create_item
from training.exams.sittings import questions_of
from training.exams.submission import submit_attempt
from training.models import (
    Answer,
    Attempt,
    Certificate,
    Cohort,
    KnowledgeItem,
    MinedQuestion,
    Role,
    User,
    utcnow,
)
from training.nlp.embeddings import Embedder
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def setup(db_url: str) -> dict[str, int]:
    """Demo data, a published paper (1 scenario + 2 objective items) and a 上岗认证 programme."""
    with Session(get_engine()) as session:
        seed_demo(session=session)
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        newhire = session.exec(select(User).where(User.role == Role.NEW_HIRE.value)).one()
        question = MinedQuestion(question="什么时候发货", category="物流配送", in_question_bank=True,
                                 context=[{"role": "customer", "text": "在吗"}])
        session.add(question)
        session.commit()
        items = session.exec(select(KnowledgeItem).where(KnowledgeItem.kind == "single")
                             .order_by(col(KnowledgeItem.id))).all()[:2]
        paper = papers.create_paper(session=session, actor=trainer, title="新人上岗考试", shuffle=False,
                                    pass_mark=0.5)
        papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                             mined_question_ids=[question.id or 0],
                             knowledge_item_ids=[i.id or 0 for i in items])
        cohort = session.exec(select(Cohort)).one()
        paper_delivery.publish_paper(session=session, actor=trainer, paper_id=paper.id or 0,
                                     cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
        create_certification(session=session, actor=trainer, name="上岗认证", paper_ids=[paper.id or 0],
                             pass_mark=0.5)
        return {"newhire": newhire.id or 0, "trainer": trainer.id or 0, "paper": paper.id or 0,
                "answers": {i.id or 0: i.answer for i in items}}  # type: ignore[dict-item]


def _app(user_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = user_id
    at.run()
    return at


def test_gate_exam_autosave_submit_and_certificate(setup: dict[str, int], embedder: Embedder) -> None:
    at = _app(setup["newhire"])
    assert not at.exception
    assert any("上岗前须取得：上岗认证" in w.value for w in at.warning)  # the gate is the landing page
    at.button(key=f"start_{1}").click().run()
    with Session(get_engine()) as session:
        attempt = session.exec(select(Attempt)).one()
    assert at.title[0].value == "新人上岗考试"
    answer_box = at.text_area[0]
    answer_box.input("亲，16点前付款当天发货哦").run()
    with Session(get_engine()) as session:
        saved = session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).one()
    assert saved.text == "亲，16点前付款当天发货哦"  # autosaved on change
    # Two objective items: pick the right option in each.
    for _ in range(2):
        at.button(key=f"next_{attempt.id}").click().run()
        radio = at.radio[0]
        option = next(o for o in radio.options if o.startswith(_answer_for(setup, radio)))
        radio.set_value(option).run()
    # A fresh session (a reload) resumes the same attempt with the answer in the box.
    again = _app(setup["newhire"])
    again.button(key=f"resume_{1}").click().run()
    assert again.text_area[0].value == "亲，16点前付款当天发货哦"
    again.checkbox(key=f"confirm_{attempt.id}").check().run()
    again.button(key=f"submit_{attempt.id}").click().run()
    with Session(get_engine()) as session:
        done = session.exec(select(Attempt)).all()
    assert len(done) == 1 and done[0].status == "submitted" and done[0].released_at is None
    assert not again.error  # no red error beside the note that the result is awaited
    assert any("培训师评阅或发布成绩后" in i.value for i in again.info)

    with Session(get_engine()) as session:
        trainer = session.get(User, setup["trainer"])
        released = release_results(session=session, actor=trainer, paper_id=setup["paper"], embedder=embedder)
        assert released == 1
        certificate = session.exec(select(Certificate)).one()
    certified = _app(setup["newhire"])
    assert not certified.warning and certified.title[0].value == "你好，张新人"  # the gate is gone
    certified.switch_page("pages/my_exams.py")
    certified.run()
    certified.button(key="result_1").click().run()
    assert [m.value for m in certified.metric][2] == "通过"
    assert any("审定话术" in m.value for m in certified.markdown) or certified.caption
    certified.button(key="back_exam_result_id").click().run()
    certified.button(key=f"cert_{certificate.id}").click().run()
    assert any(certificate.number in t.value for t in certified.text)


def test_mistakes_page_practice_does_not_count(setup: dict[str, int]) -> None:
    with Session(get_engine()) as session:
        newhire = session.get(User, setup["newhire"])
        [entry] = my_exams(session=session, actor=newhire)
        attempt = start_attempt(session=session, actor=newhire, assignment_id=entry.assignment_id)
        for question in questions_of(attempt):
            if question.kind != "scenario":
                save_answer(session=session, actor=newhire, attempt_id=attempt.id or 0,
                            slot_id=question.slot_id, choice="Z")  # wrong on purpose
        submit_attempt(session=session, actor=newhire, attempt_id=attempt.id or 0)
    at = _app(setup["newhire"])
    at.switch_page("pages/mistakes.py")
    at.run()
    assert not at.exception
    picker = at.selectbox(key="mistake_pick")
    assert len(picker.options) == 3  # two wrong items and the blank scenario answer
    objective = next(i for i, label in enumerate(picker.options) if "什么时候发货" not in label)
    picker.select_index(objective).run()
    letter = _answer_for(setup, at.radio[0])
    at.radio[0].set_value(next(o for o in at.radio[0].options if o.startswith(letter)))
    at.button[0].click().run()
    assert any("回答正确" in s.value for s in at.success)
    with Session(get_engine()) as session:
        assert len(session.exec(select(Attempt)).all()) == 1
        assert session.exec(select(Certificate)).first() is None


def _answer_for(setup: dict[str, int], radio) -> str:  # type: ignore[no-untyped-def]
    """The right letter for the knowledge item behind a radio (matched by its options)."""
    with Session(get_engine()) as session:
        for item_id, letter in setup["answers"].items():  # type: ignore[attr-defined]
            item = session.get(KnowledgeItem, item_id)
            if item is not None and list(item.options or []) == list(radio.options):
                return str(letter)
    raise AssertionError("no knowledge item matches the options shown")


def test_unprefixed_options_are_shown_lettered_and_graded_right(db_url: str) -> None:
    """Options without an ``A.`` prefix: the page shows their letters and stores the answer code."""
    with Session(get_engine()) as session:
        seed_demo(session=session)
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        newhire = session.exec(select(User).where(User.role == Role.NEW_HIRE.value)).one()
        drafts = [KnowledgeDraft("single", "QH-AF01 有哪些颜色在售？（单选）", ["红色", "蓝色", "绿色"], "B"),
                  KnowledgeDraft("multiple", "哪些是耗材？", ["滤网", "电机", "拖布"], "A,C"),
                  KnowledgeDraft("multiple", "哪些支持顺丰？", ["A. 扫地机", "B. 榨汁杯", "C. 破壁机"], "AC")]
        items = [create_item(session=session, actor=trainer, draft=d) for d in drafts]
        paper = papers.create_paper(session=session, actor=trainer, title="选项测验", shuffle=False)
        papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                             knowledge_item_ids=[i.id or 0 for i in items])
        cohort = session.exec(select(Cohort)).one()
        paper_delivery.publish_paper(session=session, actor=trainer, paper_id=paper.id or 0,
                                     cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
        exported = paper_delivery.export_paper_xlsx(session=session, actor=trainer, paper_id=paper.id or 0)
        newhire_id = newhire.id or 0
    sheet = pd.read_excel(io.BytesIO(exported), sheet_name="试卷")
    assert sheet["选项"].tolist()[0].splitlines() == ["A. 红色", "B. 蓝色", "C. 绿色"]
    at = _app(newhire_id)
    at.switch_page("pages/my_exams.py")
    at.run()
    at.button(key="start_1").click().run()
    with Session(get_engine()) as session:
        attempt = session.exec(select(Attempt)).one()
    radio = at.radio[0]
    assert radio.options == ["A. 红色", "B. 蓝色", "C. 绿色"]
    radio.set_value("蓝色").run()
    at.button(key=f"next_{attempt.id}").click().run()
    assert [c.label for c in at.checkbox][:3] == ["A. 滤网", "B. 电机", "C. 拖布"]
    at.checkbox[0].check().run()
    at.checkbox[2].check().run()
    at.button(key=f"next_{attempt.id}").click().run()
    assert [c.label for c in at.checkbox][:3] == ["A. 扫地机", "B. 榨汁杯", "C. 破壁机"]
    at.checkbox[0].check().run()
    at.checkbox[2].check().run()
    # Back on the first question after a reload, the saved code shows as the option picked.
    again = _app(newhire_id)
    again.switch_page("pages/my_exams.py")
    again.run()
    again.button(key="resume_1").click().run()
    assert again.radio[0].value == "蓝色"
    again.checkbox(key=f"confirm_{attempt.id}").check().run()
    again.button(key=f"submit_{attempt.id}").click().run()
    with Session(get_engine()) as session:
        done = session.get(Attempt, attempt.id)
        stored = session.exec(select(Answer).where(Answer.attempt_id == attempt.id)
                              .order_by(col(Answer.item_id))).all()
        assert done is not None
        assert [a.choice for a in stored] == ["B", "AC", "AC"]
        assert done.released_at is not None and done.score == pytest.approx(1.0)


def test_gate_marks_the_exams_required_for_duty(setup: dict[str, int]) -> None:
    with Session(get_engine()) as session:
        trainer = session.get(User, setup["trainer"])
        extra = papers.create_paper(session=session, actor=trainer, title="售后选修", shuffle=False)
        item = session.exec(select(KnowledgeItem)).first()
        assert item is not None
        papers.add_questions(session=session, actor=trainer, paper_id=extra.id or 0,
                             knowledge_item_ids=[item.id or 0])
        cohort = session.exec(select(Cohort)).one()
        paper_delivery.publish_paper(session=session, actor=trainer, paper_id=extra.id or 0,
                                     cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
    at = _app(setup["newhire"])
    assert not at.exception
    assert any("标有「上岗必考」的考试" in w.value for w in at.warning)
    titles = [m.value for m in at.markdown if m.value.startswith("**")]
    assert "**新人上岗考试** :orange-badge[上岗必考]" in titles
    assert "**售后选修**" in titles
