"""Answer ranking: signals, reviews, blanks and the reasons shown to trainers."""

from __future__ import annotations

import pytest

from training.embeddings import Embedder
from training.ranking import ChatTurn, RankGroup, RankWeights, rank_answers

pytestmark = pytest.mark.encoder

QUESTION = "我想退货，怎么操作"
ANSWERS = [
    "亲，签收7天内商品不影响二次销售可以无理由退货，在订单页点申请售后选退货，填写原因提交即可哦",
    "亲，您在订单里申请退货就行，审核通过后寄回，我们收到后给您退款",
    "亲，这款电热水壶是1.7升的，304不锈钢内胆",
    "",
]


def test_helpful_answers_beat_off_topic_and_blank(embedder: Embedder) -> None:
    [scores] = rank_answers([RankGroup(QUESTION, ANSWERS)], embedder=embedder,
                            weights=RankWeights())
    values = [s.score for s in scores]
    assert values[0] > values[2] and values[1] > values[2]
    assert values[3] == 0.0 and "空白" in scores[3].reasons[0]
    assert {"agreement", "relevance"} <= set(scores[0].signals)
    assert any("相关度" in r for r in scores[0].reasons)


def test_reviews_can_overturn_the_semantic_order(embedder: Embedder) -> None:
    group = RankGroup(QUESTION, ANSWERS[:3], reviews=[[0.1, 0.2], [1.0], None])
    [scores] = rank_answers([group], embedder=embedder,
                            weights=RankWeights(agreement=0.1, relevance=0.1, reviews=5.0))
    assert scores[1].score > scores[0].score
    assert scores[1].signals["reviews"] == pytest.approx(1.0)
    assert "reviews" not in scores[2].signals
    assert any("培训师评分均值 0.15（2 人评分）" in r for r in scores[0].reasons)


def test_reference_script_pulls_close_answers_up(embedder: Embedder) -> None:
    reference = "亲，签收后7天内可以无理由退货，请在订单详情页点击申请售后，选择退货并填写原因"
    group = RankGroup(QUESTION, ANSWERS[:3], reference=reference,
                      context=[ChatTurn("customer", "在吗"), ChatTurn("agent", "在的亲")])
    [scores] = rank_answers([group], embedder=embedder,
                            weights=RankWeights(agreement=0, relevance=0, reference=1, reviews=0))
    assert scores[0].score > scores[2].score
    assert any("现行话术" in r for r in scores[0].reasons)


def test_groups_are_scored_independently_and_in_order(embedder: Embedder) -> None:
    groups = [RankGroup(QUESTION, ANSWERS[:2]), RankGroup("发票怎么开", ["支持电子发票", "不清楚"]),
              RankGroup("在吗", [])]
    results = rank_answers(groups, embedder=embedder, weights=RankWeights())
    assert [len(r) for r in results] == [2, 2, 0]
    alone = rank_answers(groups[1:2], embedder=embedder, weights=RankWeights())
    assert [s.score for s in alone[0]] == pytest.approx([s.score for s in results[1]])
