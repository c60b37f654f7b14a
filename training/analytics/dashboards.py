"""Analytics for the 训练看板 and 学习进度 pages: aggregation in SQL, one module per audience.

Team figures (staff only) live in ``analytics_exams`` (item analysis and ramp-up in
``analytics_figures``, from the figures filed at release) and ``analytics_team``; a learner's
own figures in ``analytics_learner``. ``QUERIES`` names every team aggregation with default
filters, so a benchmark can time them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from training.analytics.base import LEARNER_ROLES, AnalyticsError, Filters
from training.analytics.exams import (
    ItemStat,
    PaperPassRate,
    RampWeek,
    ScoreBin,
    pass_rates,
    score_distribution,
)
from training.analytics.figures import item_analysis, ramp_up
from training.analytics.learner import (
    MistakeProgress,
    MyCertificate,
    MyCertificates,
    MyScore,
    MySpeed,
    my_certificates,
    my_mistake_progress,
    my_scores,
    my_typing_speed,
)
from training.analytics.team import (
    CERT_STATUSES,
    AgreementWeek,
    CertificationCount,
    ExpiryDay,
    UncoveredQuestion,
    certification_status,
    expiry_calendar,
    reviewer_agreement,
    uncovered_questions,
)
from training.models import User


@dataclass(frozen=True)
class TeamDashboard:
    """Every figure of the 训练看板 for one set of filters."""

    pass_rates: list[PaperPassRate]
    score_bins: list[ScoreBin]
    items: list[ItemStat]
    agreement: list[AgreementWeek]
    certification: list[CertificationCount]
    expiries: list[ExpiryDay]
    ramp: list[RampWeek]
    uncovered: list[UncoveredQuestion]


def team_dashboard(*, session: Session, actor: User | None, filters: Filters) -> TeamDashboard:
    """All team figures at once (staff only; each query checks the role)."""
    s, a, f = session, actor, filters
    return TeamDashboard(
        pass_rates(session=s, actor=a, filters=f), score_distribution(session=s, actor=a, filters=f),
        item_analysis(session=s, actor=a, filters=f), reviewer_agreement(session=s, actor=a, filters=f),
        certification_status(session=s, actor=a, filters=f), expiry_calendar(session=s, actor=a, filters=f),
        ramp_up(session=s, actor=a, filters=f), uncovered_questions(session=s, actor=a, filters=f),
    )


@dataclass(frozen=True)
class LearnerProgress:
    """Every figure of 学习进度 for the acting learner."""

    scores: list[MyScore]
    speeds: list[MySpeed]
    mistakes: MistakeProgress
    certificates: MyCertificates


def learner_progress(*, session: Session, actor: User | None, filters: Filters) -> LearnerProgress:
    """The actor's own scores, typing speed, 错题本 and certificates."""
    s, a, f = session, actor, filters
    return LearnerProgress(
        my_scores(session=s, actor=a, filters=f), my_typing_speed(session=s, actor=a, filters=f),
        my_mistake_progress(session=s, actor=a, filters=f), my_certificates(session=s, actor=a, filters=f),
    )


QUERIES: dict[str, Callable[[Session, User], object]] = {
    "通过率 pass_rates": lambda s, u: pass_rates(session=s, actor=u, filters=Filters()),
    "成绩分布 score_distribution": lambda s, u: score_distribution(session=s, actor=u, filters=Filters()),
    "题目分析 item_analysis": lambda s, u: item_analysis(session=s, actor=u, filters=Filters()),
    "评阅一致性 reviewer_agreement": lambda s, u: reviewer_agreement(session=s, actor=u, filters=Filters()),
    "认证状态 certification_status": lambda s, u: certification_status(session=s, actor=u, filters=Filters()),
    "到期日历 expiry_calendar": lambda s, u: expiry_calendar(session=s, actor=u, filters=Filters()),
    "新人成长 ramp_up": lambda s, u: ramp_up(session=s, actor=u, filters=Filters()),
    "未覆盖问题 uncovered_questions": lambda s, u: uncovered_questions(session=s, actor=u, filters=Filters()),
}

__all__ = [
    "CERT_STATUSES",
    "LEARNER_ROLES",
    "QUERIES",
    "AgreementWeek",
    "AnalyticsError",
    "CertificationCount",
    "ExpiryDay",
    "Filters",
    "ItemStat",
    "LearnerProgress",
    "MistakeProgress",
    "MyCertificate",
    "MyCertificates",
    "MyScore",
    "MySpeed",
    "PaperPassRate",
    "RampWeek",
    "ScoreBin",
    "TeamDashboard",
    "UncoveredQuestion",
    "certification_status",
    "expiry_calendar",
    "item_analysis",
    "learner_progress",
    "my_certificates",
    "my_mistake_progress",
    "my_scores",
    "my_typing_speed",
    "pass_rates",
    "ramp_up",
    "reviewer_agreement",
    "score_distribution",
    "team_dashboard",
    "uncovered_questions",
]
