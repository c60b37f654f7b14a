"""Script lookup with the real encoder: paraphrase search, filters, fusion and highlighting."""

from __future__ import annotations

import numpy as np
import pytest

from scripts_bank.highlight import matched_spans, merge_spans, segments
from scripts_bank.lookup import BankEntry, KeywordIndex, ScriptIndex, fuse
from training.embeddings import Embedder
from training.keywords import BM25Index

BANK = [
    BankEntry("addr", "怎么修改收货地址", "亲，订单未发货前可以在订单详情里修改地址哦"),
    BankEntry("ship", "什么时候发货", "亲，付款后48小时内发货"),
    BankEntry("invoice", "可以开发票吗", "亲，支持电子普通发票，下单时填写抬头即可"),
    BankEntry("huabei", "支持花呗分期吗", "亲，支持花呗3期免息"),
    BankEntry("return", "七天无理由退货怎么操作", "亲，在订单页点申请售后，选择七天无理由退货"),
    BankEntry("size", "尺码偏大还是偏小", "亲，尺码标准，按平时穿的尺码拍就可以"),
]
QUERIES = {"地址填错了能改吗": "addr", "今天下单啥时候能发": "ship", "发票怎么开": "invoice",
           "能用花呗付款吗": "huabei", "衣服不喜欢想退掉": "return", "平时穿M码这件拍哪个码": "size"}


@pytest.fixture(scope="module")
def index(embedder: Embedder) -> ScriptIndex:
    return ScriptIndex(BANK, embedder=embedder, semantic_weight=0.7)


def test_paraphrases_find_their_script_first(index: ScriptIndex) -> None:
    hits = index.search(list(QUERIES), k=3)
    assert [h[0].id for h in hits] == list(QUERIES.values())
    assert all(len(h) == 3 for h in hits)
    for found in hits:
        assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


def test_only_restricts_hits_without_changing_their_scores(index: ScriptIndex) -> None:
    query = ["地址填错了能改吗"]
    full = {h.id: h.score for h in index.search(query, k=len(BANK))[0]}
    limited = index.search(query, k=10, only={"ship", "invoice", "no-such-id"})[0]
    assert {h.id for h in limited} == {"ship", "invoice"}
    assert all(h.score == pytest.approx(full[h.id]) for h in limited)
    assert index.search(query, k=5, only=set())[0] == []


def test_semantic_only_and_keyword_only_weights(embedder: Embedder) -> None:
    bank = [BankEntry("a", "订单号 JD123456 的物流", ""), BankEntry("b", "快递到哪里了", "")]
    keyword_only = ScriptIndex(bank, embedder=embedder, semantic_weight=0.0)
    hit = keyword_only.search(["JD123456"], k=2)[0]
    assert hit[0].id == "a" and hit[0].keyword > 0 and hit[1].keyword == 0
    with pytest.raises(ValueError):
        ScriptIndex(bank, embedder=embedder, semantic_weight=1.5)


def test_empty_bank_and_empty_query_list(embedder: Embedder) -> None:
    assert ScriptIndex([], embedder=embedder).search(["在吗"], k=3) == [[]]
    assert ScriptIndex(BANK, embedder=embedder).search([], k=3) == []


def test_sparse_bm25_matches_the_reference_implementation() -> None:
    docs = [["花呗", "分期", "花呗"], ["发票", "抬头"], ["花呗", "还款", "逾期", "利息"], []]
    queries = [["花呗", "利息"], ["发票"], ["不存在"]]
    reference = BM25Index(docs)
    got = KeywordIndex(docs).scores(queries)
    expected = np.array([reference.scores(q) for q in queries], dtype=np.float32)
    assert np.allclose(got, expected, atol=1e-5)


def test_fusion_standardises_cosines_and_scales_keywords_to_the_best() -> None:
    semantic = np.array([[0.90, 0.92, 0.94]], dtype=np.float32)
    keyword = np.array([[4.0, 0.0, 2.0]], dtype=np.float32)
    fused = fuse(semantic, keyword, 0.5)
    z = (semantic - semantic.mean()) / semantic.std()
    assert np.allclose(fused, 0.5 * z + 0.5 * np.array([[1.0, 0.0, 0.5]]))
    # A model whose cosines spread ten times wider ranks the same way.
    assert np.allclose(fuse(semantic * 10, keyword, 0.5), fused, atol=1e-5)


def test_matched_spans_cover_shared_words_and_runs() -> None:
    text = "亲，订单未发货前可以在订单详情里修改地址哦"
    spans = matched_spans("地址填错了，订单还能修改吗", text)
    marked = [text[s:e] for s, e in spans]
    assert marked == ["订单", "订单", "修改地址"]
    assert spans == sorted(spans)
    assert matched_spans("", text) == [] and matched_spans("订单", "") == []


def test_matched_spans_ignore_stopwords_and_single_shared_characters() -> None:
    assert matched_spans("请问可以发货吗", "可以的，亲") == []
    # 运费险 is one word in the shop dictionary; 赔 alone does not match 赔付.
    assert matched_spans("运费险怎么赔", "退货运费险会赔付") == [(2, 5)]
    assert matched_spans("iPhone 有货吗", "IPHONE 15 现货") == [(0, 6)]


def test_segments_rebuild_the_text_and_flag_matches() -> None:
    text = "付款后48小时内发货"
    pieces = segments(text, [(8, 10), (0, 2), (1, 3)])
    assert "".join(p for p, _ in pieces) == text
    assert pieces == [("付款后", True), ("48小时内", False), ("发货", True)]
    assert segments(text, []) == [(text, False)]
    assert merge_spans([(5, 6), (0, 2), (2, 3)]) == [(0, 3), (5, 6)]
