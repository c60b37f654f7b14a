"""Strict JSON Lines input and all-or-nothing output for the batch CLI."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO


class InputError(ValueError):
    """Bad input; the message names the file and the line."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


def read_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; raise InputError on bad lines."""
    try:
        handle = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise InputError(path, None, f"无法打开文件（{exc.strerror}）") from exc
    seen_any = False
    with handle:
        line_no = 0
        try:
            for line_no, line in enumerate(handle, start=1):  # noqa: B007 - used after the loop
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(path, line_no, f"不是合法的 JSON（{exc.msg}）") from exc
                if not isinstance(obj, dict):
                    raise InputError(path, line_no, "每行必须是一个 JSON 对象")
                seen_any = True
                yield line_no, obj
        except UnicodeDecodeError as exc:
            raise InputError(path, line_no + 1, "不是 UTF-8 编码") from exc
    if not seen_any:
        raise InputError(path, None, "文件为空，没有任何输入行")


def require_str(obj: dict[str, Any], key: str, path: Path, line: int, *,
                optional: bool = False) -> str | None:
    """The string field ``key`` of ``obj`` or an InputError naming it."""
    if key not in obj or obj[key] is None:
        if optional:
            return None
        raise InputError(path, line, f"缺少字段 \"{key}\"")
    value = obj[key]
    if not isinstance(value, str):
        raise InputError(path, line, f"字段 \"{key}\" 应为字符串，实际为 {type(value).__name__}")
    return value


@contextmanager
def atomic_output(path: Path) -> Iterator[TextIO]:
    """Write to a temp file beside ``path``; rename into place only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_line(handle: TextIO, obj: dict[str, Any]) -> None:
    """One compact UTF-8 JSON object per line."""
    handle.write(json.dumps(obj, ensure_ascii=False) + "\n")
