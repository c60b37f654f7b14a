"""建议分 in grading and 逐题评阅: a lone candidate is scored against the approved script, not the crowd."""

from __future__ import annotations

import pytest
from exam_world import demo_people, more_candidates, publish, sit
from sqlmodel import Session, select

from scripts_bank import authoring
from training.exams import grading, review_board, scores
from training.models import Answer, ExamItem, Role, Script, User
from training.nlp.embeddings import Embedder

pytestmark = pytest.mark.encoder

SCRIPT = "亲，16点前付款当天发货，最晚48小时内发出，发货后物流信息会同步到订单里哦"
CLOSE = "亲，16点之前付款的话当天就发货，最晚48小时内发出，发货后订单里能看到物流信息"
OFF_TOPIC = "亲，我们家空气炸锅正在搞活动，买一送一，随便看看吧"


def _paper_with_script(session: Session, trainer: User, title: str) -> int:
    paper_id = publish(session, trainer, title, scenario=True, objective=0)
    item = session.exec(select(ExamItem).where(ExamItem.paper_id == paper_id)).first()
    assert item is not None and item.mined_question_id is not None
    authoring.create_script(session=session, actor=trainer, question="什么时候发货", answer=SCRIPT,
                            category="物流配送", mined_question_id=item.mined_question_id)
    return paper_id


def _scenario_answer(session: Session, attempt_id: int) -> Answer:
    return session.exec(select(Answer).where(Answer.attempt_id == attempt_id)).one()


def test_a_lone_candidate_gets_an_absolute_score_never_a_flat_half(
    session: Session, embedder: Embedder,
) -> None:
    demo = demo_people(session)
    scored = {}
    for title, who, reply in (("卷一", demo.agent, CLOSE), ("卷二", demo.newhire, OFF_TOPIC)):
        paper_id = _paper_with_script(session, demo.trainer, title)
        attempt_id = sit(session, who, paper_id, reply=reply)  # the only candidate of the paper
        grading.release_results(session=session, actor=demo.trainer, paper_id=paper_id, embedder=embedder)
        answer = _scenario_answer(session, attempt_id)
        session.refresh(answer)
        scored[reply] = answer
    close, off = scored[CLOSE], scored[OFF_TOPIC]
    assert close.score is not None and off.score is not None
    assert close.score - off.score > 0.4
    assert 0.5 not in (close.score, off.score)
    reasons = (close.score_detail or {})["reasons"]
    assert any(r.startswith("最接近的审定话术：现行话术") for r in reasons)
    assert any("漏掉的要点" in r for r in (off.score_detail or {})["reasons"])
    formula = scores.scoring_formula()
    assert "不和其他考生的回答比较" in formula and "排在什么位置" not in formula


def test_without_a_script_or_reviews_the_fallback_is_named(session: Session, embedder: Embedder) -> None:
    demo = demo_people(session)
    paper_id = publish(session, demo.trainer, "无话术", scenario=True, objective=0)
    attempt_id = sit(session, demo.agent, paper_id, reply=CLOSE)
    grading.release_results(session=session, actor=demo.trainer, paper_id=paper_id, embedder=embedder)
    answer = _scenario_answer(session, attempt_id)
    session.refresh(answer)
    assert answer.score is not None and answer.score != 0.5
    assert any("还没有审定话术，也没有已评分的回答" in r for r in (answer.score_detail or {})["reasons"])


def test_review_board_shows_the_suggestion_and_calibration_the_gap(
    session: Session, embedder: Embedder,
) -> None:
    demo = demo_people(session)
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    [extra] = more_candidates(session, admin, 1)
    paper_id = _paper_with_script(session, demo.trainer, "评阅卷")
    ids = {reply: _scenario_answer(session, sit(session, who, paper_id, reply=reply)).id or 0
           for who, reply in ((demo.agent, CLOSE), (demo.newhire, OFF_TOPIC), (extra, CLOSE + "～"))}
    grading.review_answer(session=session, actor=demo.trainer, answer_id=ids[CLOSE + "～"], score=0.3,
                          embedder=embedder)
    [slot] = review_board.paper_questions(session=session, actor=demo.trainer, paper_id=paper_id)
    ranking = review_board.rank_question(session=session, actor=demo.trainer, paper_id=paper_id, key=slot.key,
                                         embedder=embedder)
    answers = {a.text: a for a in ranking.answers}
    close, off = answers[CLOSE], answers[OFF_TOPIC]
    assert close.suggestion is not None and off.suggestion is not None
    assert close.score == pytest.approx(close.suggestion)  # unreviewed: the score shown is the 建议分
    assert any(r.startswith("最接近的审定话术") for r in close.suggestion_reasons)
    assert any("已评分的相近回答" in r and "0.30" in r for r in close.suggestion_reasons)
    assert any(r.startswith("漏掉的要点") for r in off.suggestion_reasons)
    report = review_board.calibration(session=session, actor=demo.trainer, paper_id=paper_id,
                                      embedder=embedder)
    reviewed = answers[CLOSE + "～"]
    assert report.suggestion_count == 1 and reviewed.suggestion is not None
    assert report.suggestion_gap == pytest.approx(abs(reviewed.suggestion - 0.3), abs=1e-6)
    without_encoder = review_board.calibration(session=session, actor=demo.trainer, paper_id=paper_id)
    assert without_encoder.suggestion_gap is None and without_encoder.suggestion_count == 0


def test_approved_wordings_are_the_script_its_variants_and_older_versions(session: Session) -> None:
    demo = demo_people(session)
    paper_id = _paper_with_script(session, demo.trainer, "变体卷")
    item = session.exec(select(ExamItem).where(ExamItem.paper_id == paper_id)).first()
    assert item is not None
    mined = item.mined_question_id
    script_id = session.exec(select(Script.id).where(Script.mined_question_id == mined)).one()
    authoring.revise_script(session=session, actor=demo.trainer, script_id=script_id or 0, answer=CLOSE)
    authoring.propose_revision(session=session, actor=demo.trainer, script_id=script_id or 0,
                               answer="草稿：还没审定的写法")
    authoring.create_script(session=session, actor=demo.trainer, question="什么时候发货", category="物流配送",
                            answer="亲，当天16点前付款当天发", variant="简洁版", mined_question_id=mined)
    authoring.create_script(session=session, actor=demo.trainer, question="什么时候发货", category="物流配送",
                            answer="未审定的变体", mined_question_id=mined, approve=False)
    wordings = scores.approved_variants(session=session, mined_question_id=mined)
    assert [(v.label, v.text) for v in wordings] == [
        ("现行话术", CLOSE), ("变体「简洁版」", "亲，当天16点前付款当天发"), ("旧版本（第 1 版）", SCRIPT)]
    assert scores.approved_variants(session=session, mined_question_id=None) == []
