"""Script lookup: paraphrase search (real encoder), filters, fusion, highlighting, persisted indexes."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from scripts_bank import index_store, vectors
from scripts_bank.bm25 import KeywordIndex
from scripts_bank.highlight import matched_spans, merge_spans, segments
from scripts_bank.lookup import BankEntry, ScriptIndex, fuse
from training.nlp.embeddings import Embedder

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


def _reference_bm25(docs: Sequence[Sequence[str]], query: Sequence[str], k1: float = 1.5,
                    b: float = 0.75) -> list[float]:
    """Okapi BM25 of every document for ``query``, term by term as the textbook writes it."""
    freqs = [Counter(doc) for doc in docs]
    avg = sum(len(doc) for doc in docs) / len(docs) or 1.0
    df = Counter(term for f in freqs for term in f)
    out = [0.0] * len(docs)
    for term in set(query) & set(df):
        idf = math.log(1 + (len(docs) - df[term] + 0.5) / (df[term] + 0.5))
        for i, (doc, f) in enumerate(zip(docs, freqs, strict=True)):
            if f[term]:
                out[i] += idf * f[term] * (k1 + 1) / (f[term] + k1 * (1 - b + b * len(doc) / avg))
    return out


def test_sparse_bm25_matches_the_reference_implementation() -> None:
    docs = [["花呗", "分期", "花呗"], ["发票", "抬头"], ["花呗", "还款", "逾期", "利息"], []]
    queries = [["花呗", "利息"], ["发票"], ["不存在"]]
    got = KeywordIndex(docs).scores(queries)
    expected = np.array([_reference_bm25(docs, q) for q in queries], dtype=np.float32)
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


# --------------------------------------------------------------------------- persisted indexes

PRODUCTS = ["手机", "耳机", "冰箱", "空调", "洗衣机", "电视", "笔记本", "鼠标", "键盘", "音箱",
            "奶粉", "尿不湿", "面膜", "口红", "跑鞋", "羽绒服", "狗粮", "猫砂", "茶叶", "大米"]
ISSUES = ["什么时候发货", "能开发票吗", "怎么申请退货", "保修多久", "有没有现货", "可以用花呗吗",
          "运费险怎么赔", "地址填错了怎么改", "坏了怎么换货", "能便宜点吗"]


class HashingEncoder:
    """Deterministic stand-in for the encoder: hashed character bigrams, L2-normalised."""

    def __init__(self, model_id: str = "fake-bigrams-v1", dim: int = 64) -> None:
        self.model_id = model_id
        self.dim = dim
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
               ) -> npt.NDArray[np.float32]:
        self.encoded += list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for a, b in itertools.pairwise(text):
                digest = hashlib.md5(f"{self.model_id}{a}{b}".encode()).digest()
                out[row, digest[0] % self.dim] += 1.0 if digest[1] % 2 else -1.0
        out[:, 0] += 1e-3  # no zero rows
        norms: npt.NDArray[np.float32] = np.linalg.norm(out, axis=1, keepdims=True)
        return out / norms


def fake_bank(n: int = 200) -> list[BankEntry]:
    combos = [(p, i) for i in ISSUES for p in PRODUCTS]
    return [BankEntry(f"s{k}", f"{p}{i}" + ("" if k < len(combos) else f"（第{k // len(combos)}批）"),
                      f"亲，{p}的问题：{i}，请联系客服处理") for k, (p, i) in
            enumerate(combos[j % len(combos)] for j in range(n))]


FAKE_QUERIES = ["冰箱啥时候发", "口红可以开票吗", "狗粮想退货", "空调保修几年", "羽绒服有货吗"]


@pytest.fixture
def persist_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_store, "PERSIST_FROM", 1)


def cached(bank: list[BankEntry], cache_dir: Path, encoder: HashingEncoder | None = None) -> ScriptIndex:
    return index_store.cached_index(bank, embedder=Embedder(encoder or HashingEncoder()), semantic_weight=0.7,
                                    cache_dir=cache_dir)


def hit_ids(index: ScriptIndex, k: int = 5) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 4)) for h in hits] for hits in index.search(FAKE_QUERIES, k=k)]


@pytest.mark.usefixtures("persist_everything")
def test_persisted_index_round_trips_with_the_same_hits(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    bank = fake_bank()
    built = cached(bank, tmp_path, encoder)
    folder = index_store.index_folder(tmp_path, encoder.model_id, bank)
    assert (folder / "meta.json").is_file() and len(encoder.encoded) == len(bank)
    fresh = HashingEncoder()
    loaded = cached(bank, tmp_path, fresh)
    assert fresh.encoded == []  # nothing re-encoded: the vectors came from the files
    assert hit_ids(loaded) == hit_ids(built)
    assert loaded.keyword_index.vocabulary == built.keyword_index.vocabulary


@pytest.mark.usefixtures("persist_everything")
def test_partitioned_index_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "PARTITION_FROM", 50)
    bank = fake_bank(400)
    built = cached(bank, tmp_path)
    assert built.semantic.partition is not None
    loaded = index_store.load_index(index_store.index_folder(tmp_path, "fake-bigrams-v1", bank), bank,
                                    embedder=Embedder(HashingEncoder()), semantic_weight=0.7)
    assert loaded is not None and loaded.semantic.partition is not None
    assert hit_ids(loaded) == hit_ids(built)


@pytest.mark.usefixtures("persist_everything")
def test_changed_bank_or_model_makes_the_saved_index_stale(tmp_path: Path) -> None:
    bank = fake_bank()
    cached(bank, tmp_path)
    old_folder = index_store.index_folder(tmp_path, "fake-bigrams-v1", bank)
    edited = [*bank[:3], BankEntry(bank[3].id, "榴莲什么时候到货", "亲，榴莲下周到货"), *bank[4:]]
    assert index_store.load_index(old_folder, edited, embedder=Embedder(HashingEncoder()),
                                  semantic_weight=0.7) is None
    encoder = HashingEncoder()
    rebuilt = cached(edited, tmp_path, encoder)
    assert encoder.encoded == ["榴莲什么时候到货"]  # the unchanged entries were reused
    assert rebuilt.search(["榴莲啥时候有货"], k=1)[0][0].id == bank[3].id
    assert rebuilt.keyword_index.counts.shape[0] == len(edited)
    assert hit_ids(rebuilt) == hit_ids(ScriptIndex(edited, embedder=Embedder(HashingEncoder())))
    other_model = HashingEncoder("fake-bigrams-v2")
    cached(edited, tmp_path, other_model)
    assert len(other_model.encoded) == len(edited)  # another model never borrows vectors
    assert index_store.load_index(index_store.index_folder(tmp_path, "fake-bigrams-v1", edited), edited,
                                  embedder=Embedder(other_model), semantic_weight=0.7) is None


@pytest.mark.usefixtures("persist_everything")
@pytest.mark.parametrize("damage", ["truncate-vectors", "drop-terms", "garbage-meta", "bad-indices"])
def test_a_damaged_saved_index_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    bank = fake_bank()
    expected = hit_ids(cached(bank, tmp_path))
    folder = index_store.index_folder(tmp_path, "fake-bigrams-v1", bank)
    if damage == "truncate-vectors":
        data = (folder / "vectors.npy").read_bytes()
        (folder / "vectors.npy").write_bytes(data[: len(data) // 2])
    elif damage == "drop-terms":
        (folder / "terms.json").unlink()
    elif damage == "garbage-meta":
        (folder / "meta.json").write_bytes(b"\x00not json")
    else:
        np.save(folder / "counts_indices.npy", np.full(3, 10**6, dtype=np.int32))
    embedder = Embedder(HashingEncoder())
    assert index_store.load_index(folder, bank, embedder=embedder, semantic_weight=0.7) is None
    again = index_store.cached_index(bank, embedder=embedder, semantic_weight=0.7, cache_dir=tmp_path)
    assert hit_ids(again) == expected
    assert index_store.load_index(folder, bank, embedder=embedder, semantic_weight=0.7) is not None


def test_small_banks_are_not_persisted(tmp_path: Path) -> None:
    bank = fake_bank(index_store.PERSIST_FROM - 1)
    cached(bank, tmp_path)
    assert not (tmp_path / index_store.INDEX_DIR).exists()


# --------------------------------------------------------------------------- partitioned search


def test_partitioned_search_scanning_every_list_equals_the_full_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    bank = fake_bank(600)
    exact = ScriptIndex(bank, embedder=Embedder(HashingEncoder()))
    monkeypatch.setattr(vectors, "PARTITION_FROM", 100)
    partitioned = ScriptIndex(bank, embedder=Embedder(HashingEncoder()))
    assert partitioned.semantic.partition is not None and exact.semantic.partition is None
    monkeypatch.setattr(vectors, "PROBE_SHARE", 1.0)
    for got, want in zip(partitioned.search(FAKE_QUERIES, k=8), exact.search(FAKE_QUERIES, k=8), strict=True):
        assert [h.id for h in got] == [h.id for h in want]
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-4)
    only = {e.id for e in bank if "冰箱" in e.question}
    got = partitioned.search(["冰箱坏了"], k=5, only=only)[0]
    want = exact.search(["冰箱坏了"], k=5, only=only)[0]
    assert [h.id for h in got] == [h.id for h in want] and {h.id for h in got} <= only


def test_bank_wide_cosine_statistics_are_exact_without_a_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "PARTITION_FROM", 100)
    encoder = HashingEncoder()
    vecs = encoder.encode([e.question for e in fake_bank(600)])
    semantic = vectors.SemanticIndex.build(vecs)
    query = encoder.encode(["冰箱什么时候到"])[0]
    cosines = vecs @ query
    assert semantic.cosine_stats(query) == pytest.approx((cosines.mean(), cosines.std()), abs=1e-5)
    positions, probed = semantic.probe(query, share=0.25)
    assert np.allclose(probed, cosines[positions], atol=1e-5)
    assert 0 < len(positions) < len(vecs)


def test_a_live_query_skips_the_embedding_store_and_is_encoded_once() -> None:
    class RecordingStore:
        def __init__(self) -> None:
            self.puts = 0

        def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
            return {}

        def put_many(self, model_id: str, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
            self.puts += 1

    encoder, store = HashingEncoder(), RecordingStore()
    index = ScriptIndex(fake_bank(50), embedder=Embedder(encoder, store))
    puts, encoded = store.puts, len(encoder.encoded)
    first = index.search(["冰箱啥时候发"], k=3)
    assert index.search(["冰箱啥时候发"], k=3) == first
    assert store.puts == puts and encoder.encoded[encoded:] == ["冰箱啥时候发"]


class LeanEncoder(HashingEncoder):
    """A stand-in with a single-query path, counting which path each query took."""

    def __init__(self) -> None:
        super().__init__()
        self.lean: list[str] = []

    def encode_query(self, query: str) -> npt.NDArray[np.float32]:
        self.lean.append(query)
        vector: npt.NDArray[np.float32] = self.encode([query])[0]
        return vector


def test_one_live_query_takes_the_lean_path_once() -> None:
    encoder = LeanEncoder()
    index = ScriptIndex(fake_bank(60), embedder=Embedder(encoder))
    encoder.encoded.clear()
    first = index.search(["耳机不能充电"], k=3)
    again = index.search(["耳机不能充电"], k=3)
    assert first == again and encoder.lean == ["耳机不能充电"]  # the second came from the LRU
    batch = index.search(["耳机不能充电", "手表怎么退货"], k=3)  # batches keep encode()
    assert batch[0] == first[0] and encoder.lean == ["耳机不能充电"]


def test_concurrent_queries_share_the_query_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from scripts_bank import lookup

    monkeypatch.setattr(lookup, "QUERY_CACHE_SIZE", 8)
    index = ScriptIndex(fake_bank(60), embedder=Embedder(LeanEncoder()))
    queries = [f"耳机第{i % 24}次不能充电" for i in range(600)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda q: index.search([q], k=2)[0], queries))
    assert results[:24] == results[24:48]
    assert len(index._query_vectors) <= 8
