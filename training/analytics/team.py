"""Team figures for trainers: reviewer agreement, certification status and expiries, uncovered questions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from training.analytics.base import (
    LEARNER_ROLES,
    AnySelect,
    Filters,
    as_date,
    fetch,
    from_attempts,
    item_category,
    local_day,
    local_week,
    released_attempt_conditions,
    within_period,
)
from training.auth.permissions import STAFF, require_role
from training.certification.duty import REMINDER_DAYS
from training.core.clock import team_today
from training.models import (
    Answer,
    Attempt,
    Certificate,
    Certification,
    ExamItem,
    MinedQuestion,
    Review,
    User,
    utcnow,
)

#: Without an end date the expiry calendar looks this far ahead.
EXPIRY_HORIZON_DAYS = 120
#: Status labels of a person's latest certificate of a programme, in display order.
CERT_STATUSES = ("有效", f"{REMINDER_DAYS}天内到期", "待重新认证", "已过期", "已撤销", "未取得")


def _from_certificates(query: AnySelect) -> AnySelect:
    return (query.select_from(Certificate)
            .join(Certification, col(Certification.id) == col(Certificate.certification_id))
            .join(User, col(User.id) == col(Certificate.user_id)))


@dataclass(frozen=True)
class AgreementWeek:
    """Inter-reviewer agreement over the answers of one week's sittings."""

    week: date  # Monday, China time
    answers: int  # answers with two or more reviews
    reviews: int
    alpha: float | None  # Krippendorff's alpha (interval); None when undefined


def alpha_from_sums(n: int, total: float, squares: float, observed_pairs: float) -> float | None:
    """Krippendorff's alpha (interval metric) from sums, the statistic of ``review_stats.krippendorff_alpha``.

    ``review_stats`` compares every pair of scores (an n × n matrix: gigabytes for a big team's
    week); the same alpha follows from sums the database returns:
    D_o = Σ_answers 2 (m Σx² − (Σx)²) / (m − 1) / n and D_e = 2 (n Σx² − (Σx)²) / (n (n − 1)).

    Args:
        n: pairable scores (on answers with two or more reviews).
        total: Σx over them; ``squares``: Σx².
        observed_pairs: Σ over answers of 2 (m Σx² − (Σx)²) / (m − 1).

    Returns:
        1 − D_o / D_e, or None when there are too few scores or no spread (as ``review_stats``).
    """
    if n < 2:
        return None
    expected = 2 * (n * squares - total * total) / (n * (n - 1))
    if expected <= 1e-12:
        return None
    return 1.0 - (observed_pairs / n) / expected


def reviewer_agreement(*, session: Session, actor: User | None, filters: Filters) -> list[AgreementWeek]:
    """Krippendorff's alpha per week of submission over answers reviewed twice or more (staff only).

    SQL sums the scores per answer, then per week; ``alpha_from_sums`` finishes in Python.
    """
    require_role(actor, *STAFF)
    conditions = list(released_attempt_conditions(filters))
    if filters.category is not None:
        conditions.append(item_category() == filters.category)
    score = col(Review.score)
    m = func.count()
    # Reviews summed per answer first; each answer reviewed twice or more then looks up its
    # sitting (and slot) by primary key. A plain join made PostgreSQL scan all 2M answers to
    # find 25k of them (bench/analytics_pg.py); a correlated lookup runs once per such answer.
    lookups = {"attempt_id": Answer.attempt_id}
    if filters.category is not None:
        lookups["item_id"] = Answer.item_id
    reviewed = (
        sa_select(col(Review.answer_id).label("answer_id"), m.label("m"), func.sum(score).label("sx"),
                  func.sum(score * score).label("sxx"),
                  *[sa_select(col(column)).where(col(Answer.id) == col(Review.answer_id)).scalar_subquery()
                    .label(name) for name, column in lookups.items()])
        .group_by(col(Review.answer_id))
        .having(m >= 2)
        .subquery()
    )
    query = from_attempts(sa_select(local_week(col(Attempt.submitted_at)).label("week"), reviewed.c.m,
                                    reviewed.c.sx, reviewed.c.sxx))
    query = query.join(reviewed, reviewed.c.attempt_id == col(Attempt.id))
    if filters.category is not None:
        query = query.join(ExamItem, col(ExamItem.id) == reviewed.c.item_id)
    per_answer = query.where(*conditions).subquery()
    unit = per_answer.c
    rows = fetch(session=session, query=sa_select(
        unit.week, func.count(), func.sum(unit.m), func.sum(unit.sx), func.sum(unit.sxx),
        func.sum(2.0 * (unit.m * unit.sxx - unit.sx * unit.sx) / (unit.m - 1)),
    ).group_by(unit.week).order_by(unit.week))
    return [
        AgreementWeek(as_date(w), int(answers), int(n),
                      alpha_from_sums(int(n), float(total), float(squares), float(pairs)))
        for w, answers, n, total, squares, pairs in rows
    ]


@dataclass(frozen=True)
class CertificationCount:
    """How many learners stand in one status of one programme."""

    programme: str
    status: str
    people: int


def certification_status(
    *, session: Session, actor: User | None, filters: Filters, now: datetime | None = None
) -> list[CertificationCount]:
    """Learners per programme by the status of their latest certificate, plus those without (staff only).

    Only the cohort filter applies: a status is as of now.
    """
    require_role(actor, *STAFF)
    moment = now or utcnow()
    people: list[ColumnElement[bool]] = [col(User.role).in_(LEARNER_ROLES), col(User.is_active).is_(True)]
    if filters.cohort_id is not None:
        people.append(col(User.cohort_id) == filters.cohort_id)
    latest = (
        sa_select(func.max(col(Certificate.id)))
        .group_by(col(Certificate.user_id), col(Certificate.certification_id))
    )
    status = case(
        (col(Certificate.revoked_at).is_not(None), CERT_STATUSES[4]),
        (col(Certificate.expires_at) <= moment, CERT_STATUSES[3]),
        (col(Certificate.recert_flagged_at).is_not(None), CERT_STATUSES[2]),
        (col(Certificate.expires_at) <= moment + timedelta(days=REMINDER_DAYS), CERT_STATUSES[1]),
        else_=CERT_STATUSES[0],
    )
    labelled = (
        _from_certificates(sa_select(col(Certification.name).label("programme"), status.label("status")))
        .where(col(Certificate.id).in_(latest), *people)
        .subquery()
    )
    counts = fetch(session=session, query=sa_select(labelled.c.programme, labelled.c.status, func.count())
                   .group_by(labelled.c.programme, labelled.c.status))
    result = [CertificationCount(p, s, int(n)) for p, s, n in counts]
    learners = int(fetch(session=session, query=sa_select(func.count(col(User.id))).where(*people))[0][0])
    holders = {name: int(n) for name, n in fetch(
        session=session,
        query=_from_certificates(sa_select(col(Certification.name),
                                     func.count(func.distinct(col(Certificate.user_id)))))
        .where(*people)
        .group_by(col(Certification.name)))}
    names = sa_select(col(Certification.name)).order_by(col(Certification.id))
    for (name,) in fetch(session=session, query=names):
        without = learners - holders.get(name, 0)
        if without > 0:
            result.append(CertificationCount(name, CERT_STATUSES[5], without))
    order = {s: i for i, s in enumerate(CERT_STATUSES)}
    return sorted(result, key=lambda c: (c.programme, order[c.status]))


@dataclass(frozen=True)
class ExpiryDay:
    """Certificates of one programme expiring on one local day."""

    day: date
    programme: str
    certificates: int


def expiry_calendar(
    *, session: Session, actor: User | None, filters: Filters, now: datetime | None = None
) -> list[ExpiryDay]:
    """Unrevoked certificates by expiry day (staff only).

    The period is the expiry window; without one, from today for ``EXPIRY_HORIZON_DAYS``.
    """
    require_role(actor, *STAFF)
    today = team_today(now)
    window = Filters(start=filters.start or today,
                     end=filters.end or (filters.start or today) + timedelta(days=EXPIRY_HORIZON_DAYS))
    day = local_day(col(Certificate.expires_at))
    conditions: list[ColumnElement[bool]] = [
        col(Certificate.revoked_at).is_(None), col(User.role).in_(LEARNER_ROLES),
                  *within_period(Certificate.expires_at, window)]
    if filters.cohort_id is not None:
        conditions.append(col(User.cohort_id) == filters.cohort_id)
    query = _from_certificates(sa_select(day, col(Certification.name), func.count(col(Certificate.id))))
    rows = fetch(session=session, query=query
                 .where(*conditions)
                 .group_by(day, col(Certification.name)))
    return sorted((ExpiryDay(as_date(d), name, int(n)) for d, name, n in rows),
                  key=lambda e: (e.day, e.programme))


@dataclass(frozen=True)
class UncoveredQuestion:
    """A mined customer-question cluster no script answers yet."""

    question_id: int
    question: str
    category: str
    frequency: int


def uncovered_questions(
    *, session: Session, actor: User | None, filters: Filters, limit: int = 15
) -> list[UncoveredQuestion]:
    """The most frequent visible clusters not covered by a script (staff only).

    Coverage is ``MinedQuestion.covered_by_script_id`` as ``question_bank.mark_coverage`` sets it;
    the period filter applies to the mining date.
    """
    require_role(actor, *STAFF)
    conditions: list[ColumnElement[bool]] = [
        col(MinedQuestion.covered_by_script_id).is_(None), col(MinedQuestion.hidden).is_(False),
                  *within_period(MinedQuestion.created_at, filters)]
    if filters.category is not None:
        conditions.append(col(MinedQuestion.category) == filters.category)
    rows = fetch(session=session, query=sa_select(col(MinedQuestion.id), col(MinedQuestion.question),
                                    col(MinedQuestion.category), col(MinedQuestion.frequency))
                 .where(*conditions)
                 .order_by(col(MinedQuestion.frequency).desc(), col(MinedQuestion.id))
                 .limit(limit))
    return [UncoveredQuestion(int(i), q, c, int(f)) for i, q, c, f in rows]

