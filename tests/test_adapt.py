"""Fine-tuning core: batches, splits, losses, the time budget, saving, and that training teaches."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from training.nlp.adapt.data import PASSAGE, QUERY, AdaptData, RankExample, ScoredPair, split_data
from training.nlp.adapt.finetune import (
    TrainConfig,
    _batches,
    _pair_loss,
    _rank_loss,
    fine_tune,
    save_model,
)
from training.nlp.adapt.run import encode, evaluate, load_trainable, run_adaptation
from training.nlp.encoder.load import load_encoder
from training.nlp.encoder.model_ids import MODEL_CARD, local_model_id
from training.nlp.model_versions import calibration_table

# Invented shop pairs: a customer question and the approved reply, with no word in common, so
# only training can tie them together.
SHOP = [
    ("宝贝什么时候发出", "亲，付款后四十八小时内安排出库哦"),
    ("能不能便宜点", "亲，本店已是活动最低价，叠加店铺券更划算"),
    ("衣服洗了掉色怎么办", "亲，深色棉质首次洗涤会有少量浮色，属正常现象，建议冷水单独手洗"),
    ("收到的杯子碎了", "非常抱歉！麻烦拍一下外包装和破损处，我们马上补发一个新的给您"),
    ("发票在哪里开", "亲，确认收货后在订单详情页申请电子普通发票即可"),
    ("这个尺码偏大吗", "亲，版型是标准码，平时穿M的选M就可以"),
    ("可以走顺丰吗", "亲，默认中通，顺丰需要补差价十元，可以联系客服改"),
    ("退货运费谁出", "亲，您下单时赠送了运费险，寄回后保险会自动理赔到账"),
]


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return load_trainable("embedded")


def test_split_keeps_each_anchor_on_one_side() -> None:
    data = AdaptData(examples=[RankExample(q, a) for q, a in SHOP] * 2,
                     pairs=[ScoredPair(q, a, 1.0) for q, a in SHOP])
    train, held = split_data(data, 0.25)
    assert len(train) + len(held) == len(data)
    held_anchors = {e.anchor for e in held.examples} | {p.a for p in held.pairs}
    train_anchors = {e.anchor for e in train.examples} | {p.a for p in train.pairs}
    assert held_anchors and not held_anchors & train_anchors


def test_rank_batches_never_repeat_a_positive() -> None:
    examples = [RankExample(f"问题{i}", "好的" if i % 3 == 0 else f"回复{i}") for i in range(40)]
    batches = _batches(AdaptData(examples=examples), 8, random.Random(1))
    for kind, batch in batches:
        assert kind == "rank"
        positives = [e.positive for e in batch]
        assert len(positives) == len(set(positives))
    # every distinct positive still gets trained on
    assert {e.positive for _, b in batches for e in b} == {e.positive for e in examples}


def test_losses_prefer_the_right_order(model) -> None:  # type: ignore[no-untyped-def]
    import torch

    with torch.no_grad():
        right = _rank_loss(model, [RankExample(q, a) for q, a in SHOP[:4]], 20.0)
        # each anchor given another anchor's reply: the loss must be higher
        shifted = [RankExample(SHOP[i][0], SHOP[(i + 1) % 4][1]) for i in range(4)]
        wrong = _rank_loss(model, shifted, 20.0)
        good = _pair_loss(model, [ScoredPair("快递到哪了", "我的包裹现在在哪里", 1.0),
                                  ScoredPair("快递到哪了", "这件衣服是纯棉的吗", 0.0)], 20.0)
        bad = _pair_loss(model, [ScoredPair("快递到哪了", "我的包裹现在在哪里", 0.0),
                                 ScoredPair("快递到哪了", "这件衣服是纯棉的吗", 1.0)], 20.0)
    assert float(right) < float(wrong)
    assert float(good) < float(bad)


def test_fine_tune_stops_at_budget_and_restores_frozen_weights(model) -> None:  # type: ignore[no-untyped-def]
    data = AdaptData(examples=[RankExample(q, a) for q, a in SHOP] * 30)
    messages: list[str] = []
    stats = fine_tune(model, data, TrainConfig(budget_seconds=0.5, batch_size=8),
                      lambda _, message: messages.append(message))
    assert stats.stopped_by_budget and 1 <= stats.steps < stats.planned_steps
    assert messages[0] == f"训练中：第 1/{stats.planned_steps} 步"  # trainers read it: no loss figures
    assert model.training is False
    assert all(p.requires_grad for p in model.parameters())


#: Code words a shop might use internally: nothing ties them to the replies but training.
CODES = ["暗号青龙", "暗号白虎", "暗号朱雀", "暗号玄武", "暗号麒麟", "暗号凤凰", "暗号貔貅", "暗号饕餮"]


@pytest.mark.encoder
def test_training_ties_questions_to_their_scripts(tmp_path: Path) -> None:
    """Training on code word -> reply pairs makes the model rank them; the saved folder loads."""
    data = AdaptData(examples=[RankExample(code, a) for code, (_, a) in zip(CODES, SHOP, strict=True)])
    target = tmp_path / "adapted"
    steps: list[str] = []
    card = run_adaptation(base_model="embedded", train=data, held=data, target=target,
                          config=TrainConfig(budget_seconds=300, batch_size=8, epochs=25, learning_rate=2e-4),
                          version_id="test-v1", progress=lambda _, message: steps.append(message))
    # The model page shows these steps to trainers: plain words, no model names, paths or losses.
    assert steps[0] == "正在加载训练起点的模型" and steps[-1] == "新版本已保存"
    assert "开始训练：8 个问答样本、0 对评分，最长 5 分钟" in steps
    assert not any("embedded" in m or str(tmp_path) in m or "损失" in m for m in steps)
    assert card["before"]["rank_r1"] < 0.6  # zero-shot: close to chance
    assert card["after"]["rank_r1"] >= 0.75
    assert card["after"]["rank_mrr"] > card["before"]["rank_mrr"] + 0.2
    saved = json.loads((target / MODEL_CARD).read_text(encoding="utf-8"))
    assert saved["id"] == "test-v1" and saved["calibration"]["base_quantiles"]
    assert local_model_id(str(target)).endswith("@test-v1")
    encoder = load_encoder(str(target))
    vecs = encoder.encode([SHOP[0][0]])
    assert vecs.shape == (1, encoder.dim)
    assert abs(float(np.linalg.norm(vecs[0])) - 1.0) < 1e-4
    # the prompts survived the save: the folder's model still adds e5's prefixes
    assert encoder.sentence_transformer.prompts.get("passage") == "passage: "


def test_evaluate_counts_ties_against_the_anchor(model) -> None:  # type: ignore[no-untyped-def]
    data = AdaptData(examples=[RankExample("发票在哪里开", "同一句"), RankExample("能不能便宜点", "同一句")])
    figures = evaluate(model, data)
    assert figures["rank_anchors"] == 2 and figures["rank_r1"] == 1.0  # one candidate: its own
    vecs = encode(model, ["你好"], QUERY)
    assert np.allclose(vecs, encode(model, ["你好"], QUERY))
    assert not np.allclose(vecs, encode(model, ["你好"], PASSAGE))


def test_calibration_maps_quantiles() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.7, 1.0, 5000)
    mine = base * 2 - 1.2  # a monotone shift of the scale
    table = calibration_table(base, mine)
    assert np.interp(0.92, table["base_quantiles"], table["model_quantiles"]) == pytest.approx(0.64, abs=0.01)


def test_save_model_replaces_atomically(tmp_path: Path, model) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "m"
    save_model(model, target, {"id": "one"})
    save_model(model, target, {"id": "two"})
    assert json.loads((target / MODEL_CARD).read_text(encoding="utf-8"))["id"] == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_training_threads_follow_the_setting_or_the_free_cores() -> None:
    import os

    from training.nlp.adapt.threads import busy_cores, training_threads

    assert training_threads(3) == 3
    assert training_threads(None) in {1, os.cpu_count()}
    assert 0.0 <= busy_cores(0.2) <= (os.cpu_count() or 1)
