"""Reviewer statistics (normalisation, Krippendorff's alpha, disagreements) and rubric scoring."""

from __future__ import annotations

import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, func, select

from training.auth.permissions import PermissionDenied
from training.exams.review_stats import disagreements, krippendorff_alpha, normalise_by_reviewer
from training.exams.rubrics import (
    DEFAULT_AUTO_FAIL,
    DEFAULT_CRITERIA,
    Criterion,
    RubricError,
    RubricView,
    default_rubric,
    list_rubrics,
    rubric_score,
    save_rubric,
)
from training.models import AuditLog, Rubric

# Two reviewers, three answers: a (1.0, 1.0), b (0.0, 0.5), c (0.5, 0.5).
# Interval alpha = 1 - D_o / D_e over the n = 6 pairable values.
#   D_o = (1/n) * sum_u 2 * (x - y)^2 / (m_u - 1) = (0 + 2 * 0.25 + 0) / 6 = 1/12
#   D_e = sum over ordered pairs of all six values of (v_i - v_j)^2 / (n (n - 1)):
#         unordered pairs: 1-0 twice (2 x 1) + 1-0.5 six times (6 x 0.25) + 0-0.5 three times (3 x 0.25)
#         = 2 + 1.5 + 0.75 = 4.25, ordered 8.5, so D_e = 8.5 / 30 = 17/60
#   alpha = 1 - (1/12) / (17/60) = 1 - 5/17 = 12/17
TWO_REVIEWERS = {("a", "r1"): 1.0, ("b", "r1"): 0.0, ("c", "r1"): 0.5,
                 ("a", "r2"): 1.0, ("b", "r2"): 0.5, ("c", "r2"): 0.5}
# Same order, different severity: units (0.1, 0.7), (0.2, 0.8), (0.3, 0.9).
#   D_o = 3 * 2 * 0.36 / 6 = 0.36; the six values have mean 0.5 and squared deviations summing
#   to 0.58, so unordered pairs sum to 6 * 0.58 = 3.48, D_e = 6.96 / 30 = 0.232
#   alpha = 1 - 0.36 / 0.232 = -0.5517…
HARSH_AND_LENIENT = {("a", "harsh"): 0.1, ("b", "harsh"): 0.2, ("c", "harsh"): 0.3,
                     ("a", "lenient"): 0.7, ("b", "lenient"): 0.8, ("c", "lenient"): 0.9}


def test_alpha_matches_the_hand_computation() -> None:
    assert krippendorff_alpha(TWO_REVIEWERS) == pytest.approx(12 / 17)
    # an answer with a single review is not pairable and changes nothing
    assert krippendorff_alpha({**TWO_REVIEWERS, ("d", "r1"): 0.0}) == pytest.approx(12 / 17)
    assert krippendorff_alpha(HARSH_AND_LENIENT) == pytest.approx(1 - 0.36 / 0.232)


def test_alpha_is_undefined_without_pairs_or_variation() -> None:
    assert krippendorff_alpha({}) is None
    assert krippendorff_alpha({("a", "r1"): 0.4, ("b", "r1"): 0.9}) is None  # nobody reviewed twice
    flat = {("a", "r1"): 0.6, ("a", "r2"): 0.6, ("b", "r1"): 0.6, ("b", "r2"): 0.6}
    assert krippendorff_alpha(flat) is None  # no variation at all: undefined, not perfect
    assert krippendorff_alpha({("a", "r1"): 0.2, ("a", "r2"): 0.2, ("b", "r1"): 0.9, ("b", "r2"): 0.9}) == 1.0


def test_normalisation_equates_a_harsh_and_a_lenient_reviewer() -> None:
    normalised = normalise_by_reviewer(HARSH_AND_LENIENT)
    for answer, expected in (("a", 0.4), ("b", 0.5), ("c", 0.6)):
        assert normalised[(answer, "harsh")] == pytest.approx(expected)
        assert normalised[(answer, "lenient")] == pytest.approx(expected)
    assert krippendorff_alpha(normalised) == pytest.approx(1.0)


def test_one_reviewer_is_left_as_is() -> None:
    alone = {("a", "r1"): 0.2, ("b", "r1"): 0.9, ("c", "r1"): 0.35, ("d", "r1"): 0.6}
    assert normalise_by_reviewer(alone) == pytest.approx(alone)


def test_too_few_or_flat_reviews_keep_their_raw_scores() -> None:
    scores = {**HARSH_AND_LENIENT, ("a", "new"): 0.95, ("b", "new"): 0.05,
              ("a", "flat"): 0.5, ("b", "flat"): 0.5, ("c", "flat"): 0.5}
    normalised = normalise_by_reviewer(scores)
    assert normalised[("a", "new")] == 0.95 and normalised[("b", "new")] == 0.05  # two scores: kept
    assert [normalised[(x, "flat")] for x in "abc"] == [0.5, 0.5, 0.5]  # no spread: kept
    assert normalised[("c", "lenient")] == pytest.approx(0.6)  # the others are still rescaled
    assert normalise_by_reviewer(scores, min_reviews=2)[("a", "new")] != 0.95


def test_rescaled_scores_are_clipped_to_the_unit_interval() -> None:
    # Equal spreads (sd 0.4497 each), means 0.6333 and 0.3667, panel mean 0.5: each reviewer's
    # scores shift by (0.5 - own mean), i.e. -0.1333 and +0.1333.
    scores = {("a", "r1"): 0.0, ("b", "r1"): 0.9, ("c", "r1"): 1.0,
              ("a", "r2"): 0.0, ("b", "r2"): 0.1, ("c", "r2"): 1.0}
    normalised = normalise_by_reviewer(scores)
    assert normalised[("a", "r1")] == 0.0  # -0.1333 clipped
    assert normalised[("b", "r1")] == pytest.approx(0.9 - 0.4 / 3)
    assert normalised[("c", "r2")] == 1.0  # 1.1333 clipped
    assert normalised[("a", "r2")] == pytest.approx(0.4 / 3)


def test_disagreements_widest_first() -> None:
    scores = {**TWO_REVIEWERS, ("d", "r1"): 0.9, ("e", "r1"): 0.1, ("e", "r2"): 0.9}
    found = disagreements(scores)
    assert [(d.answer, d.spread) for d in found] == [("e", pytest.approx(0.8)), ("b", 0.5), ("a", 0.0),
                                                      ("c", 0.0)]
    assert found[0].scores == {"r1": 0.1, "r2": 0.9}
    assert len(disagreements(scores, limit=1)) == 1


def test_rubric_score_is_the_weighted_mean_of_levels() -> None:
    rubric = RubricView(0, "标准评分表", list(DEFAULT_CRITERIA), list(DEFAULT_AUTO_FAIL), True)
    # weights 0.2 / 0.4 / 0.2 / 0.2, levels 4 / 3 / 2 / 4 out of 4:
    # 0.2 * 1 + 0.4 * 0.75 + 0.2 * 0.5 + 0.2 * 1 = 0.8
    levels = {"礼貌称呼": 4, "准确解决": 3, "主动超预期": 2, "合规表达": 4}
    assert rubric_score(rubric, levels, []) == pytest.approx(0.8)
    assert rubric_score(rubric, levels, ["答非所问"]) == 0.0
    with pytest.raises(RubricError, match="请给每一项打分：主动超预期"):
        rubric_score(rubric, {k: v for k, v in levels.items() if k != "主动超预期"}, [])
    with pytest.raises(RubricError, match="0–4"):
        rubric_score(rubric, {**levels, "准确解决": 5}, [])
    with pytest.raises(RubricError, match="没有否决项"):
        rubric_score(rubric, levels, ["态度不好"])


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def test_default_rubric_is_created_once(session: Session, demo: Demo) -> None:
    assert session.exec(select(func.count()).select_from(Rubric)).one() == 0
    first, again = default_rubric(session=session), default_rubric(session=session)
    assert first.id == again.id and first.is_default
    assert [c.name for c in first.criteria] == ["礼貌称呼", "准确解决", "主动超预期", "合规表达"]
    assert sum(c.weight for c in first.criteria) == pytest.approx(1.0)
    assert session.exec(select(func.count()).select_from(Rubric)).one() == 1


@pytest.mark.parametrize(("criteria", "name", "message"), [
    ([Criterion("礼貌", 1.0)], " ", "名称不能为空"),
    ([Criterion(" ", 1.0)], "售后评分表", "至少需要一个评分项"),
    ([Criterion("礼貌", 0.0)], "售后评分表", "权重必须大于 0"),
    ([Criterion("礼貌", float("nan"))], "售后评分表", "权重必须大于 0"),
    ([Criterion("礼貌", 1.0), Criterion(" 礼貌", 2.0)], "售后评分表", "不能重复"),
    ([Criterion("礼貌", 1.0)], "标准评分表", "已有名为"),
])
def test_save_rubric_validation(
    session: Session, demo: Demo, criteria: list[Criterion], name: str, message: str,
) -> None:
    default_rubric(session=session)
    with pytest.raises(RubricError, match=message):
        save_rubric(session=session, actor=demo.trainer, name=name, criteria=criteria, auto_fail=[])
    assert session.exec(select(func.count()).select_from(Rubric)).one() == 1


def test_save_and_edit_a_rubric(session: Session, demo: Demo) -> None:
    with pytest.raises(PermissionDenied):
        save_rubric(session=session, actor=demo.agent, name="售后评分表", criteria=[Criterion("礼貌", 1)],
                    auto_fail=[])
    saved = save_rubric(session=session, actor=demo.trainer, name=" 售后评分表 ",
                        criteria=[Criterion("安抚情绪", 3, "先道歉"), Criterion("给出方案", 1)],
                        auto_fail=["推卸责任", " "])
    assert (saved.name, saved.auto_fail) == ("售后评分表", ["推卸责任"])
    # 3 : 1 weights, levels 4 and 0: 3/4 of the top score
    assert rubric_score(saved, {"安抚情绪": 4, "给出方案": 0}, []) == pytest.approx(0.75)
    edited = save_rubric(session=session, actor=demo.trainer, name="售后评分表", rubric_id=saved.id,
                         criteria=[Criterion("安抚情绪", 1), Criterion("给出方案", 1)], auto_fail=[])
    assert edited.id == saved.id and rubric_score(edited, {"安抚情绪": 4, "给出方案": 0}, []) == 0.5
    names = [r.name for r in list_rubrics(session=session, actor=demo.trainer)]
    assert names == ["标准评分表", "售后评分表"]
    assert len(session.exec(select(AuditLog).where(AuditLog.action == "rubric.save")).all()) == 2
