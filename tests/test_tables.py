"""Uploaded tables: encodings, size limit, and formula-safe exports."""

from __future__ import annotations

import pandas as pd
import pytest

from training.core.tables import TableError, read_table, safe_export
from training.core.uploads import decode_text


def test_utf8_bom_and_gbk_decode_the_same() -> None:
    text = "用户名,姓名\nli,李雷\n"
    assert decode_text(("\ufeff" + text).encode("utf-8"), file_name="a.csv") == text
    assert decode_text(text.encode("gbk"), file_name="a.csv") == text


def test_undecodable_bytes_get_a_chinese_error() -> None:
    with pytest.raises(TableError, match="编码无法识别"):
        decode_text(b"\xff\xfe\xfa\x80\x81", file_name="a.csv")


def test_size_limit_is_enforced_before_parsing() -> None:
    with pytest.raises(TableError, match="超过上传上限 1 MB"):
        read_table(b"a,b\n" * 400_000, file_name="big.csv", limit_bytes=1024 * 1024)


def test_exports_neutralise_formulas() -> None:
    frame = pd.DataFrame({"答案": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "正常"],
                          "分数": [1, 2, 3, 4, 5]})
    safe = safe_export(frame)
    assert list(safe["答案"]) == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "正常"]
    assert list(safe["分数"]) == [1, 2, 3, 4, 5]
