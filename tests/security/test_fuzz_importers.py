"""Importers fuzzed with hypothesis: every upload is stored whole or refused with a Chinese UserError.

Shapes tried on each importer (chat logs: CSV/TSV/XLSX/JSONL; the 话术 table; knowledge items; the
bulk user import):
random bytes, real XLSX bytes cut at a random point or with flipped bytes, wrong delimiters,
rows in UTF-8 and GBK mixed within one file, random cells, 10^6-character cells, empty files
and row counts past the size limit. Anything but a parse or a UserError fails the test, and a
refused upload must leave no row behind.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, func, select

from scripts_bank.authoring import import_scripts
from scripts_bank.io import ScriptRow, read_script_table, scripts_table
from training.auth import accounts
from training.chats.importer import import_chat_log
from training.chats.parsers import parse_chat_log, read_header
from training.core.config import PROJECT_ROOT, get_settings
from training.core.errors import UserError
from training.exams import knowledge
from training.models import (
    ChatImport,
    ChatMessage,
    Cohort,
    KnowledgeItem,
    Role,
    Script,
    ScriptVersion,
    User,
)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
CHINESE = re.compile(r"[\u4e00-\u9fff]")
BIG_CELL = 10**6
Table = list[list[str]]


def _chat_table() -> Table:
    lines = (PROJECT_ROOT / "data" / "demo" / "chatlog.tsv").read_text(encoding="utf-8").splitlines()
    return [["会话ID", "发送方", "内容"]] + [[r[0], r[2], r[6]] for r in (x.split("\t") for x in lines[:40])]


def _script_table() -> Table:
    rows = [ScriptRow(f"第{i}个问题：多久发货？", f"亲，付款后{i}小时内发货哦", "物流配送", ["发货"])
            for i in range(20)]
    frame = scripts_table(rows)
    return [list(frame.columns)] + frame.astype(str).values.tolist()


def _knowledge_table() -> Table:
    text = (PROJECT_ROOT / "data" / "demo" / "knowledge_items.csv").read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))[:21]


def _user_table() -> Table:
    rows = [[f"fuzz{i}", f"新人{i}", "新人", "一月班"] for i in range(5)]
    return [list(accounts.BULK_HEADERS.values()), *rows]


def to_text(table: Table, sep: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\n").writerows(table)
    return out.getvalue()


def to_xlsx(table: Table) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_of(model: type[SQLModel], session: Session) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def actor(session: Session, role: Role = Role.TRAINER) -> User:
    user = session.exec(select(User).where(User.username == f"fuzz-{role.value}")).first()
    if user is None:
        user = User(username=f"fuzz-{role.value}", display_name="模糊测试", role=role.value,
                    password_hash="x")
        session.add(user)
        session.commit()
        session.refresh(user)
    return user


def outcome(call: Callable[[], object]) -> str:
    """"parsed", or "refused" for a UserError with a Chinese message; anything else propagates."""
    try:
        call()
    except UserError as exc:
        assert CHINESE.search(str(exc)), f"refusal without a Chinese message: {exc!r}"
        return "refused"
    return "parsed"


def import_chats(session: Session, raw: bytes, name: str) -> str:
    """The chat-log import as the page runs it: header for the mapping step, then the import."""
    before = (rows_of(ChatImport, session), rows_of(ChatMessage, session))
    if outcome(lambda: read_header(raw, file_name=name)) == "refused":
        assert outcome(lambda: parse_chat_log(raw, file_name=name)) == "refused"
    stored: list[int] = []
    result = outcome(lambda: stored.append(import_chat_log(
        session=session, actor=actor(session), raw=raw, file_name=name).message_count))
    after = (rows_of(ChatImport, session), rows_of(ChatMessage, session))
    assert after == ((before[0] + 1, before[1] + stored[0]) if stored else before)
    return result


def import_script_table(session: Session, raw: bytes, name: str) -> str:
    """The 话术 table import: parse, then store all rows as approved scripts or none."""
    before = (rows_of(Script, session), rows_of(ScriptVersion, session))
    parsed: list[list[ScriptRow]] = []
    result = outcome(lambda: parsed.append(read_script_table(raw, file_name=name)))
    if parsed:
        result = outcome(lambda: import_scripts(session=session, actor=actor(session), rows=parsed[0]))
    count = len(parsed[0]) if parsed and result == "parsed" else 0
    after = (rows_of(Script, session), rows_of(ScriptVersion, session))
    assert after == (before[0] + count, before[1] + count)
    return result


def import_knowledge(session: Session, raw: bytes, name: str) -> str:
    """The knowledge-item import: all valid rows stored, or row errors / a refusal and nothing stored."""
    before = rows_of(KnowledgeItem, session)
    results: list[knowledge.KnowledgeImport] = []
    result = outcome(lambda: results.append(knowledge.import_items(
        session=session, actor=actor(session), raw=raw, file_name=name, limit_bytes=4 * BIG_CELL)))
    if results and results[0].errors:
        assert results[0].created == 0 and all(CHINESE.search(e) for e in results[0].errors)
        result = "row errors"
    created = results[0].created if results else 0
    assert rows_of(KnowledgeItem, session) == before + created
    return result


def import_users(session: Session, raw: bytes, name: str) -> str:
    """The bulk user import: every account created, or row errors / a refusal and none created."""
    admin = actor(session, Role.ADMIN)
    before = (rows_of(User, session), rows_of(Cohort, session))
    results: list[accounts.BulkResult] = []
    result = outcome(lambda: results.append(accounts.bulk_create_users(
        session=session, actor=admin, raw=raw, file_name=name)))
    if results and results[0].errors:
        assert results[0].created == [] and all(CHINESE.search(e) for e in results[0].errors)
        result = "row errors"
    created = len(results[0].created) if results else 0
    assert rows_of(User, session) == before[0] + created
    assert created or rows_of(Cohort, session) == before[1]
    return result


@dataclass(frozen=True)
class Target:
    """One importer with a valid sample table and the file names its page accepts."""

    run: Callable[[Session, bytes, str], str]
    table: Table
    names: tuple[str, ...]


TARGETS = {
    "chat": Target(import_chats, _chat_table(), ("log.csv", "log.tsv", "log.xlsx", "log.jsonl", "log.txt")),
    "scripts": Target(import_script_table, _script_table(),
                      ("bank.csv", "bank.tsv", "bank.xlsx", "bank.txt")),
    "knowledge": Target(import_knowledge, _knowledge_table(), ("items.csv", "items.xlsx")),
    "users": Target(import_users, _user_table(), ("users.csv", "users.xlsx")),
}
XLSX = {name: to_xlsx(target.table) for name, target in TARGETS.items()}


def _flip(raw: bytes, spots: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for position, mask in spots:
        data[position % len(data)] ^= mask
    return bytes(data)


def _corrupt_member(raw: bytes, member: str) -> bytes:
    """``raw`` with the first compressed byte of ``member`` inverted (zlib fails, not the CRC)."""
    info = zipfile.ZipFile(io.BytesIO(raw)).getinfo(member)
    name_and_extra = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little") \
        + int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    return _flip(raw, [(info.header_offset + 30 + name_and_extra, 0xFF)])


def _mixed(table: Table, encodings: list[str]) -> bytes:
    lines = to_text(table).splitlines(keepends=True)
    return b"".join(line.encode(encodings[i % len(encodings)], errors="replace")
                    for i, line in enumerate(lines))


def shapes(target: str) -> dict[str, st.SearchStrategy[tuple[bytes, str]]]:
    """Hostile uploads for one importer, by shape."""
    spec, xlsx = TARGETS[target], XLSX[target]
    names = st.sampled_from(spec.names)
    cell = st.text(st.characters(codec="utf-8"), max_size=30)
    return {
        "random bytes": st.tuples(st.binary(max_size=3000), names),
        "truncated xlsx": st.tuples(st.integers(0, len(xlsx) - 1).map(lambda n: xlsx[:n]),
                                    st.sampled_from(("t.xlsx", "t.csv", "t"))),
        "corrupted xlsx": st.tuples(st.lists(st.tuples(st.integers(0, len(xlsx) - 1), st.integers(1, 255)),
                                             min_size=1, max_size=8).map(lambda s: _flip(xlsx, s)),
                                    st.just("t.xlsx")),
        "wrong delimiter": st.tuples(st.sampled_from([";", "|", "\t", ",", " ", "，", ":"]).map(
            lambda sep: to_text(spec.table, sep).encode()), names),
        "mixed encodings": st.tuples(
            st.lists(st.sampled_from(["utf-8", "gbk", "utf-8-sig", "gb18030"]), min_size=2, max_size=6)
            .map(lambda e: _mixed(spec.table, e)), names),
        "random cells": st.tuples(st.lists(st.lists(cell, max_size=8), max_size=6).map(
            lambda rows: to_text(spec.table[:1] + rows + spec.table[1:4]).encode()), names),
    }


SHAPES = [(target, shape) for target in TARGETS for shape in shapes(target)]


@FUZZ
@pytest.mark.parametrize(("target", "shape"), SHAPES)
@given(data=st.data())
def test_hostile_uploads_are_parsed_or_refused_and_never_half_stored(
    session: Session, target: str, shape: str, data: st.DataObject,
) -> None:
    raw, name = data.draw(shapes(target)[shape])
    event(TARGETS[target].run(session, raw, name))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
_JSON_KEYS = st.sampled_from(
    ["session", "session_id", "role", "sender", "text", "content", "time", "sent_at"])
_JSON_LINES = st.lists(st.dictionaries(_JSON_KEYS, _JSON_VALUES), min_size=1, max_size=8).map(
    lambda objs: "\n".join(json.dumps(o) for o in objs).encode())


@FUZZ
@given(raw=_JSON_LINES | st.text(max_size=300).map(str.encode))
def test_random_json_lines_are_parsed_or_refused(session: Session, raw: bytes) -> None:
    event(import_chats(session, raw, "log.jsonl"))


# --- fixed shapes: fuzz findings, huge cells, empty files, row counts -----------------------

FINDINGS = [  # each crashed before its fix (see training/chats/parsers.py and training/exams/knowledge.py)
    ("chat", b'{"session": "s", "role": 0, "text": ' + b"9" * 5000 + b"}\n", "log.jsonl", "refused"),
    ("knowledge", _corrupt_member(XLSX["knowledge"], "xl/worksheets/sheet1.xml"), "items.xlsx", "refused"),
]


@pytest.mark.parametrize(("target", "raw", "name", "expected"), FINDINGS)
def test_fuzz_findings_stay_fixed(
    session: Session, target: str, raw: bytes, name: str, expected: str,
) -> None:
    assert TARGETS[target].run(session, raw, name) == expected


def _big_cell_upload(target: str, fmt: str, char: str) -> tuple[bytes, str]:
    table = [list(row) for row in TARGETS[target].table[:3]]
    table[1][-1 if target == "chat" else 1] = char * BIG_CELL
    if fmt == "jsonl":
        lines = [json.dumps({"session": r[0], "role": r[1], "text": r[2]}) for r in table[1:]]
        return "\n".join(lines).encode(), "x.jsonl"
    return (to_xlsx(table), "x.xlsx") if fmt == "xlsx" else (to_text(table).encode("utf-8"), "x.csv")


@pytest.mark.parametrize(("target", "fmt", "expected"), [
    ("chat", "csv", "refused"), ("chat", "jsonl", "parsed"), ("chat", "xlsx", "parsed"),
    ("scripts", "csv", "refused"), ("scripts", "xlsx", "refused"),
    ("knowledge", "csv", "parsed"), ("knowledge", "xlsx", "parsed"),
    ("users", "csv", "row errors"), ("users", "xlsx", "row errors"),
])
@pytest.mark.parametrize("char", ["好", '"'])
def test_million_character_cells(session: Session, target: str, fmt: str, expected: str, char: str) -> None:
    raw, name = _big_cell_upload(target, fmt, char)
    assert TARGETS[target].run(session, raw, name) == expected


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("raw", [b"", b"\n\n", b"\xef\xbb\xbf", b" \t\r\n", b"\x00" * 64, "header-only"])
def test_empty_files_are_refused(session: Session, target: str, raw: bytes | str) -> None:
    upload = to_text(TARGETS[target].table[:1]).encode() if raw == "header-only" else raw
    assert isinstance(upload, bytes)
    for name in TARGETS[target].names:
        assert TARGETS[target].run(session, upload, name) in ("refused", "row errors"), name


def test_row_counts_past_the_size_limit_are_refused_before_parsing(session: Session) -> None:
    header, row = TARGETS["chat"].table[0], TARGETS["chat"].table[1]
    raw = to_text([header] + [[f"s{i // 10}", row[1], f"{row[2]}{i}"] for i in range(30_000)]).encode()
    assert len(parse_chat_log(raw, file_name="big.csv").lines) == 30_000
    assert outcome(lambda: parse_chat_log(raw, file_name="big.csv", limit_bytes=len(raw) - 1)) == "refused"
    script_raw = to_text(TARGETS["scripts"].table[:1] + TARGETS["scripts"].table[1:2] * 30_000).encode()
    assert len(read_script_table(script_raw, file_name="bank.csv")) == 30_000
    assert outcome(lambda: read_script_table(script_raw, file_name="bank.csv",
                                             limit_bytes=len(script_raw) - 1)) == "refused"
    frame = pd.DataFrame(TARGETS["knowledge"].table[1:2] * 30_000, columns=TARGETS["knowledge"].table[0])
    items_raw = frame.to_csv(index=False).encode()
    assert len(items_raw) > 4 * BIG_CELL  # past import_knowledge's limit
    with pytest.raises(UserError, match="超过上传上限"):
        knowledge.import_items(session=session, actor=actor(session), raw=items_raw, file_name="items.csv",
                               limit_bytes=4 * BIG_CELL)
    assert rows_of(KnowledgeItem, session) == 0


def test_bulk_user_files_past_the_upload_limit_are_refused(
    session: Session, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bulk user import has the settings' upload limit, like the other importers."""
    monkeypatch.setenv("HUASHU_UPLOAD_LIMIT_MB", "1")
    get_settings.cache_clear()
    admin = actor(session, Role.ADMIN)
    rows = [[f"u{i}", "新人", "新人", ""] for i in range(60_000)]
    raw = to_text(TARGETS["users"].table[:1] + rows).encode()
    assert len(raw) > 2**20
    with pytest.raises(UserError, match="超过上传上限 1 MB"):
        accounts.bulk_create_users(session=session, actor=admin, raw=raw, file_name="users.csv")
    assert rows_of(User, session) == 1


def _zip_bomb(unpacked_mb: int) -> bytes:
    """A small archive shaped like an XLSX whose sheet unpacks to ``unpacked_mb`` MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(unpacked_mb):
                member.write(bytes(2**20))
    return out.getvalue()


DIRECT: dict[str, Callable[[Session, bytes, str], object]] = {  # each importer, its errors not swallowed
    "chat": lambda s, raw, name: parse_chat_log(raw, file_name=name),
    "scripts": lambda s, raw, name: read_script_table(raw, file_name=name),
    "knowledge": lambda s, raw, name: knowledge.import_items(
        session=s, actor=actor(s), raw=raw, file_name=name, limit_bytes=4 * BIG_CELL),
    "users": lambda s, raw, name: accounts.bulk_create_users(
        session=s, actor=actor(s, Role.ADMIN), raw=raw, file_name=name),
}


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("name", ["bomb.xlsx", "bomb.csv"])
def test_zip_bombs_are_refused_by_every_importer_before_unpacking(
    session: Session, target: str, name: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upload gate sums the archive's unpacked sizes: past 20 × the limit, nothing unpacks it."""
    monkeypatch.setenv("HUASHU_UPLOAD_LIMIT_MB", "1")
    get_settings.cache_clear()
    bomb = _zip_bomb(100)  # past 20 × the 1 MB limit and 20 × knowledge's own 4 MB
    assert len(bomb) < 2**20
    with pytest.raises(UserError, match="解压后过大"):
        DIRECT[target](session, bomb, name)
