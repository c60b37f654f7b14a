"""What every `huashu` command shares: the file cap, the encoder, reading files and JSONL fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.core.config import get_settings
from training.core.jsonl import InputError, require_str
from training.nlp.embeddings import DiskEmbeddingStore, Embedder

#: The CLI is for batch jobs on the trainer's own files: a far larger cap than web uploads.
CLI_FILE_LIMIT = 2 * 1024**3


def embedder(model: str | None) -> Embedder:
    """The encoder ``model`` (default: the configured one) with the CLI's on-disk vector cache."""
    from training.nlp.encoder.load import load_encoder  # deferred: torch loads only when needed

    settings = get_settings()
    store = DiskEmbeddingStore(settings.cache_dir / "cli-embeddings.sqlite")
    return Embedder(load_encoder(model or settings.model), store)


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
