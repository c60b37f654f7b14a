"""Answer ranking: signals, reviews, blanks and the reasons shown to trainers."""

from __future__ import annotations

import re

import pytest

from training.nlp.embeddings import Embedder
from training.ranking.rank import ChatTurn, RankGroup, RankWeights, plain_reason, rank_answers
from training.ranking.signals import BigramIdf, lexical_relevance

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
    # Reasons speak in levels a trainer reads, not in cosines or three-decimal figures.
    reasons = [r for score in scores for r in score.reasons]
    assert any(r.startswith("与顾客问题的相关度：") and r[10] in "高中低" for r in reasons)
    assert any(r.startswith("与其他客服回答的一致度：") for r in reasons)
    assert not any("余弦" in r or re.search(r"\d\.\d{3}", r) for r in reasons)


def test_reviews_can_overturn_the_semantic_order(embedder: Embedder) -> None:
    group = RankGroup(QUESTION, ANSWERS[:3], reviews=[[0.1, 0.2], [1.0], None])
    [scores] = rank_answers([group], embedder=embedder,
                            weights=RankWeights(agreement=0.1, relevance=0.1, reviews=5.0))
    assert scores[1].score > scores[0].score
    assert scores[1].signals["reviews"] == pytest.approx(1.0)
    assert "reviews" not in scores[2].signals
    assert any("培训师评分均值 0.15（满分 1，2 人评分）" in r for r in scores[0].reasons)


def test_reference_script_pulls_close_answers_up(embedder: Embedder) -> None:
    reference = "亲，签收后7天内可以无理由退货，请在订单详情页点击申请售后，选择退货并填写原因"
    group = RankGroup(QUESTION, ANSWERS[:3], reference=reference,
                      context=[ChatTurn("customer", "在吗"), ChatTurn("agent", "在的亲")])
    [scores] = rank_answers([group], embedder=embedder,
                            weights=RankWeights(agreement=0, relevance=0, reference=1, reviews=0))
    assert scores[0].score > scores[2].score
    assert any("现行话术" in r for r in scores[0].reasons)


def test_groups_keep_their_order_and_only_the_lexical_view_depends_on_the_batch(
        embedder: Embedder) -> None:
    invoice = RankGroup("发票怎么开", ["支持电子发票", "不清楚", "订单详情页申请开票，电子发票发您邮箱"])
    groups = [RankGroup(QUESTION, ANSWERS[:2]), invoice, RankGroup("在吗", [])]
    results = rank_answers(groups, embedder=embedder, weights=RankWeights())
    assert [len(r) for r in results] == [2, 3, 0]
    [alone] = rank_answers([invoice], embedder=embedder, weights=RankWeights())
    assert [s.signals["relevance_semantic"] for s in alone] == pytest.approx(
        [s.signals["relevance_semantic"] for s in results[1]], abs=1e-4)  # float32 batches
    assert [s.signals["relevance_lexical"] for s in alone] != pytest.approx(
        [s.signals["relevance_lexical"] for s in results[1]])


def test_bigrams_common_across_the_batch_weigh_little() -> None:
    turn = "快递什么时候发货"
    answers = ["亲，快递今天到", "亲，明天发货"]
    express_everywhere = BigramIdf.fit([turn, *answers, "快递到了", "快递丢了", "快递慢"])
    shipping_everywhere = BigramIdf.fit([turn, *answers, "发货了", "已发货", "发货慢"])
    by_express = lexical_relevance(answers, turn, express_everywhere)
    by_shipping = lexical_relevance(answers, turn, shipping_everywhere)
    assert by_express[1] > by_express[0] and by_shipping[0] > by_shipping[1]
    assert express_everywhere.weight("亲，") < express_everywhere.weight("今天")
    assert lexical_relevance(["天气不错"], turn, express_everywhere)[0] == 0.0


EXCHANGE_Q = "鞋子买小了，能换大一码吗"
CROWD = [
    "亲，可以换的，签收7天内吊牌完好不影响二次销售，在订单页申请换货选大一码就行",
    "可以的亲，您在订单详情点申请售后，选换货，尺码选大一码，寄回后给您发新的",
    "亲，支持换货哦，订单页申请售后选择换货和新尺码，我们收到退回的鞋子就给您换",
    "亲，7天内可以换码，吊牌别拆，申请售后里选换货就可以了",
]
OUTLIER = ("亲，给您备注了优先处理：我们这边直接先给您发大一码，运费险已赔付，"
           "旧鞋收到新鞋后再寄回就好，不耽误您穿")


def test_on_topic_polite_answer_beats_i_dont_know(embedder: Embedder) -> None:
    answers = [CROWD[0], "我不知道", CROWD[1]]
    [scores] = rank_answers([RankGroup(EXCHANGE_Q, answers)], embedder=embedder,
                            weights=RankWeights())
    assert scores[0].score > scores[1].score and scores[2].score > scores[1].score
    assert [f.kind for f in scores[1].findings] == ["forbidden"]
    assert scores[1].signals["lint"] < 0 and scores[0].signals["lint"] == 0
    assert any("禁用语「我不知道」" in r for r in scores[1].reasons)
    assert {"relevance_semantic", "relevance_lexical", "agreement"} <= set(scores[0].signals)


def test_lint_rules_are_passed_in(embedder: Embedder) -> None:
    group = RankGroup(EXCHANGE_Q, [CROWD[0], "我不知道"])
    [with_default] = rank_answers([group], embedder=embedder, weights=RankWeights())
    [without] = rank_answers([group], embedder=embedder, weights=RankWeights(), rules=())
    assert without[1].findings == [] and "lint" in without[1].signals
    assert without[1].score > with_default[1].score


def test_highly_reviewed_answer_unlike_the_crowd_is_a_highlight(embedder: Embedder) -> None:
    answers = [*CROWD, OUTLIER]
    weights = RankWeights()
    [plain] = rank_answers([RankGroup(EXCHANGE_Q, answers)], embedder=embedder, weights=weights)
    assert not any(s.highlight for s in plain)
    assert plain[4].signals["agreement_standing"] <= 0.35  # it does differ from the crowd
    reviews: list[list[float] | None] = [[0.6], [0.6], None, [0.6], [0.95, 0.9]]
    [scores] = rank_answers([RankGroup(EXCHANGE_Q, answers, reviews=reviews)],
                            embedder=embedder, weights=weights)
    flagged = [i for i, s in enumerate(scores) if s.highlight]
    assert flagged == [4]
    assert any("亮点" in r for r in scores[4].reasons)
    s = scores[4].signals
    expected = ((weights.relevance * s["relevance"] + weights.reviews * s["reviews"])
                / (weights.relevance + weights.reviews))
    assert scores[4].score == pytest.approx(expected, abs=1e-6)  # agreement left out
    assert scores[4].score > max(sc.score for sc in scores[:4])


def test_a_low_reviewed_outlier_is_not_a_highlight(embedder: Embedder) -> None:
    reviews: list[list[float] | None] = [None, None, None, None, [0.3]]
    [scores] = rank_answers([RankGroup(EXCHANGE_Q, [*CROWD, OUTLIER], reviews=reviews)],
                            embedder=embedder, weights=RankWeights())
    assert not any(s.highlight for s in scores)


def test_blank_answers_score_zero_even_without_other_answers(embedder: Embedder) -> None:
    [scores] = rank_answers([RankGroup(EXCHANGE_Q, ["", "  "])], embedder=embedder,
                            weights=RankWeights())
    assert [s.score for s in scores] == [0.0, 0.0]
    assert [f.kind for f in scores[0].findings] == ["empty"]


def test_passage_vectors_are_cached_apart_from_query_vectors(real_encoder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training.nlp.embeddings import DiskEmbeddingStore

    store = DiskEmbeddingStore(tmp_path / "cache.sqlite")
    cached = Embedder(real_encoder, store)
    text = ["亲，可以换的"]
    query = cached.embed(text)
    passage = cached.embed(text, prompt="passage")
    assert float(query[0] @ passage[0]) < 0.9999  # a different prefix, a different vector
    again = Embedder(real_encoder, store)
    assert again.embed(text, prompt="passage") == pytest.approx(passage)
    assert again.embed(text) == pytest.approx(query)
    assert Embedder(real_encoder).embed(text) == pytest.approx(query)  # default unchanged


def test_reasons_stored_with_cosines_read_in_plain_words() -> None:
    assert plain_reason("与顾客问题的相关度高于组内多数（语义余弦 0.853，字面重合 0.12）") == \
        "与顾客问题的相关度：高（好于同题多数回答）"
    assert plain_reason("与其他客服回答的一致度接近组内平均（去掉共性后与最相近回答的余弦 0.41）") == \
        "与其他客服回答的一致度：中（与同题多数回答相当）"
    assert plain_reason("与现行话术的接近度低于组内多数（余弦 0.801）") == \
        "与现行话术的接近度：低（不如同题多数回答）"
    assert plain_reason("扣分 0.20：含敏感词「保证」") == "扣分 0.20：含敏感词「保证」"
