"""AppTest: 逐题评阅 (ranked blind answers → rubric review → approved script), 话术库 and 话术查询."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exam_world import Demo, demo_people, more_candidates, publish, sit
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from scripts_bank.authoring import create_script, propose_revision
from training.exams import delivery as paper_delivery
from training.exams import papers
from training.models import (
    AuditLog,
    Cohort,
    MinedQuestion,
    Review,
    Role,
    Script,
    ScriptFeedback,
    ScriptVersion,
    User,
    utcnow,
)

APP = str(Path(__file__).resolve().parents[1] / "app.py")
REPLIES = [
    "亲，您好！付款后48小时内发货，发货后可以在订单详情里查看物流哦",
    "我不知道",
    "亲亲，一般付款后两天内发货，发出后会有物流单号，您留意一下哈",
]

pytestmark = pytest.mark.encoder


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _page(user: User, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = user.id
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception


def test_trainer_reviews_blind_and_approves_a_merged_script(session: Session, demo: Demo) -> None:
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    candidates = more_candidates(session, admin, 3)
    paper_id = publish(session, demo.trainer, "发货话术考试", scenario=True, objective=0)
    for user, reply in zip(candidates, REPLIES, strict=True):
        sit(session, user, paper_id, reply=reply)

    at = _page(demo.trainer, "pages/answer_review.py")
    page_text = " ".join(m.value for m in at.markdown) + " ".join(t.value for t in at.text)
    assert all(c.display_name not in page_text for c in candidates), "reviewing must be blind"
    assert "建议分" in page_text  # every card shows its suggestion, with why in an expander
    assert any(e.label.startswith("建议分") and e.label.endswith("的依据") for e in at.expander)
    assert any("这道题还没有审定话术" in c.value for c in at.caption)
    assert any(m.label == "评分与建议分平均相差" for m in at.metric)  # 评分一致性 tab
    shown = [t.value for t in at.text if t.value in REPLIES]
    assert shown.index(REPLIES[1]) > min(shown.index(REPLIES[0]), shown.index(REPLIES[2]))

    # Score the top answer on the rubric: every criterion 4 → 100 %.
    answer_id = int(next(c.key for c in at.checkbox if c.key.startswith("pick_")).split("_")[1])
    assert _answer_text(session, answer_id) != REPLIES[1]
    for box in at.number_input:
        if box.key.startswith(f"lv_{answer_id}_"):
            box.set_value(4)
    [b for b in at.button if b.label == "保存评分"][0].click()  # the top card's form
    at.run()
    assert not at.exception
    review = session.exec(select(Review).where(Review.answer_id == answer_id)).one()
    assert review.score == pytest.approx(1.0) and review.rubric_id is not None

    # Pick the two good answers, merge them into the editor, approve as the script.
    good = [aid for aid in _answer_ids(session, paper_id) if _answer_text(session, aid) != REPLIES[1]]
    for aid in good:
        at.checkbox(key=f"pick_{aid}").check()
    at.run()
    _click(at, "合并所选回答（2 条）到编辑框")
    merged = _labelled(at.text_area, DRAFT_LABEL).value
    assert REPLIES[0] in merged and REPLIES[2] in merged
    _labelled(at.text_area, DRAFT_LABEL).input(
        "{客户称呼}您好，付款后48小时内发货，发出后可在订单详情查看物流哦")
    _labelled(at.text_input, "标签（逗号分隔）").input("发货，时效")
    next(b for b in at.button if b.label == "保存话术").click()
    at.run()
    assert not at.exception
    session.expire_all()
    script = session.exec(select(Script).order_by(col(Script.id).desc())).first()
    assert script is not None and script.status == "approved" and script.tags == ["发货", "时效"]
    assert script.mined_question_id is not None
    version = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
    assert sorted(version.source_answer_ids or []) == sorted(good)
    assert version.approved_by == demo.trainer.id


DRAFT_LABEL = "话术（可用占位符 {客户称呼} {订单号} 等）"


def _labelled(widgets, label: str):  # type: ignore[no-untyped-def]
    """The one widget of ``widgets`` labelled ``label`` (the composer's keys name the question)."""
    found = [w for w in widgets if w.label == label]
    assert len(found) == 1, [w.label for w in widgets]
    return found[0]


def _two_question_paper(session: Session, demo: Demo) -> tuple[int, list[MinedQuestion]]:
    """A paper with two scenario questions of different categories, answered by three candidates."""
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    questions = [MinedQuestion(question="我看了 没有", category="物流配送", in_question_bank=True),
                 MinedQuestion(question="运费谁出", category="退换货", in_question_bank=True)]
    session.add_all(questions)
    session.commit()
    paper = papers.create_paper(session=session, actor=demo.trainer, title="两题考试", shuffle=False,
                                pass_mark=0.5)
    papers.add_questions(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                         mined_question_ids=[q.id or 0 for q in questions])
    cohort = session.exec(select(Cohort)).one()
    paper_delivery.publish_paper(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                                 cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
    for user, reply in zip(more_candidates(session, admin, 3), REPLIES, strict=True):
        sit(session, user, paper.id or 0, reply=reply)
    return paper.id or 0, questions


def test_the_composer_saves_under_the_question_selected(session: Session, demo: Demo) -> None:
    """Issue 17.1: after switching the 题目 box the script is filed under that question and category."""
    paper_id, (first, second) = _two_question_paper(session, demo)
    at = _page(demo.trainer, "pages/answer_review.py")
    assert _labelled(at.text_input, "顾客问题").value == first.question
    at.selectbox(key="ar_question").set_value(f"m{second.id}")
    at.run()
    assert not at.exception, at.exception
    assert _labelled(at.text_input, "顾客问题").value == second.question
    assert _labelled(at.selectbox, "分类").value == "退换货"
    answer_id = int(next(c.key for c in at.checkbox if c.key.startswith("pick_")).split("_")[1])
    at.checkbox(key=f"pick_{answer_id}").check()
    at.run()
    _click(at, "合并所选回答（1 条）到编辑框")
    _labelled(at.text_area, DRAFT_LABEL).input("亲，七天无理由退货的运费由买家承担，质量问题由我们承担哦")
    _click(at, "保存话术")
    session.expire_all()
    script = session.exec(select(Script).order_by(col(Script.id).desc())).first()
    assert script is not None and script.mined_question_id == second.id
    assert (script.question, script.category) == ("运费谁出", "退换货")
    assert [s.value for s in at.success] == ["已审定发布到话术库：「运费谁出」（退换货）。"]

    at.selectbox(key="ar_question").set_value(f"m{first.id}")  # back: nothing of the other one stays
    at.run()
    assert _labelled(at.text_input, "顾客问题").value == first.question
    assert _labelled(at.selectbox, "分类").value == "物流配送"
    assert _labelled(at.text_area, DRAFT_LABEL).value == ""


def _answer_ids(session: Session, paper_id: int) -> list[int]:
    from training.exams.sittings import answers_of, submitted_attempts

    attempts = submitted_attempts(session=session, paper_id=paper_id)
    return [a.id or 0 for a in answers_of(session=session, attempt_ids=[t.id or 0 for t in attempts]).values()
            if a.text]


def _answer_text(session: Session, answer_id: int) -> str:
    from training.models import Answer

    answer = session.get(Answer, answer_id)
    return answer.text if answer else ""


def test_agent_lookup_fills_placeholders_and_takes_feedback(session: Session, demo: Demo) -> None:
    script = create_script(session=session, actor=demo.trainer, question="快递到哪了，怎么还没到",
                           answer="{客户称呼}您好，您的订单{订单号}正在派送中，请耐心等待",
                           category="物流配送", product="电饭煲", tags=["物流"])
    at = _page(demo.agent, "pages/script_lookup.py")
    at.text_input(key="lookup_query").input("我的包裹怎么还没送到")
    at.run()
    _box(at, "客户称呼").input("王女士")
    _box(at, "订单号").input("JD12345")
    at.run()
    assert not at.exception
    assert any(c.value == "王女士您好，您的订单JD12345正在派送中，请耐心等待" for c in at.code)
    assert any(":orange-background[" in m.value for m in at.markdown), "matching parts are highlighted"
    next(b for b in at.button if b.key == f"fb_outdated_{script.id}").click()
    at.run()
    feedback = session.exec(select(ScriptFeedback).where(ScriptFeedback.script_id == script.id)).one()
    assert feedback.kind == "outdated" and feedback.user_id == demo.agent.id

    at.selectbox(key="lookup_product").set_value("电饭煲")
    at.run()
    assert [c.value for c in at.code] == ["王女士您好，您的订单JD12345正在派送中，请耐心等待"]


def _box(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    """The placeholder box labelled ``label`` (its key changes with each query)."""
    return next(t for t in at.text_input if t.label == label)


def test_placeholders_start_empty_for_every_new_query(session: Session, demo: Demo) -> None:
    """Issue 17.6: the order number typed for one customer must not reach the next one's script."""
    create_script(session=session, actor=demo.trainer, question="快递到哪了，怎么还没到",
                  answer="{客户称呼}您好，您的订单{订单号}正在派送中，请耐心等待", category="物流配送")
    create_script(session=session, actor=demo.trainer, question="订单能改地址吗",
                  answer="亲，订单{订单号}还没发货的话可以修改地址哦", category="物流配送")
    at = _page(demo.agent, "pages/script_lookup.py")
    at.text_input(key="lookup_query").input("我的包裹怎么还没送到")
    at.run()
    _box(at, "订单号").input("JD12345")
    _box(at, "客户称呼").input("王女士")
    at.run()
    assert any("JD12345" in c.value for c in at.code)

    at.text_input(key="lookup_query").input("下单后地址写错了能改吗")
    at.run()
    assert not at.exception
    assert _box(at, "订单号").value == ""
    assert all(t.value == "" for t in at.text_input if t.key != "lookup_query")
    assert not any("JD12345" in c.value or "王女士" in c.value for c in at.code), [c.value for c in at.code]
    assert "亲，订单{订单号}还没发货的话可以修改地址哦" in [c.value for c in at.code]


def test_trainer_approves_a_draft_and_agents_never_see_drafts(session: Session, demo: Demo) -> None:
    script = create_script(session=session, actor=demo.trainer, question="可以开专票吗",
                           answer="亲，可以开增值税专用发票", category="发票")
    propose_revision(session=session, actor=demo.trainer, script_id=script.id,
                     answer="亲，可以开专票，请提供公司名称和税号", note="补充开票资料")
    agent = _page(demo.agent, "pages/script_lookup.py")
    agent.text_input(key="lookup_query").input("能开专用发票不")
    agent.run()
    assert "亲，可以开增值税专用发票" in [c.value for c in agent.code]
    assert "亲，可以开专票，请提供公司名称和税号" not in [c.value for c in agent.code]

    at = _page(demo.trainer, "pages/script_bank.py")
    at.session_state[f"bank_open_{script.id}"] = True  # a trainer's tools load in an open panel
    at.run()
    _click(at, "审定第 2 版")
    session.expire_all()
    refreshed = session.get(Script, script.id)
    assert refreshed is not None and refreshed.current_version == 2
    assert session.exec(select(AuditLog).where(AuditLog.action == "script.approve",
                                               AuditLog.target == str(script.id))).all()
    agent.run()
    assert "亲，可以开专票，请提供公司名称和税号" in [c.value for c in agent.code]


def test_review_reasons_and_reviewer_agreement_in_plain_words(session: Session, demo: Demo) -> None:
    from typing import cast

    from training.auth.accounts import create_user
    from training.exams.grading import review_answer
    from training.nlp.embeddings import Embedder

    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    candidates = more_candidates(session, admin, 3)
    paper_id = publish(session, demo.trainer, "发货话术考试", scenario=True, objective=0)
    for user, reply in zip(candidates, REPLIES, strict=True):
        sit(session, user, paper_id, reply=reply)
    second = create_user(session=session, actor=admin, username="trainer2", display_name="王培训",
                         role=Role.TRAINER, password="trainer-pass-22")
    no_encoder = cast(Embedder, None)  # reviewing without releasing encodes nothing
    for reviewer, scores in ((demo.trainer, (0.9, 0.1, 0.7)), (second, (0.8, 0.2, 0.75))):
        for answer_id, score in zip(_answer_ids(session, paper_id), scores, strict=True):
            review_answer(session=session, actor=reviewer, answer_id=answer_id, score=score,
                          embedder=no_encoder, finalize=False)

    at = _page(demo.trainer, "pages/answer_review.py")
    reasons = [c.value for c in at.caption if c.value.startswith("· ")]
    assert any(r.startswith("· 与顾客问题的相关度：") for r in reasons), reasons
    assert not any("余弦" in r for r in reasons)
    metrics = {m.label: m.value for m in at.metric}
    assert "评阅一致性（按原始分）" in metrics and not any("α" in label for label in metrics)
    reviewers = next(t for t in at.dataframe if "评阅人" in t.value.columns)
    formats = json.loads(reviewers.proto.columns)
    assert formats["平均分"]["type_config"]["format"] == "%.2f"
    assert all(v == round(v, 2) for v in reviewers.value["平均分"])
