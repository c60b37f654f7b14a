"""ONNX Runtime backend of the sentence encoder: a model folder exported once to ONNX, fp32 or int8.

The whole sentence-transformers pipeline (transformer, mean pooling, normalisation) is traced from
the folder's torch weights into ``<folder>/onnx/model.onnx``; ``model_quint8.onnx`` beside it has
the MatMul weights and the word-embedding table quantised to uint8 per channel (ONNX Runtime's
dynamic quantisation): a quarter of the size, and of the variants measured the closest to fp32
(bench/README.md). The export happens on first use and is published atomically, like the folder
rebuild in ``training.nlp.encoder.embedded``; a marker ties it to the weights it came from.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose releases pin
transformers < 4.58 while this project needs transformers 5, so the export and the runtime wrapper
are done here with torch's exporter and plain ``onnxruntime``.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.core.config import EMBEDDED_MODEL, get_settings
from training.nlp.encoder.embedded import embedded_model_dir, embedded_model_id
from training.nlp.encoder.encoder import Encoder, load_sentence_transformer
from training.nlp.encoder.files import publish_dir, sizes_match
from training.nlp.encoder.model_ids import backend_model_id, local_model_id
from training.nlp.encoder.query import MAX_QUERY_TOKENS, QUERY_THREADS, QueryEncoder, Vector, load_tokenizer

#: Backend name -> ONNX file inside the export folder.
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_quint8.onnx"}
EXPORT_SUBDIR = "onnx"
#: Bump when the export recipe changes, so exports made by older code are redone.
_EXPORT_VERSION = 2
_MARKER = "huashu_onnx.json"
_OPSET = 17
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def weights_fingerprint(folder: Path) -> str:
    """Names, sizes and mtimes of a model folder's weight files (its ONNX export left out)."""
    parts = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] == EXPORT_SUBDIR or path.suffix not in {".safetensors", ".bin"}:
            continue
        stat = path.stat()
        parts.append(f"{rel}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def _read_marker(export_dir: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((export_dir / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _is_current(export_dir: Path, folder: Path) -> bool:
    marker = _read_marker(export_dir)
    if marker is None or marker.get("export_version") != _EXPORT_VERSION:
        return False
    if marker.get("source") != weights_fingerprint(folder):
        return False
    return sizes_match(export_dir, marker.get("file_sizes"))


def _export(folder: Path, out: Path) -> None:
    """Trace ``folder``'s sentence-transformers pipeline to ONNX (fp32 + int8) in ``out``."""
    import torch
    from onnxruntime.quantization import (  # type: ignore[import-untyped]
        QuantType,
        quantize_dynamic,
    )

    st = load_sentence_transformer(folder)
    if any(getattr(module, "include_prompt", True) is False for module in st):
        raise ValueError(f"{folder}: pooling that skips the prompt cannot be exported to ONNX")
    tokenizer = st.tokenizer
    # Two lengths, so the traced graph really uses the attention mask.
    sample = tokenizer(["query: 你好", "query: 请问这个订单什么时候发货"], padding=True, return_tensors="pt")
    names = list(sample.keys())

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            out = self.st(dict(zip(names, tensors, strict=True)))
            return out["sentence_embedding"]  # type: ignore[no-any-return]

    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter (the one needing no onnxscript) warns that it is legacy and
        # that traced shape checks become constants; both are expected for this fixed pipeline.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pipeline().eval(),
            tuple(sample[name] for name in names),
            str(out / ONNX_FILES["onnx"]),
            dynamo=False,
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=_OPSET,
        )
        # quantize_dynamic logs a hint to pre-process the graph on the root logger; measured on
        # this model, pre-processing made no measurable speed difference (tried while choosing).
        root_level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                out / ONNX_FILES["onnx"],
                out / ONNX_FILES["onnx-int8"],
                op_types_to_quantize=["MatMul", "Gather"],
                weight_type=QuantType.QUInt8,
                per_channel=True,
            )
        finally:
            logging.getLogger().setLevel(root_level)
    if (folder / "tokenizer.json").is_file():
        # The folder's own files keep its tokenizer class (PreTrainedTokenizerFast for the embedded
        # model); save_pretrained would write transformers' internal class name instead.
        for name in _TOKENIZER_FILES:
            if (folder / name).is_file():
                shutil.copyfile(folder / name, out / name)
    else:
        tokenizer.save_pretrained(str(out))
    marker = {
        "export_version": _EXPORT_VERSION,
        "source": weights_fingerprint(folder),
        "inputs": names,
        "prompts": dict(st.prompts),
        "default_prompt_name": st.default_prompt_name,
        "max_seq_length": st.max_seq_length,
        "dim": st.get_embedding_dimension(),
        "file_sizes": {name: (out / name).stat().st_size for name in ONNX_FILES.values()},
    }
    (out / _MARKER).write_text(json.dumps(marker, indent=2, ensure_ascii=False) + "\n", "utf-8")


def export_is_current(folder: Path) -> bool:
    """True if ``folder`` holds an ONNX export of its present weights (no export needed)."""
    return _is_current(Path(folder) / EXPORT_SUBDIR, Path(folder))


def onnx_export_dir(folder: Path) -> Path:
    """``folder/onnx``, exported from the folder's torch weights first if missing or stale."""
    folder = Path(folder)
    target = folder / EXPORT_SUBDIR
    if _is_current(target, folder):
        return target
    # Export beside the target and rename: readers see no export, the old one or the new one.
    publish_dir(target, lambda out: _export(folder, out), lambda: _is_current(target, folder),
                "the ONNX export")
    return target


class OnnxSentenceModel:
    """Tokenizer + ONNX Runtime session: the part of ``SentenceTransformer`` the encoder uses."""

    def __init__(self, export_dir: Path, backend: str, *, threads: int | None = None) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]
        from transformers import AutoTokenizer

        marker = _read_marker(export_dir)
        if marker is None:
            raise FileNotFoundError(f"{export_dir}: no ONNX export marker")
        self.backend = backend
        self.export_dir = export_dir
        self.prompts: dict[str, str] = dict(marker["prompts"])
        self.default_prompt_name: str | None = marker["default_prompt_name"]
        self.max_seq_length: int = int(marker["max_seq_length"])
        self._dim = int(marker["dim"])
        self._inputs: list[str] = list(marker["inputs"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(export_dir), local_files_only=True)
        self._ort = ort
        self.session: Any = None
        self.set_threads(threads)

    def set_threads(self, threads: int | None) -> None:
        """(Re)open the session with ``threads`` intra-op threads (None: ONNX Runtime's default)."""
        ort = self._ort
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self.session = None  # drop the old session first: two would hold the weights twice
        self.session = ort.InferenceSession(
            str(self.export_dir / ONNX_FILES[self.backend]), options, providers=["CPUExecutionProvider"]
        )

    def get_embedding_dimension(self) -> int:
        """Size of one embedding."""
        return self._dim

    def _run(self, texts: list[str]) -> npt.NDArray[np.float32]:
        features = self.tokenizer(
            texts,
            padding=True,
            truncation="longest_first",
            max_length=self.max_seq_length,
            return_tensors="np",
        )
        feed = {name: np.asarray(features[name], dtype=np.int64) for name in self._inputs}
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)

    def encode(
        self,
        sentences: Sequence[str],
        *,
        prompt_name: str | None = None,
        batch_size: int = 64,
        show_progress_bar: bool = False,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = False,
    ) -> npt.NDArray[np.float32]:
        """Embed ``sentences`` like ``SentenceTransformer.encode`` (prompt, length-sorted batches)."""
        name = prompt_name or self.default_prompt_name
        prefix = self.prompts.get(name, "") if name else ""
        texts = [prefix + s for s in sentences]
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        starts: Iterable[int] = range(0, len(order), batch_size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            idx = order[start : start + batch_size]
            out[idx] = self._run([texts[i] for i in idx])
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def onnx_query_encoder(folder: Path, *, max_tokens: int = MAX_QUERY_TOKENS,
                       threads: int = QUERY_THREADS) -> QueryEncoder | None:
    """The fp32 ONNX export of ``folder`` as a query encoder, or None if there is no current export.

    Never exports (that needs torch, minutes and GBs): without an export the caller keeps torch.
    See ``training.nlp.encoder.query`` for why fp32 serves the torch model's vectors.
    """
    folder = Path(folder)
    if not export_is_current(folder):
        return None
    export = folder / EXPORT_SUBDIR
    marker = json.loads((export / _MARKER).read_text(encoding="utf-8"))
    if not (export / "tokenizer.json").is_file() or marker.get("inputs") not in (
            ["input_ids", "attention_mask"], ["input_ids", "attention_mask", "token_type_ids"]):
        return None
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(export / ONNX_FILES["onnx"]), options,
                                   providers=["CPUExecutionProvider"])
    inputs: list[str] = list(marker["inputs"])

    def forward(ids: npt.NDArray[np.int64]) -> Vector:
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        out: Vector = session.run(None, feed)[0]
        return out

    prompts = marker.get("prompts") or {}
    name = marker.get("default_prompt_name")
    prefix = str(prompts.get(name, "")) if name else ""
    max_tokens = min(max_tokens, int(marker.get("max_seq_length") or max_tokens))
    return QueryEncoder(load_tokenizer(export / "tokenizer.json", max_tokens), forward, prefix, "onnx")


def load_onnx_encoder(model: str, backend: str, *, threads: int | None = None) -> Encoder | None:
    """``model`` run by ONNX Runtime (exported on first use), or None if it is no local folder."""
    if backend not in ONNX_FILES:
        raise ValueError(f"unknown encoder backend {backend!r}; known: torch, {', '.join(ONNX_FILES)}")
    if model == EMBEDDED_MODEL:
        folder, base_id = embedded_model_dir(get_settings().cache_dir), embedded_model_id()
    elif Path(model).is_dir():
        folder, base_id = Path(model), local_model_id(model)
    else:
        return None
    session_model = OnnxSentenceModel(onnx_export_dir(folder), backend, threads=threads)
    own_folder = None if model == EMBEDDED_MODEL else folder
    return Encoder(session_model, backend_model_id(base_id, backend), own_folder)
