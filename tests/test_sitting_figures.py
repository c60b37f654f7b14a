"""Per-sitting figures filed at release (issue 21): the dashboards read them and give what every answer gives.

``item_analysis`` / ``ramp_up`` read ``itemfigure``, ``itemdayfigure`` and ``sittingfigure``;
``item_analysis_from_answers`` / ``ramp_up_from_answers`` are the computation from every answer
they replace. On a small world released through ``release_attempts`` (plus unreleased sittings,
a hand-made released sitting never filed, a candidate who changes cohort, one who changes role,
a change of the team's zone) the two agree for every filter, on SQLite and PostgreSQL, and
migration 0012 backfills the same figures releasing filed.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from alembic import command
from exam_world import Demo, demo_people, knowledge, more_candidates, publish
from sqlalchemy import text
from sqlmodel import Session, col, select

from training.analytics import exams as reference
from training.analytics import figures as ax
from training.analytics.base import Filters
from training.core.clock import team_today
from training.core.config import get_settings
from training.core.migrate import alembic_config
from training.exams import answering, papers, submission
from training.exams import attempts as exams
from training.exams.release import release_attempts
from training.exams.sitting_figures import file_sittings, refile_moved
from training.models import (
    Answer,
    Attempt,
    AttemptStatus,
    Cohort,
    ExamAssignment,
    ExamItem,
    ItemDayFigure,
    ItemFigure,
    Role,
    SittingFigure,
    User,
    utcnow,
)

pytestmark = pytest.mark.db

REPLIES = ["亲，您好！付款后48小时内发货", "亲亲，退款会在1到3个工作日原路退回", "好的", "",
           "您好，本店支持七天无理由退换，请在订单页申请售后", "亲，产品整机保修一年"]


def _admin(session: Session) -> User:
    return session.exec(select(User).where(User.role == Role.ADMIN.value)).one()


def _sit(session: Session, user: User, paper_id: int, n: int) -> Attempt:
    """Sit the paper: objective answers partly right, scenario reply ``REPLIES[n]`` typed at varying speed."""
    entry = next(e for e in exams.my_exams(session=session, actor=user) if e.paper_id == paper_id)
    attempt = exams.start_attempt(session=session, actor=user, assignment_id=entry.assignment_id)
    view = exams.open_attempt(session=session, actor=user, attempt_id=attempt.id or 0)
    for k, question in enumerate(view.questions):
        if question.kind == papers.SCENARIO:
            answering.save_answer(session=session, actor=user, attempt_id=attempt.id or 0,
                                  slot_id=question.slot_id, text=REPLIES[n % len(REPLIES)],
                                  elapsed_seconds=10 + 7 * n)
        else:
            item = next(i for i in knowledge(session, 10) if i.id == question.knowledge_item_id)
            right = (n + k) % 3 != 0
            answering.save_answer(session=session, actor=user, attempt_id=attempt.id or 0,
                                  slot_id=question.slot_id, choice=item.answer if right else "Z",
                                  elapsed_seconds=10)
    submission.submit_attempt(session=session, actor=user, attempt_id=attempt.id or 0)
    found = session.get(Attempt, attempt.id)
    assert found is not None
    return found


def _hand_made(session: Session, user: User, paper_id: int) -> Attempt:
    """A released sitting written straight into the tables (as an old backup would hold): never filed."""
    assignment = session.exec(select(ExamAssignment).where(ExamAssignment.paper_id == paper_id)).first()
    slots = session.exec(select(ExamItem).where(ExamItem.paper_id == paper_id)
                         .order_by(col(ExamItem.position))).all()
    at = utcnow() - timedelta(days=9)
    scores = [0.25 * (k % 5) for k in range(len(slots))]
    attempt = Attempt(assignment_id=assignment.id or 0 if assignment else 0, user_id=user.id or 0, number=9,
                      started_at=at - timedelta(minutes=20), deadline_at=at + timedelta(minutes=40),
                      submitted_at=at, status=AttemptStatus.SUBMITTED.value,
                      score=sum(scores) / len(scores), released_at=at + timedelta(hours=1))
    session.add(attempt)
    session.flush()
    for slot, score in zip(slots, scores, strict=True):
        session.add(Answer(attempt_id=attempt.id or 0, item_id=slot.id or 0, score=score,
                           text="亲，已为您处理" if slot.kind == papers.SCENARIO else "",
                           chars_per_minute=42.0 if slot.kind == papers.SCENARIO else None))
    session.commit()
    return attempt


@pytest.fixture
def world(session: Session) -> Demo:
    """Two papers sat by eight people; most sittings released through release_attempts."""
    demo = demo_people(session)
    people = [demo.agent, demo.newhire, *more_candidates(session, _admin(session), 6)]
    first = publish(session, demo.trainer, "情景加知识", scenario=True, objective=4)
    second = publish(session, demo.trainer, "知识小测", scenario=False, objective=5)
    sittings = [_sit(session, person, paper, n)
                for paper in (first, second) for n, person in enumerate(people)]
    release_attempts(session=session, attempts=sittings[:5], embedder=None)  # scenario: no encoder
    # Sittings 5–7 stay submitted, not released: ramp-up's typing speed counts them. The
    # objective-only paper was released (and filed) at submission.
    _hand_made(session, people[2], second)
    now = utcnow()
    for weeks, person in enumerate(people):  # joined 0–7 weeks ago: ramp-up has several weeks
        person.joined_at = now - timedelta(weeks=weeks, hours=1)
        session.add(person)
    session.commit()
    return demo


def _filters(session: Session) -> list[Filters]:
    cohort = session.exec(select(Cohort).order_by(col(Cohort.id))).first()
    today = team_today()
    return [Filters(), Filters(cohort_id=cohort.id if cohort else None), Filters(category="物流配送"),
            Filters(start=today, end=today),
            Filters(start=today - timedelta(days=30), end=today - timedelta(days=1)),
            Filters(start=date(2020, 1, 1))]


def _same(session: Session, actor: User) -> int:
    """Assert the figures give what every answer gives, for every filter; returns the slots compared."""
    compared = 0
    for f in _filters(session):
        new = ax.item_analysis(session=session, actor=actor, filters=f)
        old = reference.item_analysis_from_answers(session=session, actor=actor, filters=f)
        def label(s: reference.ItemStat) -> tuple[object, ...]:
            return s.item_id, s.paper_id, s.position, s.prompt, s.kind, s.category, s.answers

        assert [label(s) for s in new] == [label(s) for s in old], f
        for a, b in zip(new, old, strict=True):
            assert math.isclose(a.difficulty, b.difficulty, abs_tol=1e-9), f
            assert (a.discrimination is None) == (b.discrimination is None), f
            assert a.discrimination is None or math.isclose(a.discrimination, b.discrimination or 0.0,
                                                            abs_tol=1e-9), f
        compared += len(new)
        ramp = ax.ramp_up(session=session, actor=actor, filters=f)
        before = reference.ramp_up_from_answers(session=session, actor=actor, filters=f)
        assert [(w.week, w.learners, w.sittings) for w in ramp] == [(w.week, w.learners, w.sittings)
                                                                     for w in before], f
        for w, v in zip(ramp, before, strict=True):
            for x, y in ((w.mean_score, v.mean_score), (w.chars_per_minute, v.chars_per_minute)):
                assert (x is None) == (y is None) and math.isclose(x or 0.0, y or 0.0, abs_tol=1e-9), f
    return compared


def _figures(session: Session) -> tuple[list[tuple[object, ...]], ...]:
    def rows(model: type, key: list[str]) -> list[tuple[object, ...]]:
        found: list[object] = list(session.exec(select(model)).all())
        return sorted((tuple(getattr(r, k) for k in key) for r in found), key=repr)

    sums = ["n", "sx", "sy", "sxy", "sxx", "syy"]
    rounded = [tuple(round(v, 9) if isinstance(v, float) else v for v in r)
               for r in rows(ItemFigure, ["item_id", "cohort_id", "role", *sums])]
    by_day = [tuple(round(v, 9) if isinstance(v, float) else v for v in r)
              for r in rows(ItemDayFigure, ["item_id", "cohort_id", "role", "day", "zone", *sums])]
    sittings = [tuple(round(v, 9) if isinstance(v, float) else v for v in r)
                for r in rows(SittingFigure, ["attempt_id", "user_id", "cohort_id", "role", "day", "zone",
                                              "typed_answers", "typed_cpm"])]
    return rounded, by_day, sittings


def test_release_files_every_released_sitting_once(session: Session, world: Demo) -> None:
    filed = session.exec(select(SittingFigure)).all()
    released = session.exec(select(Attempt).where(col(Attempt.released_at).is_not(None))).all()
    assert len(filed) == len(released) - 1 >= 8  # all but the hand-made sitting
    assert {f.attempt_id for f in filed} == {a.id for a in released if a.number != 9}
    filed_ids = {f.attempt_id for f in filed}
    scored = session.exec(select(Answer).where(col(Answer.attempt_id).in_(filed_ids),
                                               col(Answer.score).is_not(None))).all()
    assert sum(f.n for f in session.exec(select(ItemFigure)).all()) == len(scored)
    assert sum(f.n for f in session.exec(select(ItemDayFigure)).all()) == len(scored)
    typed = [a for a in session.exec(select(Answer).where(col(Answer.attempt_id).in_(filed_ids))).all()
             if a.chars_per_minute is not None]
    assert sum(f.typed_answers for f in filed) == len(typed) > 0
    assert math.isclose(sum(f.typed_cpm for f in filed), sum(a.chars_per_minute or 0.0 for a in typed))
    assert {f.zone for f in filed} == {get_settings().timezone}


def test_figures_give_what_every_answer_gives(session: Session, world: Demo) -> None:
    assert _same(session, world.trainer) > 0


def test_moved_cohort_changed_role_and_zone_are_corrected_then_refiled(
        session: Session, world: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    hand_made = session.exec(select(Attempt).where(Attempt.number == 9)).one()  # never filed
    other = Cohort(name="二班")
    session.add(other)
    session.commit()
    world.agent.cohort_id = other.id  # moved after their results were released
    world.newhire.role = Role.TRAINER.value  # promoted: no longer counted as a learner
    session.add(world.agent)
    session.add(world.newhire)
    session.commit()
    _same(session, world.trainer)
    moved = Filters(cohort_id=other.id)
    assert ax.item_analysis(session=session, actor=world.trainer, filters=moved)  # from the corrections only
    assert ax._stale_sittings(session, moved)
    monkeypatch.setenv("HUASHU_TIMEZONE", "America/Los_Angeles")  # days filed in Shanghai no longer match
    get_settings.cache_clear()
    try:
        _same(session, world.trainer)
        # Refiled under their current cohort, role and zone: nothing left to correct, same figures.
        assert refile_moved(session=session) == len(session.exec(select(SittingFigure)).all())
        session.commit()
        assert {f.zone for f in session.exec(select(SittingFigure)).all()} == {"America/Los_Angeles"}
        for f in _filters(session):
            assert set(ax._stale_sittings(session, f).items()) <= {(hand_made.id, 1)}
        _same(session, world.trainer)
    finally:
        monkeypatch.delenv("HUASHU_TIMEZONE")
        get_settings.cache_clear()


def test_migration_backfills_what_release_filed(db_url: str, session: Session, world: Demo) -> None:
    # The hand-made sitting: filed the way the backfill files every released sitting.
    hand_made = session.exec(select(Attempt).where(Attempt.number == 9)).one()
    file_sittings(session=session, attempts=[hand_made])
    session.commit()
    filed = _figures(session)
    session.close()
    command.downgrade(alembic_config(db_url), "0011")
    with session.bind.connect() as conn:  # type: ignore[union-attr]
        tables = {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master" if conn.dialect.name == "sqlite"
            else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()}
    assert "sittingfigure" not in tables and "itemfigure" not in tables
    command.upgrade(alembic_config(db_url), "head")
    assert _figures(session) == filed
    _same(session, world.trainer)
