"""The ONNX Runtime backends of the encoder: export, cache ids, agreement with torch."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from training.core.config import EMBEDDED_MODEL, Settings, get_settings
from training.nlp.encoder import onnx as onnx_mod
from training.nlp.encoder.embedded import embedded_model_dir, embedded_model_id
from training.nlp.encoder.encoder import Encoder
from training.nlp.encoder.load import load_encoder
from training.nlp.encoder.model_ids import backend_model_id, local_model_id
from training.nlp.encoder.onnx import export_is_current, load_onnx_encoder, onnx_export_dir

SENTENCES = [
    "亲，请问这件衣服什么时候发货？",
    "退款多久能到账",
    "ＸＬ码还有货吗",
    "中间有\t制表符\n和换行",
    "谢谢亲😊",
    "Can I pay with PayPal?",
    "这个充电器支持快充（PD 20W）吗",
    "好" * 600,  # longer than max_seq_length: truncated the same way
]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The embedded model in a fresh cache dir, exported to ONNX once for the module."""
    data_dir = tmp_path_factory.mktemp("huashu-onnx-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUASHU_DATA_DIR", str(data_dir))
        mp.delenv("HUASHU_MODEL", raising=False)
        mp.delenv("HUASHU_ENCODER_BACKEND", raising=False)
        get_settings.cache_clear()
        load_encoder.cache_clear()
        folder = embedded_model_dir(get_settings().cache_dir)
        onnx_export_dir(folder)
        yield folder
    get_settings.cache_clear()
    load_encoder.cache_clear()


@pytest.fixture(scope="module")
def torch_encoder(model_folder: Path) -> Encoder:
    """The embedded encoder on torch."""
    return load_encoder(EMBEDDED_MODEL, "torch")


def test_backend_model_ids_differ() -> None:
    ids = {backend_model_id("m", b) for b in ("torch", "onnx", "onnx-int8")}
    assert len(ids) == 3
    assert backend_model_id("m", "torch") == "m"  # torch keeps the ids existing caches use


def test_backend_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUASHU_ENCODER_BACKEND", "onnx-int8")
    assert Settings().encoder_backend == "onnx-int8"
    monkeypatch.setenv("HUASHU_ENCODER_BACKEND", "tensorrt")
    with pytest.raises(ValidationError):
        Settings()
    assert Settings.model_fields["encoder_backend"].default == "torch"


def test_a_model_name_that_is_no_folder_is_left_to_torch() -> None:
    assert load_onnx_encoder("no-such-org/no-such-model", "onnx") is None
    with pytest.raises(ValueError, match="unknown encoder backend"):
        load_onnx_encoder(EMBEDDED_MODEL, "openvino")


@pytest.mark.encoder
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_agrees_with_torch(model_folder: Path, torch_encoder: Encoder, backend: str) -> None:
    enc = load_encoder(EMBEDDED_MODEL, backend)
    assert enc.model_id == f"{embedded_model_id()}#{backend}" != torch_encoder.model_id
    assert enc.dim == torch_encoder.dim == 384
    tok, ref_tok = enc.sentence_transformer.tokenizer, torch_encoder.sentence_transformer.tokenizer
    for s in SENTENCES:
        assert tok("query: " + s)["input_ids"] == ref_tok("query: " + s)["input_ids"]
    for prompt in (None, "passage"):
        ours = enc.encode(SENTENCES, batch_size=3, prompt_name=prompt)
        ref = torch_encoder.encode(SENTENCES, prompt_name=prompt)
        assert ours.dtype == np.float32 and ours.shape == ref.shape
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cos = np.sum(ours * ref, axis=1)
        if backend == "onnx":
            assert np.abs(ours - ref).max() < 1e-4
        else:  # int8 weights: close, not equal (bench/backends.py measures the quality cost)
            # Measured ≥ 0.996 on the short ones; 512 repeats of one character drift most (0.966).
            assert cos[:-1].min() > 0.99 and cos[-1] > 0.95, cos
    # length-sorted batches must not reorder rows or change a text's vector (beyond int8 noise:
    # dynamic quantisation scales activations per batch, so batch-mates shift a vector a little)
    one_by_one = np.vstack([enc.encode([s]) for s in SENTENCES])
    batched = enc.encode(SENTENCES, batch_size=3)
    if backend == "onnx":
        assert np.allclose(batched, one_by_one, atol=1e-4)
    else:
        same = np.sum(batched * one_by_one, axis=1)  # measured ≥ 0.996, the 512-token one 0.955
        assert same[:-1].min() > 0.99 and same[-1] > 0.9, same
        assert np.argmax(batched @ one_by_one.T, axis=1).tolist() == list(range(len(SENTENCES)))
    assert enc.encode([]).shape == (0, 384)


@pytest.mark.encoder
def test_configured_backend_is_the_default(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_encoder.cache_clear()  # load_encoder() is cached per argument list, settings included
    monkeypatch.setenv("HUASHU_ENCODER_BACKEND", "onnx-int8")
    get_settings.cache_clear()
    try:
        enc = load_encoder()
        assert enc is load_encoder(EMBEDDED_MODEL, "onnx-int8")
        assert enc.model_id == f"{embedded_model_id()}#onnx-int8"
    finally:
        monkeypatch.delenv("HUASHU_ENCODER_BACKEND")
        get_settings.cache_clear()
        load_encoder.cache_clear()


@pytest.mark.encoder
def test_a_local_folder_runs_on_onnx_under_its_own_id(model_folder: Path) -> None:
    # A folder given by path (how `huashu adapt` models are loaded) uses the same export.
    enc = load_encoder(str(model_folder), "onnx-int8")
    assert enc.model_id == f"{local_model_id(str(model_folder))}#onnx-int8"
    assert enc.sentence_transformer.export_dir == model_folder / "onnx"


@pytest.mark.encoder
def test_export_goes_stale_when_the_weights_change(model_folder: Path) -> None:
    weights = model_folder / "model.safetensors"
    stat = weights.stat()
    assert export_is_current(model_folder)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert not export_is_current(model_folder)
    finally:
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert export_is_current(model_folder)


# --------------------------------------------------------------------------- atomic export
# The folder logic with a fake, instant exporter; the real export is covered above.


@pytest.fixture
def fake_exports(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the (~1 min) real export by one writing only what the marker check reads."""
    calls: list[Path] = []

    def fake_export(folder: Path, out: Path) -> None:
        calls.append(out)
        for name in onnx_mod.ONNX_FILES.values():
            (out / name).write_text(str(len(calls)), encoding="utf-8")
        marker = {
            "export_version": onnx_mod._EXPORT_VERSION,
            "source": onnx_mod.weights_fingerprint(folder),
            "file_sizes": {n: (out / n).stat().st_size for n in onnx_mod.ONNX_FILES.values()},
        }
        (out / onnx_mod._MARKER).write_text(json.dumps(marker), encoding="utf-8")

    monkeypatch.setattr(onnx_mod, "_export", fake_export)
    return calls


def test_export_is_made_once_and_replaced_whole_when_stale(
    tmp_path: Path, fake_exports: list[Path]
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_text("weights v1", encoding="utf-8")
    target = onnx_export_dir(folder)
    assert target == folder / "onnx" and onnx_export_dir(folder) == target
    assert len(fake_exports) == 1
    (target / "leftover.txt").write_text("stale", encoding="utf-8")
    (folder / "model.safetensors").write_text("weights v2, other size", encoding="utf-8")
    assert not export_is_current(folder)
    assert onnx_export_dir(folder) == target
    assert len(fake_exports) == 2
    assert not (target / "leftover.txt").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors", "onnx"]  # no temp dirs


# ------------------------------------------------------------------ the lean query path (issue 21)

SHORT = [s for s in SENTENCES if len(s) < 100]


@pytest.mark.encoder
def test_lean_onnx_queries_give_the_torch_vectors(model_folder: Path, torch_encoder: Encoder) -> None:
    from training.nlp.encoder.onnx import onnx_query_encoder

    lean = onnx_query_encoder(model_folder)
    assert lean is not None and lean.backend == "onnx"
    ref_tok = torch_encoder.sentence_transformer.tokenizer
    for s in SHORT:
        assert lean.token_ids(s) == ref_tok("query: " + s)["input_ids"]
    ref = torch_encoder.encode(SHORT)
    ours = np.vstack([lean.encode(s) for s in SHORT])
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 1e-5
    # A long paste is cut at MAX_QUERY_TOKENS (special tokens included), not at 512.
    from training.nlp.encoder.query import MAX_QUERY_TOKENS

    assert len(lean.token_ids("好" * 600)) == MAX_QUERY_TOKENS


@pytest.mark.encoder
def test_lean_torch_queries_give_the_torch_vectors(model_folder: Path, torch_encoder: Encoder) -> None:
    from training.nlp.encoder.query import torch_query_encoder

    lean = torch_query_encoder(torch_encoder.sentence_transformer)
    assert lean is not None and lean.backend == "torch"
    ref = torch_encoder.encode(SHORT)
    assert np.abs(np.vstack([lean.encode(s) for s in SHORT]) - ref).max() < 1e-5


@pytest.mark.encoder
def test_the_default_encoder_answers_queries_before_loading_torch(model_folder: Path) -> None:
    load_encoder.cache_clear()
    try:
        enc = load_encoder(EMBEDDED_MODEL, "torch")
        assert isinstance(enc, Encoder) and enc.model_id == embedded_model_id()  # the torch id
        assert enc.query is not None and enc.query.backend == "onnx"
        assert not enc.loaded and enc.dim == 384
        vectors = np.vstack([enc.encode_query(s) for s in SHORT])
        assert not enc.loaded
        assert np.abs(vectors - enc.encode(SHORT)).max() < 1e-5  # loads torch now
        assert enc.loaded
    finally:
        load_encoder.cache_clear()


@pytest.mark.encoder
def test_a_fresh_process_queries_without_torch(model_folder: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from training.nlp.encoder.load import load_encoder\n"
        "enc = load_encoder()\n"
        "assert enc.encode_query('退款多久能到账').shape == (384,)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "HUASHU_DATA_DIR": str(model_folder.parents[2])}
    env.pop("HUASHU_ENCODER_BACKEND", None)
    env.pop("HUASHU_MODEL", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=False, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
