"""Item analysis and ramp-up from the figures filed at release (``training.exams.sitting_figures``).

ItemFigure holds per slot the sums over released sittings, keyed by the candidate's cohort and
role at release (ItemDayFigure also by the local day and zone of submission, for a period
filter); SittingFigure the same key and the typing sums per sitting. These queries read those
small tables, then correct for the sittings whose key no longer says what the filters ask of
the person now (moved cohort, changed role, another zone) and for released sittings never
filed (rows written without the release code, e.g. by hand or from an old backup): those few
are read from their answers, so the result is what ``exams.item_analysis_from_answers`` and
``exams.ramp_up_from_answers`` compute from every answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from training.analytics.base import (
    LEARNER_ROLES,
    Filters,
    fetch,
    item_category,
    learner_attempt_conditions,
    weeks_between,
    within_period,
)
from training.analytics.exams import (
    MIN_ANSWERS_FOR_DISCRIMINATION,
    RAMP_WEEKS,
    ItemStat,
    RampWeek,
    correlation,
)
from training.auth.permissions import STAFF, require_role
from training.core import clock
from training.models import (
    Answer,
    Attempt,
    AttemptStatus,
    ExamItem,
    ExamPaper,
    ItemDayFigure,
    ItemFigure,
    SittingFigure,
    User,
)

#: Sittings per statement when the figures are corrected from answers (short IN lists).
CORRECTION_CHUNK = 500


Figure = type[ItemFigure] | type[ItemDayFigure] | type[SittingFigure]


def _dated(filters: Filters) -> bool:
    return filters.start is not None or filters.end is not None


def _filed_conditions(figure: Figure, filters: Filters) -> list[ColumnElement[bool]]:
    """The filters applied to a figure's key (the candidate as of the release)."""
    conditions: list[ColumnElement[bool]] = [col(figure.role).in_(LEARNER_ROLES)]
    if filters.cohort_id is not None:
        conditions.append(col(figure.cohort_id) == filters.cohort_id)
    if _dated(filters):
        assert figure is not ItemFigure, "ItemFigure has no day: use ItemDayFigure"
        dated: Any = figure
        conditions.append(col(dated.zone) == clock.team_zone_name())
        if filters.start is not None:
            conditions.append(col(dated.day) >= filters.start)
        if filters.end is not None:
            conditions.append(col(dated.day) <= filters.end)
    return conditions


#: Per slot: count, Σx, Σy, Σxy, Σx², Σy².
Sums = list[float]


def _fileable() -> list[ColumnElement[bool]]:
    """Sittings releasing files: submitted, released, scored (``sitting_figures.fileable``)."""
    return [col(Attempt.status) == AttemptStatus.SUBMITTED.value, col(Attempt.released_at).is_not(None),
            col(Attempt.score).is_not(None), col(Attempt.submitted_at).is_not(None)]


def _stale_sittings(session: Session, filters: Filters) -> dict[int, int]:
    """Sittings the filed sums count wrongly for these filters: attempt id → +1 (add) or -1 (take out).

    A sitting counts now when ``learner_attempt_conditions`` hold; it is in the filed sums when
    its SittingFigure key passes the same filters. The two can only differ for a filed sitting
    whose candidate's cohort or role changed since (or the team's zone, with a period), and for
    a released sitting never filed: whether there is any of those is a count, before looking.
    A filed sitting was submitted, released and scored for good, so in the zone it was filed in
    its filed day stands for its submission time: the check reads the figures and the people only.
    """
    now = case((and_(*learner_attempt_conditions(filters)), 1), else_=0)
    filed = case((and_(col(SittingFigure.attempt_id).is_not(None),
                       *_filed_conditions(SittingFigure, filters)), 1), else_=0)
    person: list[ColumnElement[bool]] = [col(User.role).in_(LEARNER_ROLES)]
    if filters.cohort_id is not None:
        person.append(col(User.cohort_id) == filters.cohort_id)
    if filters.start is not None:
        person.append(col(SittingFigure.day) >= filters.start)
    if filters.end is not None:
        person.append(col(SittingFigure.day) <= filters.end)
    counted = case((and_(*person), 1), else_=0)
    same_zone = col(SittingFigure.zone) == clock.team_zone_name()
    rows = list(fetch(session=session, query=sa_select(col(SittingFigure.attempt_id), counted - filed)
                      .join(User, col(User.id) == col(SittingFigure.user_id))
                      .where(*([same_zone] if _dated(filters) else []), counted != filed)))
    if _dated(filters):  # filed in another zone: their day says nothing now, the sitting's time does
        rows += fetch(session=session, query=sa_select(col(Attempt.id), now - filed)
                      .select_from(SittingFigure)
                      .join(User, col(User.id) == col(SittingFigure.user_id))
                      .join(Attempt, col(Attempt.id) == col(SittingFigure.attempt_id))
                      .where(~same_zone, now != filed))
    released, filed_count = fetch(session=session, query=sa_select(
        sa_select(func.count()).select_from(Attempt).where(*_fileable()).scalar_subquery(),
        sa_select(func.count()).select_from(SittingFigure).scalar_subquery()))[0]
    if int(released) != int(filed_count):
        rows += fetch(session=session, query=sa_select(col(Attempt.id), now)
                      .select_from(Attempt)
                      .join(User, col(User.id) == col(Attempt.user_id))
                      .outerjoin(SittingFigure, col(SittingFigure.attempt_id) == col(Attempt.id))
                      .where(col(SittingFigure.attempt_id).is_(None), now == 1))
    return {int(i): int(w) for i, w in rows}


def _corrections(session: Session, filters: Filters) -> dict[int, Sums]:
    """Per slot, what the filed sums miss or hold wrongly for these filters, summed from those answers."""
    weights = _stale_sittings(session, filters)
    x, y = col(Answer.score), col(Attempt.score)
    out: dict[int, Sums] = {}
    for sign in (1, -1):
        ids = sorted(i for i, w in weights.items() if w == sign)
        for start in range(0, len(ids), CORRECTION_CHUNK):
            for item_id, *sums in fetch(session=session, query=sa_select(
                    col(Answer.item_id), func.count(), func.sum(x), func.sum(y), func.sum(x * y),
                    func.sum(x * x), func.sum(y * y))
                    .select_from(Answer)
                    .join(Attempt, col(Attempt.id) == col(Answer.attempt_id))
                    .where(col(Answer.attempt_id).in_(ids[start:start + CORRECTION_CHUNK]), x.is_not(None))
                    .group_by(col(Answer.item_id))):
                total = out.setdefault(int(item_id), [0.0] * 6)
                for k, v in enumerate(sums):
                    total[k] += sign * float(v)
    return out


def _item_labels(filters: Filters) -> list[ColumnElement[bool]]:
    # The category narrows slots directly: a slot of that category implies its paper has one.
    return [] if filters.category is None else [item_category() == filters.category]


def _item_stat(row: Sequence[Any], sums: Sums) -> ItemStat | None:
    item_id, paper_id, title, position, prompt, kind, cat = row
    n = int(round(sums[0]))
    if n <= 0:
        return None
    sx, sy, sxy, sxx, syy = sums[1:]
    r = correlation(n, sx, sy, sxy, sxx, syy) if n >= MIN_ANSWERS_FOR_DISCRIMINATION else None
    return ItemStat(int(item_id), int(paper_id), title, int(position), prompt, kind, cat, n, sx / n, r)


def item_analysis(*, session: Session, actor: User | None, filters: Filters) -> list[ItemStat]:
    """Difficulty and discrimination of every paper slot over released sittings (staff only).

    Discrimination is the item–total correlation: Pearson's r between the answer's score share
    and the sitting's total score (point-biserial for right/wrong items; the total includes the
    item, uncorrected). The count and the sums Σx, Σy, Σxy, Σx², Σy² per slot come from the
    figures filed at release (``ItemFigure``: one row per slot, cohort and role instead of every
    answer; ``ItemDayFigure`` with a period), corrected for the sittings whose candidate changed
    cohort or role since (``_stale_sittings``); only the final formula runs in Python.
    """
    require_role(actor, *STAFF)
    f: Any = ItemDayFigure if _dated(filters) else ItemFigure
    sums = (
        sa_select(col(f.item_id).label("item_id"), func.sum(col(f.n)).label("n"),
                  func.sum(col(f.sx)).label("sx"), func.sum(col(f.sy)).label("sy"),
                  func.sum(col(f.sxy)).label("sxy"),
                  func.sum(col(f.sxx)).label("sxx"), func.sum(col(f.syy)).label("syy"))
        .where(*_filed_conditions(f, filters))
        .group_by(col(f.item_id))
        .subquery()
    )
    labels = [col(ExamItem.id), col(ExamPaper.id), col(ExamPaper.title), col(ExamItem.position),
              col(ExamItem.prompt), col(ExamItem.kind), item_category()]
    rows = fetch(session=session, query=sa_select(
        *labels, sums.c.n, sums.c.sx, sums.c.sy, sums.c.sxy, sums.c.sxx, sums.c.syy)
        .select_from(sums)
        .join(ExamItem, col(ExamItem.id) == sums.c.item_id)
        .join(ExamPaper, col(ExamPaper.id) == col(ExamItem.paper_id))
        .where(*_item_labels(filters)))
    found = {int(r[0]): (tuple(r[:7]), [float(v or 0.0) for v in r[7:]]) for r in rows}
    corrections = _corrections(session, filters)
    missing = sorted(set(corrections) - set(found))
    for start in range(0, len(missing), CORRECTION_CHUNK):
        for r in fetch(session=session, query=sa_select(*labels)
                       .select_from(ExamItem)
                       .join(ExamPaper, col(ExamPaper.id) == col(ExamItem.paper_id))
                       .where(col(ExamItem.id).in_(missing[start:start + CORRECTION_CHUNK]),
                              *_item_labels(filters))):
            found[int(r[0])] = (tuple(r), [0.0] * 6)
    stats = []
    for item_id, (label, total) in found.items():
        extra = corrections.get(item_id)
        stat = _item_stat(label, [a + b for a, b in zip(total, extra, strict=True)] if extra else total)
        if stat is not None:
            stats.append(stat)
    return sorted(stats, key=lambda s: (s.paper_id, s.position))


def ramp_up(*, session: Session, actor: User | None, filters: Filters) -> list[RampWeek]:
    """Mean released score and typing speed by whole weeks since joining (staff only).

    The period filter picks people by joining date (a hiring wave); the category filter does
    not apply. Typing speed is the mean chars_per_minute of submitted written answers: summed
    per sitting when it was released (``SittingFigure``), read from the answers of submitted
    sittings not filed (not released yet). One pass over the sittings gives both, summed per
    person and week first (no count(DISTINCT …), which sorts).
    """
    require_role(actor, *STAFF)
    week = weeks_between(col(Attempt.submitted_at), col(User.joined_at))
    people = [col(User.role).in_(LEARNER_ROLES), col(Attempt.submitted_at) >= col(User.joined_at),
              week < RAMP_WEEKS, *within_period(User.joined_at, filters)]
    if filters.cohort_id is not None:
        people.append(col(User.cohort_id) == filters.cohort_id)
    released = and_(col(Attempt.released_at).is_not(None), col(Attempt.score).is_not(None))
    unfiled = col(SittingFigure.attempt_id).is_(None)
    per_person = (
        sa_select(week.label("week"), func.sum(case((released, 1), else_=0)).label("n"),
                  func.sum(case((released, col(Attempt.score)))).label("total"),
                  func.sum(col(SittingFigure.typed_cpm)).label("cpm"),
                  func.sum(col(SittingFigure.typed_answers)).label("typed"),
                  func.sum(case((unfiled, 1), else_=0)).label("unfiled"))
        .select_from(Attempt)
        .join(User, col(User.id) == col(Attempt.user_id))
        .outerjoin(SittingFigure, col(SittingFigure.attempt_id) == col(Attempt.id))
        .where(*people, col(Attempt.status) == AttemptStatus.SUBMITTED.value)
        .group_by(week, col(User.id))
        .subquery()
    )
    p = per_person.c
    rows = fetch(session=session, query=sa_select(
        p.week, func.sum(case((p.n > 0, 1), else_=0)), func.sum(p.n), func.sum(p.total), func.sum(p.cpm),
        func.sum(p.typed), func.sum(p.unfiled)).group_by(p.week))
    by_week: dict[int, tuple[int, int, float | None]] = {}
    typed: dict[int, list[float]] = {}
    others = False
    for w, learners, n, total, cpm, count, not_filed in rows:
        if n:
            by_week[int(w)] = (int(learners), int(n), float(total) / int(n))
        typed[int(w)] = [float(cpm or 0.0), float(count or 0)]
        others = others or bool(not_filed)
    if others:  # submitted, not released (or never filed): their written answers, by sitting
        sittings = fetch(session=session, query=sa_select(col(Attempt.id), week)
                         .select_from(Attempt)
                         .join(User, col(User.id) == col(Attempt.user_id))
                         .outerjoin(SittingFigure, col(SittingFigure.attempt_id) == col(Attempt.id))
                         .where(*people, col(Attempt.status) == AttemptStatus.SUBMITTED.value, unfiled))
        weeks = {int(i): int(w) for i, w in sittings}
        ids = sorted(weeks)
        for start in range(0, len(ids), CORRECTION_CHUNK):
            for attempt_id, cpm, count in fetch(session=session, query=sa_select(
                    col(Answer.attempt_id), func.sum(col(Answer.chars_per_minute)), func.count())
                    .where(col(Answer.attempt_id).in_(ids[start:start + CORRECTION_CHUNK]),
                           col(Answer.chars_per_minute).is_not(None))
                    .group_by(col(Answer.attempt_id))):
                sums = typed.setdefault(weeks[int(attempt_id)], [0.0, 0.0])
                sums[0] += float(cpm)
                sums[1] += int(count)
    speed = {w: total / n for w, (total, n) in typed.items() if n}
    return [
        RampWeek(w, *(by_week.get(w) or (0, 0, None)), speed.get(w))
        for w in sorted(set(by_week) | set(speed))
    ]
