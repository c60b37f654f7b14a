"""Reviewing by question: blind ranked answers, rubric reviews, audited changes, lint phrases, calibration."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from exam_world import demo_people, more_candidates, publish, sit
from sqlmodel import Session, col, select

from scripts_bank import authoring
from training.auth.permissions import PermissionDenied
from training.exams import delivery as paper_delivery
from training.exams import grading, papers, review_board
from training.exams.rubrics import RubricError, default_rubric
from training.models import (
    Answer,
    Attempt,
    AuditLog,
    Cohort,
    ExamItem,
    MinedQuestion,
    Review,
    Role,
    ScriptVersion,
    User,
    utcnow,
)
from training.nlp.embeddings import Embedder
from training.ranking.lint_rules import save_phrase

pytestmark = pytest.mark.encoder

POLITE = "亲，您好~ 16点前付款当天就发货，最晚48小时内发出，发货后物流信息会同步到订单里，感谢您的耐心等待！"
IDK = "我不知道"
OFF_TOPIC = "亲，我们家空气炸锅正在搞活动，随便看看吧"
LEVELS = {"礼貌称呼": 4, "准确解决": 3, "主动超预期": 2, "合规表达": 4}  # weighted: 0.8


@dataclass
class Board:
    trainer: User
    admin: User
    agent: User
    candidates: list[User]
    paper_id: int
    key: str
    mined_id: int
    answers: dict[str, int]  # reply text -> answer id of the shipping question


@pytest.fixture
def board(session: Session) -> Board:
    """Three candidates answer a paper of two scenario questions (the second keeps attempts open)."""
    demo = demo_people(session)
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    [extra] = more_candidates(session, admin, 1)
    shipping = MinedQuestion(question="什么时候发货", category="物流配送", in_question_bank=True,
                             context=[{"role": "customer", "text": "在吗"}])
    invoice = MinedQuestion(question="能开发票吗", category="发票", in_question_bank=True)
    session.add_all([shipping, invoice])
    session.commit()
    paper = papers.create_paper(session=session, actor=demo.trainer, title="发货话术考", shuffle=False,
                                pass_mark=0.5)
    papers.add_questions(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                         mined_question_ids=[shipping.id or 0, invoice.id or 0])
    cohort = session.exec(select(Cohort)).one()
    paper_delivery.publish_paper(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                                 cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
    candidates = [demo.agent, demo.newhire, extra]
    for who, reply in zip(candidates, (POLITE, IDK, OFF_TOPIC), strict=True):
        sit(session, who, paper.id or 0, reply=reply)
    rows = session.exec(select(Answer).join(ExamItem).where(ExamItem.mined_question_id == shipping.id)
                        .order_by(col(Answer.id))).all()
    return Board(demo.trainer, admin, demo.agent, candidates, paper.id or 0, f"m{shipping.id}",
                 shipping.id or 0, {a.text: a.id or 0 for a in rows})


def rank(session: Session, board: Board, embedder: Embedder, actor: User | None = None,
         ) -> review_board.QuestionRanking:
    return review_board.rank_question(session=session, actor=actor or board.trainer, paper_id=board.paper_id,
                                      key=board.key, embedder=embedder)


def by_text(ranking: review_board.QuestionRanking) -> dict[str, review_board.BlindAnswer]:
    return {b.text: b for b in ranking.answers}


def test_answers_are_ranked_blind_with_lint_findings(
    session: Session, board: Board, embedder: Embedder,
) -> None:
    slots = review_board.paper_questions(session=session, actor=board.trainer, paper_id=board.paper_id)
    assert [(s.prompt, s.answers, s.reviewed, s.category) for s in slots] == [
        ("什么时候发货", 3, 0, "物流配送"), ("能开发票吗", 3, 0, "发票")]
    ranking = rank(session, board, embedder)
    assert ranking.slot.key == board.key and ranking.reference is None
    texts = [b.text for b in ranking.answers]
    assert texts[0] == POLITE and texts.index(POLITE) < texts.index(IDK)
    assert [b.score for b in ranking.answers] == sorted((b.score for b in ranking.answers), reverse=True)
    # labels follow the answers' save order, never the candidates
    assert {b.answer_id: b.label for b in ranking.answers} == {
        board.answers[POLITE]: "回答 1", board.answers[IDK]: "回答 2", board.answers[OFF_TOPIC]: "回答 3"}
    names = {n for u in board.candidates for n in (u.display_name, u.username)}
    dumped = repr(dataclasses.asdict(ranking))
    assert not [n for n in names if n in dumped]
    fields = {f.name for f in dataclasses.fields(review_board.BlindAnswer)}
    assert not fields & {"user_id", "author", "attempt_id"}

    answers = by_text(ranking)
    assert [(f.kind, f.phrase) for f in answers[IDK].findings] == [("forbidden", "我不知道")]
    assert answers[POLITE].findings == [] and answers[IDK].signals["lint"] == pytest.approx(-0.25)
    assert any("我不知道" in r for r in answers[IDK].reasons)

    with pytest.raises(PermissionDenied):
        rank(session, board, embedder, actor=board.agent)
    with pytest.raises(grading.GradingError, match="还没有书面回答"):
        review_board.rank_question(session=session, actor=board.trainer, paper_id=board.paper_id,
                                   key="m99999", embedder=embedder)


def test_best_answer_becomes_the_reference_script(session: Session, board: Board, embedder: Embedder) -> None:
    ids = [board.answers[POLITE], board.answers[IDK], board.answers[POLITE]]
    merged = authoring.draft_from_answers(session=session, actor=board.trainer, answer_ids=ids)
    assert merged == POLITE + "\n" + IDK  # duplicates dropped, order kept
    script = authoring.create_script(session=session, actor=board.trainer, question="什么时候发货",
                                     answer=POLITE, category="物流配送", mined_question_id=board.mined_id,
                                     source_answer_ids=[board.answers[POLITE]])
    ranking = rank(session, board, embedder)
    assert ranking.reference == POLITE
    assert by_text(ranking)[POLITE].signals["reference"] > by_text(ranking)[IDK].signals["reference"]
    version = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
    assert version.source_answer_ids == [board.answers[POLITE]]


def test_rubric_reviews_changes_and_release(session: Session, board: Board, embedder: Embedder) -> None:
    polite, idk, off = (board.answers[t] for t in (POLITE, IDK, OFF_TOPIC))

    def review(answer_id: int, levels: dict[str, int], failed: list[str] | None = None,
               actor: User | None = None) -> Review:
        return review_board.review_with_rubric(session=session, actor=actor or board.trainer,
                                               answer_id=answer_id, levels=levels, failed=failed or [],
                                               embedder=embedder)

    first = review(polite, LEVELS)
    assert first.score == pytest.approx(0.8)  # 0.2*4/4 + 0.4*3/4 + 0.2*2/4 + 0.2*4/4
    assert first.rubric == {k: float(v) for k, v in LEVELS.items()}
    assert first.rubric_id == default_rubric(session=session).id and first.auto_fail is None
    assert review(off, {**LEVELS, "准确解决": 4}, ["答非所问"]).score == 0.0
    with pytest.raises(RubricError, match="请给每一项打分：合规表达"):
        review(idk, {k: v for k, v in LEVELS.items() if k != "合规表达"})
    with pytest.raises(PermissionDenied):
        review(idk, LEVELS, actor=board.agent)
    assert session.exec(select(Review).where(Review.answer_id == idk)).all() == []

    changed = review(polite, dict.fromkeys(LEVELS, 4))
    assert changed.id == first.id and changed.score == pytest.approx(1.0)
    actions = session.exec(select(AuditLog).where(AuditLog.target == str(polite),
                                                  col(AuditLog.action).startswith("answer.review"))
                           .order_by(col(AuditLog.id))).all()
    assert [(a.action, (a.detail or {})["previous"]) for a in actions] == [
        ("answer.review", None), ("answer.review_change", pytest.approx(0.8))]
    assert (actions[1].detail or {})["score"] == pytest.approx(1.0)

    mine = by_text(rank(session, board, embedder))
    assert mine[POLITE].my_levels == dict.fromkeys(LEVELS, 4) and mine[OFF_TOPIC].my_failed == ["答非所问"]
    assert (mine[POLITE].reviews, mine[POLITE].review_mean, mine[POLITE].locked) == (1, 1.0, False)
    assert by_text(rank(session, board, embedder, actor=board.admin))[POLITE].my_levels == {}
    slots = review_board.paper_questions(session=session, actor=board.trainer, paper_id=board.paper_id)
    assert [s.reviewed for s in slots] == [2, 0]

    assert grading.release_results(session=session, actor=board.trainer, paper_id=board.paper_id,
                                   embedder=embedder) == 3
    with pytest.raises(grading.GradingError, match="成绩已发布"):
        review(idk, LEVELS)
    assert all(b.locked for b in rank(session, board, embedder).answers)


def test_a_new_lint_phrase_changes_the_findings(session: Session, board: Board, embedder: Embedder) -> None:
    before = by_text(rank(session, board, embedder))[OFF_TOPIC]
    assert before.findings == []
    with pytest.raises(PermissionDenied):
        save_phrase(session=session, actor=board.agent, phrase="随便", kind="rude")
    save_phrase(session=session, actor=board.trainer, phrase="随便", kind="rude", reason="敷衍顾客",
                penalty=0.3)
    after = by_text(rank(session, board, embedder))[OFF_TOPIC]
    assert [(f.kind, f.phrase, f.penalty) for f in after.findings] == [("rude", "随便", 0.3)]
    assert after.signals["lint"] == pytest.approx(-0.3) and after.score < before.score
    save_phrase(session=session, actor=board.trainer, phrase="随便", kind="rude", active=False)
    assert by_text(rank(session, board, embedder))[OFF_TOPIC].findings == []


def _score(
    session: Session, board: Board, reviewer: User, scores: dict[str, float], embedder: Embedder,
) -> None:
    for text, score in scores.items():
        grading.review_answer(session=session, actor=reviewer, answer_id=board.answers[text], score=score,
                              embedder=embedder)


def test_calibration_alpha_and_splits(session: Session, board: Board, embedder: Embedder) -> None:
    # the worked example of test_review_stats: units (1, 1), (0, 0.5), (0.5, 0.5) -> alpha = 12/17
    _score(session, board, board.trainer, {POLITE: 1.0, IDK: 0.0, OFF_TOPIC: 0.5}, embedder)
    _score(session, board, board.admin, {POLITE: 1.0, IDK: 0.5, OFF_TOPIC: 0.5}, embedder)
    result = review_board.calibration(session=session, actor=board.trainer, paper_id=board.paper_id)
    assert result.alpha == pytest.approx(12 / 17) and result.double_reviewed == 3
    assert {(r.name, r.reviews, round(r.mean, 4), r.spread) for r in result.reviewers} == {
        ("王培训", 3, 0.5, 1.0), ("演示管理员", 3, round(2 / 3, 4), 0.5)}
    split = result.splits[0]
    assert (split.question, split.text, split.spread) == ("什么时候发货", IDK, 0.5)
    assert split.scores == {"王培训": 0.0, "演示管理员": 0.5}
    with pytest.raises(PermissionDenied):
        review_board.calibration(session=session, actor=board.agent, paper_id=board.paper_id)


def test_harsh_and_lenient_reviewers_agree_after_normalisation(
    session: Session, board: Board, embedder: Embedder,
) -> None:
    _score(session, board, board.trainer, {POLITE: 0.3, IDK: 0.1, OFF_TOPIC: 0.2}, embedder)
    _score(session, board, board.admin, {POLITE: 0.9, IDK: 0.7, OFF_TOPIC: 0.8}, embedder)
    result = review_board.calibration(session=session, actor=board.trainer, paper_id=board.paper_id)
    assert result.alpha is not None and result.alpha < 0  # -0.5517 by hand, see test_review_stats
    assert result.alpha_normalised == pytest.approx(1.0)
    # the ranking reads the normalised reviews: both reviewers land on 0.6 / 0.4 / 0.5
    answers = by_text(rank(session, board, embedder))
    assert answers[POLITE].signals["reviews"] == pytest.approx(0.6)
    assert answers[IDK].signals["reviews"] == pytest.approx(0.4)
    assert answers[POLITE].review_mean == pytest.approx(0.6)  # the raw mean of 0.3 and 0.9


def test_panel_reviews_on_a_one_question_paper_wait_for_the_release(
    session: Session, embedder: Embedder,
) -> None:
    """Two trainers score the only answer and one changes a grade; nothing is released until asked."""
    demo = demo_people(session)
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    paper_id = publish(session, demo.trainer, "单题考试", scenario=True, objective=0)
    attempt_id = sit(session, demo.agent, paper_id, reply=POLITE)
    answer = session.exec(select(Answer).where(Answer.attempt_id == attempt_id)).one()
    changed = {**LEVELS, "准确解决": 4}  # 0.9
    for reviewer, levels in ((demo.trainer, LEVELS), (admin, LEVELS), (demo.trainer, changed)):
        review_board.review_with_rubric(session=session, actor=reviewer, answer_id=answer.id or 0,
                                        levels=levels, failed=[], embedder=embedder)
    attempt = session.get(Attempt, attempt_id)
    assert attempt is not None and attempt.released_at is None
    scores = sorted(r.score for r in session.exec(select(Review).where(Review.answer_id == answer.id)))
    assert scores == pytest.approx([0.8, 0.9])
    grading.release_results(session=session, actor=demo.trainer, paper_id=paper_id, embedder=embedder)
    session.refresh(attempt)
    assert attempt.released_at is not None
