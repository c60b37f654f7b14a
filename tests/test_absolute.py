"""The absolute answer score (建议分): against approved wordings and graded answers, never the crowd."""

from __future__ import annotations

import numpy as np
import pytest

from training.nlp.embeddings import Embedder
from training.ranking import absolute
from training.ranking.absolute import Variant, base_scale, suggest_scores
from training.ranking.calibration import fit_isotonic, fit_logistic, shop_calibration
from training.ranking.rank import ChatTurn, RankGroup, RankWeights
from training.ranking.scoring import score_answers

QUESTION = "我想退货，怎么操作"
SCRIPT = "亲，签收后7天内可以无理由退货，请在订单详情页点击申请售后，选择退货并填写原因，审核通过后寄回即可"
CLOSE = "亲，签收7天内可以无理由退货的，您在订单详情页点申请售后，选退货填写原因，审核通过后寄回就行"
OFF_TOPIC = "亲，这款电热水壶是1.7升的，304不锈钢内胆，烧水很快"


def test_isotonic_fit_is_monotone_and_pools_violators() -> None:
    fit = fit_isotonic([0.1, 0.2, 0.3, 0.4], [0.2, 0.6, 0.4, 0.9])
    assert fit.ys == pytest.approx((0.2, 0.5, 0.9))
    assert list(fit.predict([0.0, 0.25, 1.0])) == pytest.approx([0.2, 0.5, 0.9])


def test_logistic_fit_separates_and_shop_fit_needs_enough_spread_reviews() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1))
    y = (x[:, 0] + rng.normal(scale=0.5, size=200) > 0).astype(float)
    model = fit_logistic(x, y, ("a",))
    assert model.coef[0] > 1.0
    assert model.predict(np.array([[2.0]]))[0] > 0.8 > 0.2 > model.predict(np.array([[-2.0]]))[0]
    assert shop_calibration([0.5] * 29, [0.1, 0.9] * 14 + [0.5]) is None  # too few
    assert shop_calibration([0.5] * 40, [0.6] * 40) is None  # no spread
    assert shop_calibration(list(np.linspace(0, 1, 40)), [0.2] * 20 + [0.8] * 20) is not None


def test_a_scripts_placeholders_are_not_compared_with_answers() -> None:
    wording = Variant("{客户称呼}您好，订单{订单号}已发货")
    assert "{" not in wording.plain and "客户称呼" not in wording.plain and "已发货" in wording.plain


def test_base_scale_is_the_identity_for_the_shipped_encoder() -> None:
    values = np.array([0.7, 0.85, 0.93], dtype=np.float32)
    assert list(base_scale("embedded", values)) == pytest.approx(list(values))


def test_base_scale_reads_an_adapted_models_cosines_on_the_shipped_scale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An adapted model whose card maps the shipped 0.92 to 0.6 and 0.86 to 0.45 (as in
    # tests/test_model_versions.py): its 0.6 is the shipped encoder's 0.92.
    card = ([-0.2, 0.8, 0.92, 1.0], [-0.5, 0.3, 0.6, 1.0])
    monkeypatch.setattr(absolute, "model_threshold", lambda _id, base: float(np.interp(base, *card)))
    values = np.array([0.6, 0.45], dtype=np.float32)
    assert list(base_scale("adapted@v1", values)) == pytest.approx([0.92, 0.86], abs=1e-3)


@pytest.mark.encoder
def test_lone_off_topic_answer_scores_far_below_one_close_to_the_script(embedder: Embedder) -> None:
    close, off = ([s] for s in suggest_scores(
        [RankGroup(QUESTION, [CLOSE], reference=SCRIPT), RankGroup(QUESTION, [OFF_TOPIC], reference=SCRIPT)],
        embedder=embedder))
    good, bad = close[0][0], off[0][0]
    assert good is not None and bad is not None
    assert good.score - bad.score > 0.4
    assert good.closest_variant == Variant(SCRIPT)
    assert any(r.startswith("最接近的审定话术：现行话术") for r in good.reasons)
    assert any(r.startswith("漏掉的要点：") for r in bad.reasons)
    # Alone or in a crowd, an answer's suggestion is the same.
    [crowd] = suggest_scores([RankGroup(QUESTION, [CLOSE, OFF_TOPIC, "不知道", "亲，退货点申请售后"],
                                        reference=SCRIPT)], embedder=embedder)
    assert crowd[0] is not None and crowd[0].score == pytest.approx(good.score, abs=1e-4)


@pytest.mark.encoder
def test_a_reviewed_neighbour_pulls_the_suggestion_toward_its_score(embedder: Embedder) -> None:
    twin = CLOSE.replace("就行", "就可以了")
    [plain] = suggest_scores([RankGroup(QUESTION, [CLOSE], reference=SCRIPT)], embedder=embedder)
    [low] = suggest_scores([RankGroup(QUESTION, [CLOSE, twin], reference=SCRIPT, reviews=[None, [0.1]])],
                           embedder=embedder)
    [high] = suggest_scores([RankGroup(QUESTION, [CLOSE, twin], reference=SCRIPT, reviews=[None, [1.0]])],
                            embedder=embedder)
    assert plain[0] is not None and low[0] is not None and high[0] is not None
    assert low[0].score < plain[0].score - 0.2
    assert low[0].score < high[0].score
    assert low[0].neighbours[0].score == pytest.approx(0.1)
    assert any("已评分的相近回答" in r and "0.10" in r for r in low[0].reasons)
    # What a candidate may read names no other answer, only how many and their weighted mean.
    assert not any(twin[:10] in r for r in low[0].candidate_reasons)
    assert "参考了 1 条已评分的相近回答（按相近程度加权平均 0.10）" in low[0].candidate_reasons
    assert len(low[0].candidate_reasons) == len(low[0].reasons)
    # An answer's own reviews never count toward its own suggestion.
    assert low[1] is not None and not low[1].neighbours


@pytest.mark.encoder
def test_without_script_or_reviews_the_fallback_says_so(embedder: Embedder) -> None:
    [row] = suggest_scores([RankGroup(QUESTION, [CLOSE, OFF_TOPIC, ""],
                                      context=[ChatTurn("customer", "在吗")])], embedder=embedder)
    assert row[2] is None
    assert row[0] is not None and row[1] is not None and row[0].score > row[1].score
    assert any("还没有审定话术，也没有已评分的回答" in r for r in row[0].reasons)


@pytest.mark.encoder
def test_score_answers_is_absolute_only_where_grounded(embedder: Embedder) -> None:
    grounded = RankGroup(QUESTION, [CLOSE, OFF_TOPIC], reference=SCRIPT)
    crowd = RankGroup(QUESTION, [CLOSE, OFF_TOPIC])
    batch = score_answers([grounded, crowd], embedder=embedder, weights=RankWeights())
    suggestions = batch.suggestions[0]
    assert [s.score for s in batch.scores[0]] == [s.score for s in suggestions if s is not None]
    assert batch.scores[0][0].reasons[0].startswith("建议分")
    assert not batch.scores[1][0].reasons[0].startswith("建议分")  # relative ranking kept
