"""Exam figures for trainers: pass rates, score distributions, item analysis, ramp-up of new hires.

Item analysis and ramp-up are served from the figures filed at release (``analytics.figures``);
``item_analysis_from_answers`` and ``ramp_up_from_answers`` here compute the same from every
answer, the reference those figures must reproduce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from training.analytics.base import (
    EPSILON,
    LEARNER_ROLES,
    Filters,
    fetch,
    from_attempts,
    item_category,
    learner_attempt_conditions,
    released_attempt_conditions,
    weeks_between,
    within_period,
)
from training.auth.permissions import STAFF, require_role
from training.models import Answer, Attempt, AttemptStatus, ExamItem, ExamPaper, User

#: Score bins of the distribution: 0 = [0, 10 %), …, 9 = [90 %, 100 %].
SCORE_BINS = 10
#: Items discriminating less than this (item–total correlation) deserve a trainer's look.
LOW_DISCRIMINATION = 0.2
#: Fewer answers than this give no discrimination figure (a correlation of two points is noise).
MIN_ANSWERS_FOR_DISCRIMINATION = 4
#: Ramp-up follows people over their first weeks after joining.
RAMP_WEEKS = 16


@dataclass(frozen=True)
class PaperPassRate:
    """Released sittings of one paper and how many reached its pass mark."""

    paper_id: int
    title: str
    pass_mark: float
    sittings: int
    passed: int
    mean_score: float

    @property
    def pass_rate(self) -> float:
        """Share of sittings that passed."""
        return self.passed / self.sittings if self.sittings else 0.0


def pass_rates(*, session: Session, actor: User | None, filters: Filters) -> list[PaperPassRate]:
    """Pass rate and mean score per paper over released sittings (staff only)."""
    require_role(actor, *STAFF)
    passed = func.sum(case((col(Attempt.score) >= col(ExamPaper.pass_mark) - EPSILON, 1), else_=0))
    query = from_attempts(sa_select(col(ExamPaper.id), col(ExamPaper.title), col(ExamPaper.pass_mark),
                                    func.count(col(Attempt.id)), passed, func.avg(col(Attempt.score))))
    rows = fetch(session=session, query=query.where(*released_attempt_conditions(filters))
                 .group_by(col(ExamPaper.id), col(ExamPaper.title), col(ExamPaper.pass_mark))
                 .order_by(col(ExamPaper.id)))
    return [PaperPassRate(int(pid), title, float(mark), int(n), int(ok or 0), float(mean or 0.0))
            for pid, title, mark, n, ok, mean in rows]


@dataclass(frozen=True)
class ScoreBin:
    """How many released sittings of a paper scored within one 10 % band."""

    paper_id: int
    title: str
    bin: int  # 0 … SCORE_BINS - 1
    sittings: int

    @property
    def label(self) -> str:
        """The band as trainers read it, e.g. 80–90%."""
        low = self.bin * 100 // SCORE_BINS
        return f"{low}–{low + 100 // SCORE_BINS}%"


def score_distribution(*, session: Session, actor: User | None, filters: Filters) -> list[ScoreBin]:
    """Sittings per paper and 10 % score band, empty bands included as 0 (staff only).

    A full score falls in the top band. Every paper with a released sitting gets all
    ``SCORE_BINS`` bands, so a histogram shows its gaps instead of closing them up.
    """
    require_role(actor, *STAFF)
    band = case(*[(col(Attempt.score) >= b / SCORE_BINS - EPSILON, b) for b in range(SCORE_BINS - 1, 0, -1)],
                else_=0)
    # Bands computed in a subquery, then grouped by name: PostgreSQL refuses to match a GROUP BY
    # expression whose bound parameters differ from the select list's.
    banded = (
        from_attempts(sa_select(col(ExamPaper.id).label("paper_id"), col(ExamPaper.title).label("title"),
                                band.label("band")))
        .where(*released_attempt_conditions(filters))
        .subquery()
    )
    rows = fetch(session=session,
                 query=sa_select(banded.c.paper_id, banded.c.title, banded.c.band, func.count())
                 .group_by(banded.c.paper_id, banded.c.title, banded.c.band)
                 .order_by(banded.c.paper_id, banded.c.band))
    counts = {(int(pid), int(b)): int(n) for pid, _, b, n in rows}
    titles = {int(pid): title for pid, title, _, _ in rows}
    return [ScoreBin(pid, title, b, counts.get((pid, b), 0)) for pid, title in titles.items()
            for b in range(SCORE_BINS)]


@dataclass(frozen=True)
class ItemStat:
    """Item analysis of one paper slot: difficulty and discrimination."""

    item_id: int
    paper_id: int
    paper_title: str
    position: int
    prompt: str
    kind: str
    category: str | None
    answers: int
    difficulty: float  # mean score share: 1.0 = everyone right (an easy item)
    discrimination: float | None  # item–total correlation; None if undefined

    @property
    def needs_review(self) -> bool:
        """Low or negative discrimination: strong and weak candidates do about as well."""
        return self.discrimination is not None and self.discrimination < LOW_DISCRIMINATION


def correlation(n: int, sx: float, sy: float, sxy: float, sxx: float, syy: float) -> float | None:
    """Pearson correlation from the sums SQL aggregated; None when either side has no spread.

    With right/wrong items (x in {0, 1}) this is the point-biserial correlation.
    """
    cov = n * sxy - sx * sy
    var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
    if var_x <= EPSILON * n * n or var_y <= EPSILON * n * n:
        return None
    return cov / math.sqrt(var_x * var_y)


def item_analysis_from_answers(*, session: Session, actor: User | None, filters: Filters) -> list[ItemStat]:
    """``item_analysis`` computed from every answer, without the stored figures (the reference).

    What the stored figures must reproduce (tests compare the two); it reads all answers.

    Discrimination is the item–total correlation: Pearson's r between the answer's score share
    and the sitting's total score (point-biserial for right/wrong items; the total includes the
    item, uncorrected). SQL returns per slot the count and the sums Σx, Σy, Σxy, Σx², Σy²; only
    the final formula runs in Python.
    """
    require_role(actor, *STAFF)
    x, y = col(Answer.score), col(Attempt.score)
    # Sums per slot first (answers joined only to their attempt and candidate), labels after:
    # about three times faster on PostgreSQL than grouping the fully joined rows. count(*), not
    # count(answer.id): one column less per answer, ~10 % on 2M answers (bench/analytics_pg.py).
    sums = (
        sa_select(col(Answer.item_id).label("item_id"), func.count().label("n"),
                  func.sum(x).label("sx"), func.sum(y).label("sy"), func.sum(x * y).label("sxy"),
                  func.sum(x * x).label("sxx"), func.sum(y * y).label("syy"))
        .select_from(Answer)
        .join(Attempt, col(Attempt.id) == col(Answer.attempt_id))
        .join(User, col(User.id) == col(Attempt.user_id))
        .where(*learner_attempt_conditions(filters), x.is_not(None))
        .group_by(col(Answer.item_id))
        .subquery()
    )
    # The category narrows slots directly: a slot of that category implies its paper has one.
    labels = [] if filters.category is None else [item_category() == filters.category]
    rows = fetch(session=session, query=sa_select(
        col(ExamItem.id), col(ExamPaper.id), col(ExamPaper.title), col(ExamItem.position),
        col(ExamItem.prompt), col(ExamItem.kind), item_category(), sums.c.n, sums.c.sx, sums.c.sy,
        sums.c.sxy, sums.c.sxx, sums.c.syy)
        .select_from(sums)
        .join(ExamItem, col(ExamItem.id) == sums.c.item_id)
        .join(ExamPaper, col(ExamPaper.id) == col(ExamItem.paper_id))
        .where(*labels)
        .order_by(col(ExamPaper.id), col(ExamItem.position)))
    stats = []
    for item_id, paper_id, title, position, prompt, kind, cat, n, sx, sy, sxy, sxx, syy in rows:
        n = int(n)
        r = (correlation(n, float(sx), float(sy), float(sxy), float(sxx), float(syy))
             if n >= MIN_ANSWERS_FOR_DISCRIMINATION else None)
        stats.append(ItemStat(int(item_id), int(paper_id), title, int(position), prompt, kind, cat, n,
                              float(sx) / n, r))
    return stats


@dataclass(frozen=True)
class RampWeek:
    """Learners' mean score and typing speed in one week after joining (week 0 = first week)."""

    week: int
    learners: int
    sittings: int
    mean_score: float | None
    chars_per_minute: float | None


def ramp_up_from_answers(*, session: Session, actor: User | None, filters: Filters) -> list[RampWeek]:
    """``ramp_up`` computed from every written answer, without the stored figures (the reference).

    The period filter picks people by joining date (a hiring wave); the category filter does
    not apply. Typing speed is the mean chars_per_minute of submitted written answers.
    """
    require_role(actor, *STAFF)
    week = weeks_between(col(Attempt.submitted_at), col(User.joined_at))
    people = [col(User.role).in_(LEARNER_ROLES), col(Attempt.submitted_at) >= col(User.joined_at),
              week < RAMP_WEEKS, *within_period(User.joined_at, filters)]
    if filters.cohort_id is not None:
        people.append(col(User.cohort_id) == filters.cohort_id)
    scores = fetch(session=session, query=from_attempts(sa_select(
        week.label("week"), func.count(func.distinct(col(User.id))), func.count(col(Attempt.id)),
        func.avg(col(Attempt.score))))
        .where(*people, col(Attempt.status) == AttemptStatus.SUBMITTED.value,
               col(Attempt.released_at).is_not(None), col(Attempt.score).is_not(None))
        .group_by(week))
    # Typing speed summed per attempt first, so the week is worked out per attempt, not per answer.
    typed = (
        sa_select(col(Answer.attempt_id).label("attempt_id"),
                  func.sum(col(Answer.chars_per_minute)).label("cpm"), func.count().label("n"))
        .where(col(Answer.chars_per_minute).is_not(None))
        .group_by(col(Answer.attempt_id))
        .subquery()
    )
    speeds = fetch(session=session,
                   query=sa_select(week.label("week"), func.sum(typed.c.cpm), func.sum(typed.c.n))
                   .select_from(typed)
                   .join(Attempt, col(Attempt.id) == typed.c.attempt_id)
                   .join(User, col(User.id) == col(Attempt.user_id))
                   .where(*people, col(Attempt.status) == AttemptStatus.SUBMITTED.value)
                   .group_by(week))
    speed = {int(w): float(total) / int(n) for w, total, n in speeds if n}
    by_week = {int(w): (int(p), int(n), float(m) if m is not None else None) for w, p, n, m in scores}
    return [
        RampWeek(w, *(by_week.get(w) or (0, 0, None)), speed.get(w))
        for w in sorted(set(by_week) | set(speed))
    ]
