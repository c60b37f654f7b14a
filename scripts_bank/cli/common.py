"""What every `huashu` command shares: the file cap, the encoder, reading files and JSONL fields."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from training.core.config import get_settings
from training.core.jsonl import InputError, require_str
from training.nlp.embeddings import DiskEmbeddingStore, Embedder

#: The CLI is for batch jobs on the trainer's own files: a far larger cap than web uploads.
CLI_FILE_LIMIT = 2 * 1024**3


def embedder(model: str | None) -> Embedder:
    """The encoder ``model`` (default: the configured one) with the CLI's on-disk vector cache.

    A ``--model`` that names a missing folder, or that cannot be loaded, is bad input: InputError.
    """
    from training.nlp.encoder.load import load_encoder  # deferred: torch loads only when needed

    settings = get_settings()
    store = DiskEmbeddingStore(settings.cache_dir / "cli-embeddings.sqlite")
    if model is None:
        return Embedder(load_encoder(settings.model), store)
    if looks_like_path(model) and not Path(model).expanduser().is_dir():
        raise InputError(Path(model), None, "模型文件夹不存在")
    try:
        return Embedder(load_encoder(model), store)
    except Exception as exc:  # noqa: BLE001 - any loader failure means this --model is unusable
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(Path(model), None, f"无法加载模型（{reason[:200]}）") from exc


def looks_like_path(model: str) -> bool:
    """True if ``--model`` is written as a folder path rather than a model name (``org/name``)."""
    return model.startswith(("/", ".", "~")) or "\\" in model or Path(model).expanduser().exists()


def check_output(path: Path) -> None:
    """Refuse an ``--output`` that cannot be written before any work starts (InputError)."""
    if path.is_dir():
        raise InputError(path, None, "输出路径是一个文件夹")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(path, None, "无法写出输出文件（所在位置不是可写的文件夹）")


def unique_id(obj: dict[str, Any], path: Path, line: int, seen: dict[str, int]) -> str:
    """The line's string ``id``; InputError if it repeats an earlier line's (``seen`` records them)."""
    value = require_str(obj, "id", path, line)
    assert value is not None
    if value in seen:
        raise InputError(path, line, f"id \"{value}\" 与第 {seen[value]} 行重复")
    seen[value] = line
    return value


def text(obj: dict[str, Any], key: str, path: Path, line: int) -> str:
    """The required string field ``key`` of one line."""
    value = require_str(obj, key, path, line)
    assert value is not None
    return value


def read_bytes(path: Path) -> bytes:
    """The whole file; InputError naming it if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"无法读取文件（{exc.strerror}）") from exc
