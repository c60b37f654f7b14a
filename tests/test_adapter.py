"""Adaptation on cached features: the projection adapter, its folder, its loader, and the fusion."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from training.nlp.adapt.adapter import AdapterConfig, feature_keys, train_adapter
from training.nlp.adapt.data import PASSAGE, AdaptData, RankExample
from training.nlp.adapt.evaluation import evaluate_with
from training.nlp.embeddings import DiskEmbeddingStore, Embedder, Vectors
from training.nlp.encoder.adapter import ADAPTER_FILE, AdapterEncoder, Heads
from training.nlp.encoder.model_ids import MODEL_CARD
from training.ranking.fusion import FEATURES, FUSION_FILE, Fusion, fit_fusion, fusion_of
from training.ranking.rank import RankGroup, RankWeights, rank_answers


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _random_world(n: int = 48, dim: int = 32, seed: int = 3) -> tuple[AdaptData, dict, np.ndarray]:
    """Anchors and positives with unrelated random vectors: only a learned map can tie them."""
    rng = np.random.default_rng(seed)
    data = AdaptData(examples=[RankExample(f"问{i}", f"答{i}") for i in range(n)])
    keys = feature_keys(data)
    return data, {k: i for i, k in enumerate(keys)}, _unit(rng.normal(size=(len(keys), dim)))


def _evaluate(heads: Heads, data: AdaptData, rows: dict, features: np.ndarray) -> dict[str, float]:
    def embed(texts: Sequence[str], prompt: str) -> np.ndarray:
        side = "document" if prompt == PASSAGE else "query"
        return heads.apply(features[[rows[(t, prompt)] for t in texts]], side)

    return evaluate_with(embed, data)


def test_the_identity_maps_keep_the_base_vectors() -> None:
    vectors = _unit(np.random.default_rng(1).normal(size=(5, 16)))
    heads = Heads.identity(16)
    assert np.allclose(heads.apply(vectors, "query"), vectors, atol=1e-6)
    assert np.allclose(heads.apply(vectors, "document"), vectors, atol=1e-6)


def test_training_on_cached_features_ties_anchors_to_their_replies() -> None:
    data, rows, features = _random_world()
    before = _evaluate(Heads.identity(features.shape[1]), data, rows, features)
    heads, stats = train_adapter(
        features, rows, data, AdapterConfig(epochs=150, batch_size=16, learning_rate=1e-2, identity_decay=0)
    )
    after = _evaluate(heads, data, rows, features)
    assert before["rank_r1"] < 0.2  # random vectors: chance level
    assert after["rank_r1"] >= 0.9 and after["rank_mrr"] > before["rank_mrr"] + 0.5
    assert stats.epochs == 150 and stats.items_per_epoch == len(data)
    assert stats.loss_by_epoch[-1] < stats.loss_by_epoch[0]
    # the two sides learn different maps
    assert not np.allclose(heads.query_w, heads.document_w)


def test_a_tight_budget_stops_between_epochs() -> None:
    data, rows, features = _random_world(n=400)
    _, stats = train_adapter(
        features, rows, data, AdapterConfig(epochs=10_000, batch_size=8, budget_seconds=0.5)
    )
    assert stats.stopped_by_budget and 1 <= stats.epochs < 10_000


class _Base:
    """A fake base encoder that counts what it encodes."""

    model_id = "fake-base"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        show_progress: bool = False,
        prompt_name: str | None = None,
    ) -> Vectors:
        self.seen.extend(texts)
        rows = [np.random.default_rng(abs(hash((t, prompt_name))) % 2**32).normal(size=8) for t in texts]
        return _unit(np.asarray(rows))


def test_an_adapter_reuses_the_base_vectors_in_the_cache(tmp_path: Path) -> None:
    base = _Base()
    store = DiskEmbeddingStore(tmp_path / "cache.sqlite")
    zero_shot = Embedder(base, store).embed(["甲", "乙"], prompt="passage")
    rng = np.random.default_rng(2)
    heads = Heads(
        rng.normal(size=(8, 8)).astype(np.float32),
        np.zeros(8, np.float32),
        rng.normal(size=(8, 8)).astype(np.float32),
        np.zeros(8, np.float32),
    )
    adapted = Embedder(AdapterEncoder(base, heads, "fake-adapted"), store)
    out = adapted.embed(["甲", "乙"], prompt="passage")
    assert base.seen == ["甲", "乙"]  # nothing encoded a second time
    assert np.allclose(out, heads.apply(zero_shot, "document"), atol=1e-6)
    query = adapted.embed(["甲"])  # no prompt: the query side
    assert np.allclose(query, heads.apply(Embedder(base, store).embed(["甲"]), "query"), atol=1e-6)
    assert adapted.embed([]).shape[0] == 0


def test_fit_fusion_learns_which_signal_picks_the_good_reply() -> None:
    rng = np.random.default_rng(5)
    groups = []
    for _ in range(60):
        rows = []
        for label in (1.0, 0.0, 0.0, 0.0):
            signals = {name: float(rng.random()) for name in FEATURES}
            signals["relevance_lexical"] = (
                float(0.7 + 0.3 * rng.random()) if label else float(0.6 * rng.random())
            )
            rows.append((signals, label))
        groups.append(rows)
    fusion = fit_fusion(groups, source="测试")
    assert fusion is not None and fusion.pairs >= 60
    weights = dict(zip(FEATURES, fusion.weights, strict=True))
    assert weights["relevance_lexical"] == max(weights.values()) and weights["relevance_lexical"] > 0
    good = fusion.score({**dict.fromkeys(FEATURES, 0.5), "relevance_lexical": 0.95})
    bad = fusion.score({**dict.fromkeys(FEATURES, 0.5), "relevance_lexical": 0.1})
    assert 0 < bad < 0.5 < good < 1
    assert fit_fusion(groups[:3], source="太少") is None  # too few pairs: the shipped formula stays


class _FolderEncoder(_Base):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder


def test_the_ranker_reads_the_fusion_stored_with_its_model(tmp_path: Path) -> None:
    group = RankGroup(
        "发票怎么开", ["好", "亲，确认收货后在订单详情页申请电子普通发票即可，纸质发票随货寄出"]
    )
    embedder = Embedder(_FolderEncoder(tmp_path))
    plain = rank_answers([group], embedder=embedder, weights=RankWeights(reference=0))[0]
    assert all("fused" not in a.signals for a in plain)
    # A fusion that only values length puts the long answer first; one that penalises it, last.
    for sign, winner in ((1.0, 1), (-1.0, 0)):
        weights = tuple(sign * 20.0 if name == "length_standing" else 0.0 for name in FEATURES)
        Fusion(weights, 1.0, 0.0, 100, "测试").save(tmp_path)
        fused = rank_answers([group], embedder=embedder, weights=RankWeights(reference=0))[0]
        assert fused[winner].score > 0.7 > 0.3 > fused[1 - winner].score
        assert "相关度按本店数据学到的比重计算（意思、用词、长短）" in fused[winner].reasons
        relevance = [a.signals["relevance"] for a in fused]  # the length standings (0.269 / 0.731)
        expected = [0.2689414, 0.7310586] if sign > 0 else [0.7310586, 0.2689414]
        assert relevance == pytest.approx(expected, abs=1e-4)
    off = rank_answers([group], embedder=embedder, weights=RankWeights(reference=0), fusion=False)[0]
    assert [a.score for a in off] == [a.score for a in plain]
    # a file written for other signals is ignored rather than misread
    data = json.loads((tmp_path / FUSION_FILE).read_text(encoding="utf-8"))
    (tmp_path / FUSION_FILE).write_text(json.dumps({**data, "features": ["旧信号"]}), encoding="utf-8")
    assert fusion_of(tmp_path) is None


@pytest.mark.encoder
def test_the_adapter_folder_is_a_standard_sentence_transformers_model(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from training.nlp.adapt.run import run_adaptation
    from training.nlp.encoder.load import load_encoder

    shop = [
        ("甲一", "亲，付款后四十八小时内安排出库哦"),
        ("乙二", "亲，本店已是活动最低价，叠加店铺券更划算"),
        ("丙三", "亲，深色棉质首次洗涤会有少量浮色"),
        ("丁四", "非常抱歉！麻烦拍一下外包装和破损处"),
        ("戊五", "亲，确认收货后在订单详情页申请电子普通发票即可"),
        ("己六", "亲，版型是标准码，平时穿M的选M就可以"),
    ]
    data = AdaptData(examples=[RankExample(q, a) for q, a in shop])
    target = tmp_path / "adapted"
    steps: list[str] = []
    card = run_adaptation(
        base_model="embedded",
        train=data,
        held=data,
        target=target,
        config=AdapterConfig(epochs=200, batch_size=8, learning_rate=5e-3),
        version_id="adapter-v1",
        progress=lambda _, m: steps.append(m),
    )
    assert card["method"] == "adapter" and card["training"]["epochs"] == 200
    assert card["before"]["rank_r1"] < 0.6 and card["after"]["rank_r1"] == 1.0
    assert steps[0] == "正在加载训练起点的模型" and steps[-1] == "新版本已保存"
    assert (target / ADAPTER_FILE).is_file() and json.loads((target / MODEL_CARD).read_text())["adapter"]
    fast = load_encoder(str(target))
    assert isinstance(fast, AdapterEncoder) and fast.folder == target
    st = SentenceTransformer(str(target), device="cpu")  # what any sentence-transformers user does
    replies, codes = [a for _, a in shop], [q for q, _ in shop]
    assert np.allclose(
        fast.encode(replies, prompt_name="passage"),
        st.encode_document(replies, prompt_name="passage", normalize_embeddings=True),
        atol=1e-5,
    )
    assert np.allclose(fast.encode(codes), st.encode_query(codes, normalize_embeddings=True), atol=1e-5)
    # Over a base that is no longer the shipped one, the folder runs as its own Router model.
    moved = tmp_path / "other-base"
    target.rename(moved)
    card_path = moved / MODEL_CARD
    saved = json.loads(card_path.read_text(encoding="utf-8"))
    saved["adapter"]["base_model_id"] = "an-older-encoder"
    card_path.write_text(json.dumps(saved), encoding="utf-8")
    routed = load_encoder(str(moved))
    assert not isinstance(routed, AdapterEncoder)
    assert np.allclose(
        routed.encode(replies, prompt_name="passage"), fast.encode(replies, prompt_name="passage"), atol=1e-5
    )
    assert np.allclose(routed.encode(codes), fast.encode(codes), atol=1e-5)


@pytest.mark.encoder
def test_top_layers_on_cached_states_match_the_model_and_learn(tmp_path: Path) -> None:
    import torch

    from training.nlp.adapt.evaluation import load_trainable
    from training.nlp.adapt.run import run_adaptation
    from training.nlp.adapt.top_layers import TopLayersConfig, _top_embed, lower_states

    model = load_trainable("embedded")
    keys = [("亲，付款后四十八小时内安排出库哦", "passage"), ("宝贝什么时候发", "query")]
    states = lower_states(model, keys, TopLayersConfig())
    with torch.no_grad():
        cached = _top_embed(model, states, 2).numpy()
    whole = model.encode(["passage: " + keys[0][0], "query: " + keys[1][0]], prompt="",
                         normalize_embeddings=True)
    assert np.abs(cached - whole).max() < 1e-3  # float16 states, else the same computation
    shop = [("甲一", "亲，付款后四十八小时内安排出库哦"), ("乙二", "亲，本店已是活动最低价"),
            ("丙三", "亲，深色棉质首次洗涤会有少量浮色"), ("丁四", "非常抱歉！麻烦拍一下外包装")]
    data = AdaptData(examples=[RankExample(q, a) for q, a in shop])
    card = run_adaptation(base_model="embedded", train=data, held=data, target=tmp_path / "top",
                          config=TopLayersConfig(epochs=30, batch_size=4, learning_rate=2e-4))
    assert card["method"] == "top-layers" and card["training"]["epochs"] == 30
    assert card["before"]["rank_r1"] < 0.6 and card["after"]["rank_r1"] == 1.0
