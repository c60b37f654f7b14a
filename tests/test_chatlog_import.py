"""Chat-log parsing (every format and encoding) and the all-or-nothing, role-checked import."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from training.auth.permissions import PermissionDenied
from training.chats import importer
from training.chats.importer import DuplicateImportError, import_chat_log, list_imports
from training.chats.masking import ADDRESS, BANK_CARD, EMAIL, ID_CARD, NAME, PHONE
from training.chats.parsers import detect_format, parse_chat_log, read_header
from training.chats.readers import ColumnMapping, propose_mapping
from training.chats.rows import MAX_MESSAGE_CHARS, TRUNCATION_MARK, ChatLogError, MaskedChatLog
from training.chats.types import AGENT, CUSTOMER
from training.core.config import PROJECT_ROOT, get_settings
from training.core.tables import TableError
from training.models import AuditLog, ChatImport, ChatMessage, Role, User

DEMO = PROJECT_ROOT / "data" / "demo" / "chatlog.tsv"
JD_SAMPLE = Path("/work/shared/data/jddc_chat_sample/chat_0.1per.txt")

Record = tuple[str, str, str]  # session, role ("0"/"1"), text

# The fictional personal data planted in the demo log (see data/demo/README.md).
DEMO_PII = (
    "13812345678", "13900001111", "15800003333", "18700002222", "110101199003071233",
    "6222021234567890128", "6217000012345670", "chenyu_demo@example.com", "lin.caiwu@example.com",
    "浙江省杭州市西湖区文三路138号3幢1203室", "江苏省南京市鼓楼区中山北路88号5栋602室",
    "广东省深圳市南山区科技园南路16号2单元801室",
)


def demo_records() -> list[Record]:
    rows = [line.split("\t") for line in DEMO.read_text(encoding="utf-8").splitlines()]
    return [(r[0], r[2], r[6]) for r in rows]


def to_csv(records: list[Record], sep: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    writer.writerow(["会话ID", "发送方", "内容"])
    writer.writerows(records)
    return out.getvalue()


def to_jsonl(records: list[Record]) -> str:
    return "".join(json.dumps({"session_id": s, "role": int(r), "content": t}, ensure_ascii=False) + "\n"
                   for s, r, t in records)


def to_xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def triples(log: MaskedChatLog) -> list[tuple[str, int, str, str]]:
    return [(line.session_key, line.seq, line.role, line.text) for line in log.lines]


def make_user(session: Session, role: Role, username: str | None = None, *, active: bool = True) -> User:
    user = User(username=username or role.value, display_name=f"{role.value}名", role=role.value,
                password_hash="x", is_active=active)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def count(session: Session, model: type[ChatImport] | type[ChatMessage]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# --- parsing ------------------------------------------------------------------------------


def test_demo_log_parses_in_order_with_seq_per_session() -> None:
    log = parse_chat_log(DEMO.read_bytes(), file_name="chatlog.tsv")
    assert log.file_format == "jddc"
    assert len(log.lines) == 420
    assert log.session_count == 60
    first = log.lines[0]
    assert (first.session_key, first.seq, first.role, first.text, first.sku) == (
        "5370ecaab2223ce128e3e9832bbb28ad", 1, CUSTOMER, "在吗", "QH-AF01")
    assert log.lines[1].role == AGENT and log.lines[1].sku == ""
    seqs: dict[str, list[int]] = {}
    for line in log.lines:
        seqs.setdefault(line.session_key, []).append(line.seq)
    assert all(s == list(range(1, len(s) + 1)) for s in seqs.values())


def test_demo_personal_data_is_masked_while_parsing() -> None:
    log = parse_chat_log(DEMO.read_bytes(), file_name="chatlog.tsv")
    assert log.masked == {PHONE: 4, ADDRESS: 3, EMAIL: 2, BANK_CARD: 2, ID_CARD: 1}
    everything = "\n".join(line.text for line in log.lines)
    for pii in DEMO_PII:
        assert pii not in everything
    assert "满299减20" in everything and "QH-AF01" in everything and "[ORDERID_10231]" in everything


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
@pytest.mark.parametrize("fmt", ["jddc", "csv", "tsv", "jsonl"])
def test_every_text_format_and_encoding_gives_the_same_lines(fmt: str, encoding: str) -> None:
    expected = triples(parse_chat_log(DEMO.read_bytes(), file_name="chatlog.tsv"))
    records = demo_records()
    text = {"jddc": DEMO.read_text(encoding="utf-8"), "csv": to_csv(records),
            "tsv": to_csv(records, "\t"), "jsonl": to_jsonl(records)}[fmt]
    name = {"jddc": "chat.txt", "csv": "chat.csv", "tsv": "chat.tsv", "jsonl": "chat.jsonl"}[fmt]
    raw = text.encode(encoding)
    assert detect_format(raw, name) == fmt
    log = parse_chat_log(raw, file_name=name)
    assert log.file_format == fmt
    assert triples(log) == expected


def test_xlsx_with_explicit_mapping_and_times() -> None:
    rows: list[list[Any]] = [["序号", "对话", "说话人", "时间", "聊天内容"]]
    rows += [[i, s, "顾客" if r == "0" else "客服", datetime(2026, 11, 23, 14, 5), t]
             for i, (s, r, t) in enumerate(demo_records())]
    raw = to_xlsx(rows)
    assert detect_format(raw, "导出.xlsx") == "xlsx"
    assert read_header(raw, file_name="导出.xlsx") == ["序号", "对话", "说话人", "时间", "聊天内容"]
    log = parse_chat_log(raw, file_name="导出.xlsx",
                         mapping=ColumnMapping(session="对话", role="说话人", text="聊天内容", time="时间"))
    assert triples(log) == triples(parse_chat_log(DEMO.read_bytes(), file_name="chatlog.tsv"))
    assert log.lines[0].sent_at == datetime(2026, 11, 23, 6, 5, tzinfo=UTC)  # China time → UTC


def test_propose_mapping_from_header_names() -> None:
    assert propose_mapping(["会话ID", "发送方", "内容", "时间"]) == {
        "session": "会话ID", "role": "发送方", "text": "内容", "time": "时间"}
    assert propose_mapping(["Session", "sender", "Content"]) == {
        "session": "Session", "role": "sender", "text": "Content", "time": None}
    assert propose_mapping(["a", "b"])["text"] is None


def test_csv_without_recognisable_header_asks_for_a_mapping() -> None:
    with pytest.raises(ChatLogError, match="请指定列对应关系"):
        parse_chat_log("a,b,c\n1,0,你好\n".encode(), file_name="x.csv")
    with pytest.raises(ChatLogError, match="缺少列：内容"):
        parse_chat_log("a,b,c\n1,0,你好\n".encode(), file_name="x.csv",
                       mapping=ColumnMapping(session="a", role="b", text="内容"))


def test_role_words_and_unknown_roles() -> None:
    words = ["0", "1", "customer", "Agent", "顾客", "客服", "客户", "商家", "买家", "卖家", "用户", "客服"]
    body = "".join(f"s1,{w},第{i}句\n" for i, w in enumerate(words))
    log = parse_chat_log(("session,role,text\n" + body).encode(), file_name="r.csv")
    assert [line.role for line in log.lines] == [CUSTOMER, AGENT] * 6
    bad = "session,role,text\ns1,0,你好\ns1,机器人,您好\n"
    with pytest.raises(ChatLogError, match="第 3 行：角色「机器人」无法识别") as info:
        parse_chat_log(bad.encode(), file_name="r.csv")
    assert info.value.errors == [info.value.errors[0]] and "第 3 行" in info.value.errors[0]


def test_malformed_jddc_rows_name_their_row_number() -> None:
    good = "s1\tU1\t0\t0\t0\tnan\t你好\n"
    raw = (good + good + "s1\tU1\t0\t0\tnan\n" + "s1\tU1\t2\t0\t0\tnan\t嗯\n").encode()
    with pytest.raises(ChatLogError) as info:
        parse_chat_log(raw, file_name="bad.txt", file_format="jddc")
    message = str(info.value)
    assert "第 3 行：应有 7 列，实际 5 列" in message
    assert "第 4 行：第 3 列（发送方）应为 0（顾客）或 1（客服）" in message
    assert "有 2 行无法导入" in message


def test_at_most_twenty_row_errors_are_listed() -> None:
    raw = ("s1\tU1\t0\t0\t0\tnan\t你好\n" + "坏行\n" * 25).encode()
    with pytest.raises(ChatLogError) as info:
        parse_chat_log(raw, file_name="bad.txt", file_format="jddc")
    assert len(info.value.errors) == 20
    assert info.value.errors[0] == "第 2 行：应有 7 列，实际 1 列"
    assert "有 25 行无法导入" in str(info.value) and "另有 5 行错误未列出" in str(info.value)


def test_jsonl_aliases_bad_lines_and_times() -> None:
    lines = [{"session": "s1", "role": "customer", "text": "在吗", "time": "2026/11/23 14:05"},
             {"session_id": 7, "role": 1, "content": "在的亲"}]
    raw = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode()
    log = parse_chat_log(raw, file_name="chat.jsonl")
    assert [(x.session_key, x.role, x.text) for x in log.lines] == [
        ("s1", CUSTOMER, "在吗"), ("7", AGENT, "在的亲")]
    assert log.lines[0].sent_at == datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
    bad = raw + b'\n{"session": "s1", "role": "agent"\n[1, 2]\n{"session": "s1", "text": "x"}\n' \
        + '{"session": "s1", "role": 0, "text": "x", "time": "明天"}\n'.encode()
    with pytest.raises(ChatLogError) as info:
        parse_chat_log(bad, file_name="chat.jsonl")
    assert info.value.errors == ["第 3 行：不是合法的 JSON", "第 4 行：每行应是一个 JSON 对象",
                                 "第 5 行：缺少角色或角色不是文本", "第 6 行：时间「明天」无法识别"]


@pytest.mark.parametrize(("raw", "name", "message"), [
    (b"", "empty.txt", "是空的"),
    (b"  \n\n", "blank.csv", "是空的"),
    (b"session,role,text\n", "header.csv", "没有聊天记录"),
    ("会话,角色,内容\n".encode("utf-16"), "utf16.csv", "UTF-16"),
    (b"\x81\x30\xff\xfe\x80" * 10, "garbage.txt", "编码无法识别"),
    (b"PK\x03\x04" + b"\x00" * 40, "broken.xlsx", "不是有效的 Excel"),
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 40, "old.xls", "旧版 Excel"),
])
def test_unreadable_files_get_a_clear_chinese_error(raw: bytes, name: str, message: str) -> None:
    with pytest.raises(ChatLogError, match=message):
        parse_chat_log(raw, file_name=name)


def test_truncated_xlsx_is_refused() -> None:
    raw = to_xlsx([["session", "role", "text"], ["s1", 0, "你好"]])
    assert parse_chat_log(raw, file_name="ok.xlsx").lines[0].text == "你好"
    with pytest.raises(ChatLogError, match="不是有效的 Excel"):
        parse_chat_log(raw[: len(raw) // 2], file_name="cut.xlsx")


def test_size_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    undecodable = b"\xff" * (2 * 1024 * 1024)
    with pytest.raises(ChatLogError, match="超过上传上限 1 MB"):
        parse_chat_log(undecodable, file_name="big.txt", limit_bytes=1024 * 1024)
    monkeypatch.setenv("HUASHU_UPLOAD_LIMIT_MB", "1")
    get_settings.cache_clear()
    try:
        with pytest.raises(ChatLogError, match="超过上传上限 1 MB"):
            parse_chat_log(undecodable, file_name="big.txt")
        with pytest.raises(ChatLogError, match="超过上传上限 1 MB"):
            read_header(undecodable, file_name="big.csv")
    finally:
        get_settings.cache_clear()


def test_huge_messages_are_truncated_after_masking() -> None:
    long_text = "亲" * (MAX_MESSAGE_CHARS - 5) + "13812345678" + "啊" * 1_000_000
    raw = f"s1\tU1\t0\t0\t0\tnan\t你好\ns1\tU1\t1\t0\t0\tnan\t{long_text}\n".encode()
    log = parse_chat_log(raw, file_name="long.txt")
    text = log.lines[1].text
    assert len(text) == MAX_MESSAGE_CHARS + len(TRUNCATION_MARK) and text.endswith(TRUNCATION_MARK)
    assert "138" not in text and log.masked == {PHONE: 1}
    assert log.truncated_rows == [2]
    with pytest.raises(ChatLogError, match="第 2 行无法解析"):
        parse_chat_log(f"session,role,text\ns1,0,{'x' * 1_000_000}\n".encode(), file_name="long.csv")


def test_progress_reaches_one_and_never_goes_back() -> None:
    seen: list[float] = []
    parse_chat_log(DEMO.read_bytes(), file_name="chatlog.tsv", progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen) and all(0 <= f <= 1 for f in seen)


def test_phone_number_session_keys_are_not_stored() -> None:
    log = parse_chat_log("session,role,text\n13812345678,0,在吗\n13812345678,1,在的\n".encode(),
                         file_name="k.csv")
    keys = {line.session_key for line in log.lines}
    assert len(keys) == 1 and "13812345678" not in keys.pop()


# --- import (database) --------------------------------------------------------------------


def test_import_demo_stores_masked_lines_and_an_audit_entry(session: Session) -> None:
    trainer = make_user(session, Role.TRAINER)
    seen: list[float] = []
    result = import_chat_log(session=session, actor=trainer, raw=DEMO.read_bytes(),
                             file_name="data/demo/chatlog.tsv", progress=seen.append)
    # Parsing fills the bar up to PARSE_SHARE, writing the rest.
    assert seen == sorted(seen) and min(seen) <= importer.PARSE_SHARE and seen[-1] == pytest.approx(1.0)
    assert (result.file_name, result.file_format, result.session_count, result.message_count) == (
        "chatlog.tsv", "jddc", 60, 420)
    record = session.get(ChatImport, result.import_id)
    assert record is not None and record.imported_by == trainer.id
    assert (record.session_count, record.message_count, record.question_count) == (60, 420, 0)
    messages = session.exec(select(ChatMessage).order_by(ChatMessage.id)).all()  # type: ignore[arg-type]
    assert len(messages) == 420 and messages[0].text == "在吗" and messages[0].seq == 1
    stored = "\n".join(m.text + "\n" + m.text_clean for m in messages)
    for pii in DEMO_PII:
        assert pii not in stored
    card = next(m for m in messages if "ORDERID_10231" in m.text)
    assert card.text_clean == "[订单号]"
    entry = session.exec(select(AuditLog).where(AuditLog.action == "chat.import")).one()
    assert entry.actor_id == trainer.id and entry.detail is not None
    assert entry.detail["messages"] == 420 and entry.detail["masked"][PHONE] == 4


def test_precision_strings_survive_storage(session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    texts = ["现在299元吗", "容量1.7升", "QH-AF01 有货吗", "2026-11-23 能到吗", "[ORDERID_10086] 没发货"]
    raw = "\n".join(json.dumps({"session": "s1", "role": "customer", "text": t}, ensure_ascii=False)
                    for t in texts).encode()
    import_chat_log(session=session, actor=admin, raw=raw, file_name="p.jsonl")
    stored = session.exec(select(ChatMessage).order_by(ChatMessage.seq)).all()  # type: ignore[arg-type]
    assert [m.text for m in stored] == texts
    assert stored[-1].text_clean == "[订单号] 没发货"


def test_names_customers_give_are_masked_before_storage(session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    texts = ["你好，我叫张伟", "收件人王芳 电话13812345678", "我叫快递送上门可以吗", "收件人地址写错了"]
    raw = "\n".join(json.dumps({"session": "s1", "role": "customer", "text": t}, ensure_ascii=False)
                    for t in texts).encode()
    result = import_chat_log(session=session, actor=admin, raw=raw, file_name="n.jsonl")
    stored = session.exec(select(ChatMessage).order_by(ChatMessage.seq)).all()  # type: ignore[arg-type]
    assert [m.text for m in stored] == [f"你好，我叫{NAME}", f"收件人{NAME} 电话{PHONE}", *texts[2:]]
    assert not any("张伟" in m.text_clean or "王芳" in m.text_clean for m in stored)
    assert result.masked == {NAME: 2, PHONE: 1}


def test_jd_sample_imports_with_its_counts(session: Session) -> None:
    if not JD_SAMPLE.is_file():
        pytest.skip(f"{JD_SAMPLE} is not present")
    trainer = make_user(session, Role.TRAINER)
    started = time.perf_counter()
    result = import_chat_log(session=session, actor=trainer, raw=JD_SAMPLE.read_bytes(),
                             file_name=JD_SAMPLE.name)
    elapsed = time.perf_counter() - started
    print(f"\nJD sample: {result.message_count} lines imported in {elapsed:.2f} s, masked {result.masked}")
    assert (result.session_count, result.message_count) == (994, 12_136)
    assert count(session, ChatMessage) == 12_136
    keys = session.exec(select(func.count(func.distinct(ChatMessage.session_key)))).one()
    assert keys == 994


def test_duplicate_import_is_refused_and_nothing_is_duplicated(session: Session) -> None:
    trainer = make_user(session, Role.TRAINER)
    admin = make_user(session, Role.ADMIN)
    first = import_chat_log(session=session, actor=trainer, raw=DEMO.read_bytes(), file_name="chatlog.tsv")
    with pytest.raises(DuplicateImportError, match=rf"trainer名（trainer）.*导入编号 {first.import_id}"):
        import_chat_log(session=session, actor=admin, raw=DEMO.read_bytes(), file_name="renamed.txt")
    assert (count(session, ChatImport), count(session, ChatMessage)) == (1, 420)


def test_failure_halfway_leaves_nothing_behind(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = make_user(session, Role.TRAINER)
    calls: list[int] = []
    real_insert = importer._insert_chunk

    def failing_insert(db: Session, rows: Any) -> None:
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real_insert(db, rows)

    monkeypatch.setattr(importer, "INSERT_CHUNK", 100)
    monkeypatch.setattr(importer, "_insert_chunk", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        import_chat_log(session=session, actor=trainer, raw=DEMO.read_bytes(), file_name="chatlog.tsv")
    assert calls == [100, 100, 100]
    assert (count(session, ChatImport), count(session, ChatMessage)) == (0, 0)
    assert session.exec(select(AuditLog).where(AuditLog.action == "chat.import")).first() is None
    monkeypatch.setattr(importer, "_insert_chunk", real_insert)
    import_chat_log(session=session, actor=trainer, raw=DEMO.read_bytes(), file_name="chatlog.tsv")
    assert (count(session, ChatImport), count(session, ChatMessage)) == (1, 420)


@pytest.mark.parametrize("role", [Role.AGENT, Role.NEW_HIRE])
def test_agents_and_new_hires_cannot_import(session: Session, role: Role) -> None:
    user = make_user(session, role)
    with pytest.raises(PermissionDenied, match="无权"):
        import_chat_log(session=session, actor=user, raw=DEMO.read_bytes(), file_name="chatlog.tsv")
    with pytest.raises(PermissionDenied):
        list_imports(session=session, actor=user)
    with pytest.raises(PermissionDenied, match="请先登录"):
        import_chat_log(session=session, actor=None, raw=DEMO.read_bytes(), file_name="chatlog.tsv")
    inactive = make_user(session, Role.TRAINER, "gone", active=False)
    with pytest.raises(PermissionDenied):
        import_chat_log(session=session, actor=inactive, raw=DEMO.read_bytes(), file_name="chatlog.tsv")
    assert (count(session, ChatImport), count(session, ChatMessage)) == (0, 0)


def test_list_imports_newest_first_with_names(session: Session) -> None:
    trainer = make_user(session, Role.TRAINER)
    import_chat_log(session=session, actor=trainer, raw=DEMO.read_bytes(), file_name="a.tsv")
    raw = '{"session": "s1", "role": "customer", "text": "在吗"}\n'.encode()
    import_chat_log(session=session, actor=trainer, raw=raw, file_name="b.jsonl")
    listed = list_imports(session=session, actor=trainer)
    assert [(x.file_name, x.message_count, x.imported_by) for x in listed] == [
        ("b.jsonl", 1, "trainer名（trainer）"), ("a.tsv", 420, "trainer名（trainer）")]


_TEXT = st.text(max_size=40)
_ROLE = st.sampled_from(["0", "1", "2", "", "顾客", "agent"])
_RECORDS = st.lists(st.tuples(_TEXT, _ROLE, _TEXT), max_size=5)
_AUTO = st.just("auto")
_UPLOADS = st.one_of(
    st.tuples(st.binary(max_size=400), st.sampled_from(["x.txt", "x.csv", "x.tsv", "x.jsonl", "x.xlsx"]),
              st.sampled_from(["auto", "jddc", "csv", "jsonl"])),
    st.tuples(st.lists(st.tuples(_TEXT, _TEXT, _ROLE, _TEXT, _TEXT, _TEXT, _TEXT), max_size=5).map(
        lambda rows: "\n".join("\t".join(r) for r in rows).encode("gb18030")),
        st.just("jd.txt"), st.just("jddc")),
    st.tuples(_RECORDS.map(lambda r: to_csv(r).encode("utf-8-sig")), st.just("t.csv"), _AUTO),
    st.tuples(_RECORDS.map(lambda r: to_csv(r, "\t").encode("gb18030")), st.just("t.tsv"), _AUTO),
    st.tuples(_RECORDS.map(lambda r: "\n".join(json.dumps({"session": s, "role": o, "text": t})
                                               for s, o, t in r).encode()), st.just("t.jsonl"), _AUTO),
    st.tuples(st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b), st.just("t.xlsx"), _AUTO),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(upload=_UPLOADS)
def test_arbitrary_uploads_only_raise_chat_log_errors_and_never_leave_partial_rows(
    session: Session, upload: tuple[bytes, str, str],
) -> None:
    raw, name, fmt = upload
    trainer = session.exec(select(User).where(User.username == "fuzz")).first() \
        or make_user(session, Role.TRAINER, "fuzz")
    before = (count(session, ChatImport), count(session, ChatMessage))
    try:
        result = import_chat_log(session=session, actor=trainer, raw=raw, file_name=name, file_format=fmt)
    except (ChatLogError, TableError):
        event("refused")
        assert (count(session, ChatImport), count(session, ChatMessage)) == before
    else:
        event("imported")
        assert (count(session, ChatImport), count(session, ChatMessage)) == (
            before[0] + 1, before[1] + result.message_count)


def test_chat_log_errors_are_user_errors_the_pages_display() -> None:
    from training.core.errors import UserError

    assert issubclass(DuplicateImportError, ChatLogError)
    assert issubclass(ChatLogError, UserError) and issubclass(ChatLogError, ValueError)
