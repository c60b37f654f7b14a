"""Analytics against small hand-computed worlds; role checks; the demo history fills every figure."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from exam_world import Demo, demo_people, knowledge, more_candidates, publish
from sqlmodel import Session, col, select

from training.analytics import dashboards as an
from training.analytics.export import chart_data_bytes
from training.auth.permissions import PermissionDenied
from training.core.clock import team_date
from training.exams import answering, papers, submission
from training.exams import attempts as exams
from training.exams.feedback import mistakes, practise
from training.exams.review_stats import krippendorff_alpha
from training.models import (
    Answer,
    Attempt,
    AttemptStatus,
    Certificate,
    Certification,
    Cohort,
    ExamAssignment,
    ExamItem,
    KnowledgeItem,
    MinedQuestion,
    Review,
    Role,
    Script,
    User,
    utcnow,
)
from training.ops.demo.history import seed_demo_history

ALL = an.Filters()
# A Wednesday, 10:00 in China; its week starts on Monday 2026-11-16.
WED = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _admin(session: Session) -> User:
    return session.exec(select(User).where(User.role == Role.ADMIN.value)).one()


def _paper(session: Session, trainer: User, title: str, *, objective: int,
           mined: list[int] | None = None) -> tuple[ExamAssignment, list[ExamItem]]:
    """A paper (pass mark 50 %): ``mined`` scenario slots, then ``objective`` items, for the cohort."""
    paper = papers.create_paper(session=session, actor=trainer, title=title, shuffle=False, pass_mark=0.5)
    papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                         mined_question_ids=mined or [],
                         knowledge_item_ids=[i.id or 0 for i in knowledge(session, objective)])
    cohort = session.exec(select(Cohort)).one()
    assignment = ExamAssignment(paper_id=paper.id or 0, cohort_id=cohort.id,
                                opens_at=WED - timedelta(days=30), max_attempts=5)
    session.add(assignment)
    session.commit()
    slots = list(session.exec(select(ExamItem).where(ExamItem.paper_id == paper.id)
                              .order_by(col(ExamItem.position))).all())
    return assignment, slots


def _sitting(session: Session, user: User, assignment: ExamAssignment, slots: list[ExamItem],
             scores: list[float], *, at: datetime = WED, released: bool = True,
             cpm: float | None = None) -> Attempt:
    """A submitted attempt with these per-slot score shares (total = their mean), written as rows."""
    number = len(session.exec(select(Attempt).where(Attempt.assignment_id == assignment.id,
                                                    Attempt.user_id == user.id)).all()) + 1
    attempt = Attempt(assignment_id=assignment.id or 0, user_id=user.id or 0,
                      started_at=at - timedelta(minutes=20), deadline_at=at + timedelta(minutes=40),
                      submitted_at=at, status=AttemptStatus.SUBMITTED.value,
                      score=sum(scores) / len(scores), number=number,
                      released_at=at + timedelta(hours=1) if released else None)
    session.add(attempt)
    session.flush()
    for slot, score in zip(slots, scores, strict=True):
        session.add(Answer(attempt_id=attempt.id or 0, item_id=slot.id or 0, score=score,
                           text="亲，已为您处理" if slot.kind == papers.SCENARIO else "",
                           chars_per_minute=cpm if slot.kind == papers.SCENARIO else None))
    session.commit()
    return attempt


def test_pass_rates_distribution_and_item_analysis_by_hand(session: Session, demo: Demo) -> None:
    a, b, c, d = [demo.agent, demo.newhire, *more_candidates(session, _admin(session), 2)]
    assignment, slots = _paper(session, demo.trainer, "三题小测", objective=3)
    # Item scores (rows = candidates A–D, columns = items 1–3) and totals y = mean:
    #   A 1 1 1 → 1     B 1 1 0 → 2/3     C 1 0 0 → 1/3     D 0 0 1 → 1/3
    for user, scores in ((a, [1, 1, 1]), (b, [1, 1, 0]), (c, [1, 0, 0]), (d, [0, 0, 1])):
        _sitting(session, user, assignment, slots, [float(s) for s in scores])
    _sitting(session, a, assignment, slots, [0.0, 0.0, 0.0], released=False)  # not final: never counted
    _sitting(session, demo.trainer, assignment, slots, [1.0, 1.0, 1.0])  # staff trying it out: not a learner

    [rate] = an.pass_rates(session=session, actor=demo.trainer, filters=ALL)
    # Pass mark 50 %: A and B pass, C and D do not; mean = (1 + 2/3 + 1/3 + 1/3) / 4 = 7/12.
    assert (rate.sittings, rate.passed, rate.pass_rate) == (4, 2, 0.5)
    assert rate.mean_score == pytest.approx(7 / 12)
    distribution = an.score_distribution(session=session, actor=demo.trainer, filters=ALL)
    bins = {s.bin: s.sittings for s in distribution}
    # 100 %, 67 %, 33 % twice; the empty bands are there with 0, so a histogram keeps its gaps.
    assert bins == {0: 0, 1: 0, 2: 0, 3: 2, 4: 0, 5: 0, 6: 1, 7: 0, 8: 0, 9: 1}
    assert [s.label for s in distribution][:2] == ["0–10%", "10–20%"]
    items = an.item_analysis(session=session, actor=demo.trainer, filters=ALL)
    assert [i.difficulty for i in items] == pytest.approx([0.75, 0.5, 0.5])
    # Point-biserial r = (M1 − M0) / σ_y · √(pq), σ_y (population) = √(11/144) = √11 / 12:
    #   item 1: M1 = 2/3, M0 = 1/3, p = 3/4 → (1/3)(√3/4)(12/√11) = √3/√11 ≈ 0.522
    #   item 2: M1 = 5/6, M0 = 1/3, p = 1/2 → (1/2)(1/2)(12/√11) = 3/√11 ≈ 0.905
    #   item 3: M1 = 2/3, M0 = 1/2, p = 1/2 → (1/6)(1/2)(12/√11) = 1/√11 ≈ 0.302
    expected = [math.sqrt(3 / 11), 3 / math.sqrt(11), 1 / math.sqrt(11)]
    assert [i.discrimination for i in items] == pytest.approx(expected)
    assert [i.needs_review for i in items] == [False, False, False]
    assert items[0].answers == 4 and items[0].prompt == slots[0].prompt


def test_filters_narrow_by_cohort_period_and_category(session: Session, demo: Demo) -> None:
    assignment, slots = _paper(session, demo.trainer, "单题", objective=1)
    _sitting(session, demo.agent, assignment, slots, [1.0], at=WED)
    _sitting(session, demo.newhire, assignment, slots, [0.0], at=WED + timedelta(days=7))
    other = Cohort(name="别的班组")
    session.add(other)
    session.commit()

    def sittings(filters: an.Filters) -> int:
        return sum(r.sittings for r in an.pass_rates(session=session, actor=demo.trainer, filters=filters))

    assert sittings(ALL) == 2
    assert sittings(an.Filters(cohort_id=other.id)) == 0
    wed_local = date(2026, 11, 18)
    assert sittings(an.Filters(start=wed_local, end=wed_local)) == 1
    assert sittings(an.Filters(start=wed_local + timedelta(days=1))) == 1
    # The paper has only a knowledge item: no scenario question of any category.
    assert sittings(an.Filters(category="物流配送")) == 0
    logistics = an.Filters(category="物流配送")
    assert an.item_analysis(session=session, actor=demo.trainer, filters=logistics) == []
    with pytest.raises(an.AnalyticsError):
        an.Filters(start=date(2026, 11, 2), end=date(2026, 11, 1))


def test_reviewer_agreement_per_local_week(session: Session, demo: Demo) -> None:
    question = MinedQuestion(question="什么时候发货", category="物流配送", in_question_bank=True, examples=[],
                             context=[], agent_replies=[])
    session.add(question)
    session.commit()
    assignment, slots = _paper(session, demo.trainer, "情景题", objective=0, mined=[question.id or 0])
    admin = _admin(session)
    # Sunday 2026-11-22 17:00 UTC is already Monday 01:00 in China: the next week.
    sunday_night = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    plan = [(demo.agent, WED, [1.0, 0.8]), (demo.newhire, WED, [0.2, 0.4]), (demo.agent, sunday_night, [0.5])]
    for user, at, given in plan:
        attempt = _sitting(session, user, assignment, slots, [sum(given) / len(given)], at=at)
        answer = session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).one()
        for reviewer, score in zip((demo.trainer, admin), given, strict=False):
            session.add(Review(answer_id=answer.id or 0, reviewer_id=reviewer.id or 0, score=score))
    session.commit()

    weeks = an.reviewer_agreement(session=session, actor=demo.trainer, filters=ALL)
    # Only the week of 16 Nov has answers reviewed twice: scores {1.0, 0.8} and {0.2, 0.4}.
    # Krippendorff (interval): D_o = (2·0.04 + 2·0.04) / 4 = 0.04; D_e = 2·1.6 / (4·3) = 0.2667
    # (1.6 = sum of squared differences over the 6 pairs) → alpha = 1 − 0.04 / 0.2667 = 0.85.
    assert [(w.week, w.answers, w.reviews) for w in weeks] == [(date(2026, 11, 16), 2, 4)]
    assert weeks[0].alpha == pytest.approx(0.85)
    speeds = an.ramp_up(session=session, actor=demo.trainer, filters=ALL)
    assert all(w.chars_per_minute is None for w in speeds)  # no typing speed recorded in this world


def test_ramp_up_by_week_since_joining(session: Session, demo: Demo) -> None:
    joined = WED - timedelta(days=14)
    demo.agent.joined_at, demo.newhire.joined_at = joined, joined + timedelta(days=7)
    session.add_all([demo.agent, demo.newhire])
    session.commit()
    question = MinedQuestion(question="包邮吗", category="价格优惠", in_question_bank=True, examples=[],
                             context=[], agent_replies=[])
    session.add(question)
    session.commit()
    assignment, slots = _paper(session, demo.trainer, "情景题", objective=0, mined=[question.id or 0])
    _sitting(session, demo.agent, assignment, slots, [0.4], at=joined + timedelta(days=2), cpm=30)   # week 0
    _sitting(session, demo.agent, assignment, slots, [0.8], at=joined + timedelta(days=9), cpm=50)   # week 1
    _sitting(session, demo.newhire, assignment, slots, [0.6], at=joined + timedelta(days=9), cpm=40)  # week 0
    weeks = an.ramp_up(session=session, actor=demo.trainer, filters=ALL)
    # Week 0: agent 0.4 / 30 and new hire 0.6 / 40 → means 0.5 and 35; week 1: agent alone, 0.8 and 50.
    assert [(w.week, w.learners, w.sittings) for w in weeks] == [(0, 2, 2), (1, 1, 1)]
    assert [w.mean_score for w in weeks] == pytest.approx([0.5, 0.8])
    assert [w.chars_per_minute for w in weeks] == pytest.approx([35.0, 50.0])
    only_new = an.Filters(start=(joined + timedelta(days=7)).date())
    assert [w.learners for w in an.ramp_up(session=session, actor=demo.trainer, filters=only_new)] == [1]


def test_certification_status_and_expiry_calendar(session: Session, demo: Demo) -> None:
    now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    c0, c1, c2 = more_candidates(session, _admin(session), 3)
    programme = Certification(name="上岗认证", valid_days=180)
    session.add(programme)
    session.commit()

    def cert(user: User, expires_in: int, **extra: object) -> None:
        session.add(Certificate(certification_id=programme.id or 0, user_id=user.id or 0,
                                issued_at=now - timedelta(days=180 - expires_in),
                                expires_at=now + timedelta(days=expires_in), **extra))
        session.commit()

    cert(demo.agent, 100)                                     # 有效
    cert(demo.newhire, 10)                                    # 30天内到期
    cert(c0, -5)                                              # 已过期
    cert(c1, 20, revoked_at=now - timedelta(days=1))          # replaced by the next one …
    cert(c1, 50, recert_flagged_at=now)                       # … which is flagged: 待重新认证
    counts = {c.status: c.people for c in
              an.certification_status(session=session, actor=demo.trainer, filters=ALL, now=now)}
    # Five learners (agent, new hire, c0–c2); c2 holds nothing.
    assert counts == {"有效": 1, "30天内到期": 1, "已过期": 1, "待重新认证": 1, "未取得": 1}
    calendar = an.expiry_calendar(session=session, actor=demo.trainer, filters=ALL, now=now)
    # Unrevoked and not yet expired, by China-local expiry day (04:00 UTC = 12:00 in China).
    assert [(e.day, e.certificates) for e in calendar] == [
        (date(2026, 12, 3), 1), (date(2027, 1, 12), 1), (date(2027, 3, 3), 1)]
    window = an.Filters(start=date(2026, 11, 1), end=date(2026, 11, 30))
    inside = an.expiry_calendar(session=session, actor=demo.trainer, filters=window, now=now)
    assert [e.day for e in inside] == [date(2026, 11, 18)]  # the expired one, inside an explicit window


def test_uncovered_questions_and_safe_export(session: Session, demo: Demo) -> None:
    script = session.exec(select(Script)).first()
    assert script is not None
    formula = '=HYPERLINK("http://x")'
    for text, freq, extra in [("能送到村里吗", 30, {}), (formula, 20, {"category": "发票"}),
                              ("什么时候发货", 50, {"covered_by_script_id": script.id}),
                              ("隐藏的问题", 90, {"hidden": True})]:
        session.add(MinedQuestion(question=text, frequency=freq, examples=[], context=[], agent_replies=[],
                                  **extra))
    session.commit()
    found = an.uncovered_questions(session=session, actor=demo.trainer, filters=ALL)
    assert [(q.question, q.frequency) for q in found] == [("能送到村里吗", 30), (formula, 20)]
    invoice = an.uncovered_questions(session=session, actor=demo.trainer, filters=an.Filters(category="发票"))
    assert [q.frequency for q in invoice] == [20]
    frame = pd.DataFrame([{"问题": q.question, "频次": q.frequency} for q in found])
    csv = chart_data_bytes(frame, "csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in csv and "\n=HYPERLINK" not in csv


def test_agents_are_refused_team_analytics(session: Session, demo: Demo) -> None:
    for name, query in an.QUERIES.items():
        for user in (demo.agent, demo.newhire):
            with pytest.raises(PermissionDenied):
                query(session, user)
        assert query(session, demo.trainer) is not None, name


def test_learner_sees_only_own_progress(session: Session, demo: Demo) -> None:
    paper_id = publish(session, demo.trainer, "物流知识", scenario=False, objective=2)
    for user, right in ((demo.agent, False), (demo.newhire, True)):
        entry = next(e for e in exams.my_exams(session=session, actor=user) if e.paper_id == paper_id)
        attempt = exams.start_attempt(session=session, actor=user, assignment_id=entry.assignment_id)
        view = exams.open_attempt(session=session, actor=user, attempt_id=attempt.id or 0)
        for question in view.questions:
            item = session.get(KnowledgeItem, question.knowledge_item_id)
            assert item is not None
            choice = item.answer if right or question.position == 2 else "Z"
            answering.save_answer(session=session, actor=user, attempt_id=attempt.id or 0,
                                  slot_id=question.slot_id, choice=choice, elapsed_seconds=10)
        submission.submit_attempt(session=session, actor=user, attempt_id=attempt.id or 0)

    mine = an.my_scores(session=session, actor=demo.agent, filters=ALL)
    agent_attempts = {a.id for a in session.exec(select(Attempt).where(Attempt.user_id == demo.agent.id))}
    assert [s.attempt_id for s in mine] == sorted(agent_attempts) and mine[0].score == pytest.approx(0.5)
    assert [s.score for s in an.my_scores(session=session, actor=demo.newhire, filters=ALL)] == [1.0]
    progress = an.my_mistake_progress(session=session, actor=demo.agent, filters=ALL)
    assert (progress.open_total, progress.practised_open, progress.practice_weeks) == (1, 0, [])
    [wrong] = mistakes(session=session, actor=demo.agent)
    practise(session=session, actor=demo.agent, key=wrong.key, choice="Z")
    progress = an.my_mistake_progress(session=session, actor=demo.agent, filters=ALL)
    assert progress.practised_open == 1 and sum(w.answers for w in progress.practice_weeks) == 1
    assert an.my_mistake_progress(session=session, actor=demo.newhire, filters=ALL).open_total == 0
    assert an.my_typing_speed(session=session, actor=demo.agent, filters=ALL) == []  # choices only, no typing


def test_my_certificates_next_expiry_and_missing(session: Session, demo: Demo) -> None:
    now = utcnow()
    for name, days in (("上岗认证", 40), ("售后认证", 10), ("发票认证", -3)):
        programme = Certification(name=name, required_for_duty=True)
        session.add(programme)
        session.commit()
        session.add(Certificate(certification_id=programme.id or 0, user_id=demo.agent.id or 0,
                                issued_at=now - timedelta(days=100), expires_at=now + timedelta(days=days),
                                number=f"HS-{name}"))
        session.add(Certificate(certification_id=programme.id or 0, user_id=demo.newhire.id or 0,
                                issued_at=now, expires_at=now + timedelta(days=1)))
    session.commit()
    mine = an.my_certificates(session=session, actor=demo.agent, filters=ALL, now=now)
    assert sorted(c.number for c in mine.certificates) == ["HS-上岗认证", "HS-发票认证", "HS-售后认证"]
    assert mine.next_expiring is not None and mine.next_expiring.programme == "售后认证"
    assert mine.missing == ["发票认证"]  # expired and required for duty


def test_demo_history_fills_every_team_figure(session: Session, demo: Demo) -> None:
    added = seed_demo_history(session=session)
    assert added["attempts"] > 20 and added["certificates"] > 3
    assert seed_demo_history(session=session) == {}  # once only
    for name, query in an.QUERIES.items():
        assert query(session, demo.trainer), f"demo history leaves {name} empty"
    items = an.item_analysis(session=session, actor=demo.trainer, filters=ALL)
    assert any(i.needs_review for i in items)
    assert any(i.discrimination is not None and i.discrimination > 0.3 for i in items)
    statuses = {c.status for c in an.certification_status(session=session, actor=demo.trainer, filters=ALL)}
    assert {"有效", "已过期"} <= statuses
    assert len(an.ramp_up(session=session, actor=demo.trainer, filters=ALL)) >= 6
    agreement = an.reviewer_agreement(session=session, actor=demo.trainer, filters=ALL)
    assert len(agreement) >= 4 and all(w.alpha is not None for w in agreement)
    # The SQL sums give the alpha review_stats computes from every pair of scores.
    by_week: dict[date, dict[tuple[int, int], float]] = defaultdict(dict)
    for answer_id, reviewer_id, score, submitted in session.exec(
            select(Review.answer_id, Review.reviewer_id, Review.score, Attempt.submitted_at)
            .join(Answer, col(Answer.id) == col(Review.answer_id))
            .join(Attempt, col(Attempt.id) == col(Answer.attempt_id))):
        assert submitted is not None
        day = team_date(submitted)
        by_week[day - timedelta(days=day.weekday())][(answer_id, reviewer_id)] = score
    assert [w.week for w in agreement] == sorted(by_week)
    pairwise = [krippendorff_alpha(by_week[w.week]) for w in agreement]
    assert [w.alpha for w in agreement] == pytest.approx(pairwise)
    for learner in (demo.agent, demo.newhire):
        assert an.my_scores(session=session, actor=learner, filters=ALL)
        assert an.my_typing_speed(session=session, actor=learner, filters=ALL)
    assert an.my_certificates(session=session, actor=demo.agent, filters=ALL).next_expiring is not None
    # The README's new hire has not reached the 上岗 exam yet: no certificate, the gate shows.
    assert an.my_certificates(session=session, actor=demo.newhire, filters=ALL).missing == ["上岗认证"]
