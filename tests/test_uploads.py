"""The upload gate (training.core.uploads): size limit, old formats, UTF-16, zip bombs, encodings."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest

from training.core.config import get_settings
from training.core.errors import UserError
from training.core.uploads import (
    XLSX_MAX_EXPANSION,
    TableError,
    check_upload,
    decode_text,
    is_workbook,
    upload_limit_bytes,
)


class OwnError(UserError):
    """An importer's own error class."""


@pytest.fixture
def one_mb_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUASHU_UPLOAD_LIMIT_MB", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _archive(unpacked: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bytes(unpacked))
    return out.getvalue()


def test_the_limit_comes_from_the_settings(one_mb_limit: None) -> None:
    assert upload_limit_bytes() == 2**20
    assert check_upload(b"a,b\n", file_name="a.csv") == 2**20
    with pytest.raises(TableError, match="大小 1.5 MB，超过上传上限 1 MB"):
        check_upload(b"x" * (3 * 2**19), file_name="a.csv")
    assert check_upload(b"x" * (3 * 2**19), file_name="a.csv", limit_bytes=2 * 2**20) == 2 * 2**20


@pytest.mark.parametrize(("raw", "name", "message"), [
    (b"", "a.csv", "是空的"),
    (b" \r\n\t", "a.csv", "是空的"),
    (b"\xd0\xcf\x11\xe0" + bytes(40), "a.xlsx", "旧版 Excel"),
    (b"a,b\n", "a.xls", "旧版 Excel"),
    ("会话,角色\n".encode("utf-16"), "a.csv", "UTF-16"),
    (b"PK\x03\x04garbage", "a.csv", "不是有效的 Excel"),
    (b"not a zip", "a.xlsx", "不是有效的 Excel"),
])
def test_what_no_importer_reads_is_refused_with_the_callers_error(
    raw: bytes, name: str, message: str,
) -> None:
    with pytest.raises(OwnError, match=message):
        check_upload(raw, file_name=name, error=OwnError)


def test_zip_bombs_are_refused_whatever_the_name(one_mb_limit: None) -> None:
    bomb = _archive(XLSX_MAX_EXPANSION * 2**20 + 1)
    for name in ("a.xlsx", "a.csv", "a"):
        with pytest.raises(TableError, match="解压后过大"):
            check_upload(bomb, file_name=name)
        with pytest.raises(TableError, match="解压后过大"):  # a zip behind a prefix still opens
            check_upload(b"junk" + bomb, file_name=name)
    assert check_upload(_archive(XLSX_MAX_EXPANSION * 2**20), file_name="a.xlsx") == 2**20


def test_workbooks_are_recognised_by_name_or_content() -> None:
    assert is_workbook(b"anything", "a.XLSX") and is_workbook(b"PK\x03\x04", "a.csv")
    assert is_workbook(b"junk" + _archive(10), "a.csv")
    assert not is_workbook(b"a,b\n1,2\n", "a.csv")


def test_utf8_bom_and_gbk_decode_and_the_rest_is_refused() -> None:
    text = "用户名,姓名\nli,李雷\n"
    for raw in (text.encode(), ("\ufeff" + text).encode(), text.encode("gbk")):
        assert decode_text(raw, file_name="a.csv") == text
    with pytest.raises(OwnError, match="编码无法识别"):
        decode_text(b"\x81\x30\xff", file_name="a.csv", error=OwnError)
