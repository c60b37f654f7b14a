"""千牛 chat exports: the export script's workbook and ZIP, and text copied from the history window."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select
from streamlit.testing.v1 import AppTest

from training.chats import qianniu_zip as zip_reader
from training.chats.importer import DuplicateImportError, import_chat_log
from training.chats.masking import PHONE
from training.chats.parsers import FORMATS, detect_format, parse_chat_log
from training.chats.qianniu import NotedChatLog
from training.chats.qianniu_zip import IMAGE
from training.chats.rows import ChatLogError, MaskedChatLog
from training.chats.types import AGENT, CUSTOMER
from training.core.clock import team_zone
from training.core.db import get_engine
from training.core.errors import UserError
from training.models import ChatImport, ChatMessage, Role, User
from training.ops.demo.seed import seed_demo

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["客户名", "消息序号", "发送时间", "发送内容", "发送账号", "账号类型"]
SHOP = "花语小铺:小美"


# --- fixtures -----------------------------------------------------------------------------


def qianniu_xlsx(*, bad_row: bool = False) -> bytes:
    """A summary sheet, two sheets of 王小二 (rows out of order) and one of 阿花 with a phone number."""
    book = openpyxl.Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "汇总"
    summary.append(["客户名", "消息数", "最后联系时间"])
    summary.append(["王小二", 4, "2026-03-05 14:05:00"])
    first = book.create_sheet("王小二")
    first.append(HEADER)
    first.append(["王小二", 3, "2026/3/5 14:03", "好的，谢谢", "王小二", "客户"])
    first.append(["王小二", 1, datetime(2026, 3, 5, 14, 2, 11), "在吗？这件衬衫有 XL 吗", "王小二", "客户"])
    first.append(["王小二", 2, "2026-03-05 14:02:40", "亲，XL 有货的哦", SHOP, "客服"])
    first.append([None, None, None, None, None, None])
    first.append(["王小二", 4, "2026-03-05 14:04:00", "不客气，祝您购物愉快", SHOP, ""])  # role from 账号
    again = book.create_sheet("王小二(2)")
    again.append(HEADER)
    again.append(["王小二", 1, "2026-03-06 09:00:00", "衬衫到了，能换 L 吗", "王小二", "客户"])
    again.append(["王小二", 2, "2026-03-06 09:01:00", "可以的亲，我这边给您登记", SHOP, "客服"])
    flower = book.create_sheet("阿花")
    flower.append(HEADER)
    flower.append(["阿花", 1, "2026-03-07 10:00:00", "我的电话 13812345678，帮我改下地址", "阿花", "客户"])
    flower.append(["阿花", 2, "2026-03-07 10:00:30", "好的亲", SHOP,
                   "机器人" if bad_row else "客服"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class _GbkName(zipfile.ZipInfo):
    """A member whose name is written in GBK without the UTF-8 flag, as Windows tools do."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's name
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def qianniu_member(user: str, chats: list[dict[str, str]]) -> bytes:
    return json.dumps({"user": user, "exportTime": "2026-03-08 12:00:00", "count": len(chats),
                       "chats": chats}, ensure_ascii=False).encode()


def chat(time: str, sender: str, text: str, img: str = "") -> dict[str, str]:
    return {"date": "2026-03-05", "time": time, "sender": sender, "text": text, "imgUrl": img}


def zip_of(members: list[tuple[str, bytes]], *, gbk: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = _GbkName(name) if gbk else zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def qianniu_zip(*, gbk: bool = True) -> bytes:
    """Two customers (GBK member names), an image-only message and a stray readme."""
    return zip_of([
        ("王小二.json", qianniu_member("王小二", [
            chat("14:02:11", "王小二", "在吗？这件衬衫有 XL 吗"),
            chat("14:02:40", SHOP, "亲，XL 有货的哦"),
            chat("14:03:00", "王小二", "", "https://img.example.com/a.jpg"),
            chat("14:03:30", SHOP, "收到图片了，是这款没错"),
        ])),
        ("阿花.json", qianniu_member("阿花", [
            chat("10:00:00", "阿花", "我的电话 13812345678，帮我改下地址"),
            chat("10:00:30", "花语小铺", "好的亲"),  # the shop's main account: not the user
        ])),
        ("说明.txt", "这是导出说明".encode("gbk")),
    ], gbk=gbk)


def qianniu_text() -> str:
    """A copied history window: CRLF, a header without space, status and system lines."""
    return "\r\n".join([
        "以上是历史消息",
        "王小二 2026-3-5 14:02:11",
        "在吗？",
        "这件衬衫有 XL 吗",
        "已读",
        f"{SHOP}2026-03-05 14:02:40",
        "亲，XL 有货的哦",
        "当前用户来自 手机淘宝",
        "由 花语小铺:小美 转交给 花语小铺:小王",
        "花语小铺:小王 2026-3-5 14:03:05",
        "我的电话 13812345678 您记一下",
        "未读",
        "王小二 2026-3-5 14:03:30",
        "王小二撤回了一条消息",
        "好的，谢谢",
        "",
    ])


def triples(log: MaskedChatLog) -> list[tuple[str, int, str, str]]:
    return [(line.session_key, line.seq, line.role, line.text) for line in log.lines]


def count(session: Session, model: type[Any]) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def make_trainer(session: Session, username: str = "trainer") -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, display_name="培训师", role=Role.TRAINER.value, password_hash="x")
        session.add(user)
        session.commit()
        session.refresh(user)
    return user


# --- detection ----------------------------------------------------------------------------


def test_the_three_formats_are_offered_to_the_cli() -> None:
    assert {"qianniu-xlsx", "qianniu-zip", "qianniu-text"} <= set(FORMATS)


def test_each_format_is_detected_and_a_plain_workbook_stays_generic() -> None:
    assert detect_format(qianniu_xlsx(), "export.xlsx") == "qianniu-xlsx"
    assert detect_format(qianniu_zip(), "聊天记录.zip") == "qianniu-zip"
    assert detect_format(qianniu_zip(), "no-extension") == "qianniu-zip"  # a zip of .json files
    assert detect_format(qianniu_text().encode(), "聊天.txt") == "qianniu-text"
    assert detect_format(qianniu_text().encode("gbk"), "聊天.txt") == "qianniu-text"
    assert detect_format(b"\xef\xbb\xbf" + qianniu_text().encode(), "聊天.txt") == "qianniu-text"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["会话ID", "发送方", "内容"])
    sheet.append(["s1", "顾客", "在吗"])
    out = io.BytesIO()
    book.save(out)
    assert detect_format(out.getvalue(), "plain.xlsx") == "xlsx"
    assert detect_format(b"\xe4\xbc\x9a\xe8\xaf\x9d,role,text\ns,0,x\n", "a.csv") == "csv"
    assert detect_format("王小二 2026-3-5 14:02:11\n在吗\n".encode(), "a.csv") == "csv"  # the name decides
    assert detect_format(b"PK\x03\x04broken", "x.zip") == "qianniu-zip"
    assert detect_format(b"PK\x03\x04broken", "x.xlsx") == "xlsx"


# --- qianniu-xlsx -------------------------------------------------------------------------


def test_workbook_sheets_are_sessions_ordered_by_message_number() -> None:
    log = parse_chat_log(qianniu_xlsx(), file_name="export.xlsx")
    assert log.file_format == "qianniu-xlsx"
    assert triples(log) == [
        ("王小二", 1, CUSTOMER, "在吗？这件衬衫有 XL 吗"),
        ("王小二", 2, AGENT, "亲，XL 有货的哦"),
        ("王小二", 3, CUSTOMER, "好的，谢谢"),
        ("王小二", 4, AGENT, "不客气，祝您购物愉快"),
        ("王小二（王小二(2)）", 1, CUSTOMER, "衬衫到了，能换 L 吗"),
        ("王小二（王小二(2)）", 2, AGENT, "可以的亲，我这边给您登记"),
        ("阿花", 1, CUSTOMER, f"我的电话 {PHONE}，帮我改下地址"),
        ("阿花", 2, AGENT, "好的亲"),
    ]
    zone = team_zone()
    assert [line.sent_at for line in log.lines[:3]] == [
        datetime(2026, 3, 5, 14, 2, 11, tzinfo=zone), datetime(2026, 3, 5, 14, 2, 40, tzinfo=zone),
        datetime(2026, 3, 5, 14, 3, tzinfo=zone)]
    assert isinstance(log, NotedChatLog)
    assert log.notes == ["工作表「汇总」没有消息列（消息序号、发送内容），已跳过。"]
    assert log.session_count == 3 and log.masked[PHONE] == 1


def test_workbook_bad_row_names_sheet_and_row() -> None:
    with pytest.raises(ChatLogError, match=r"整份文件未导入[\s\S]*工作表「阿花」第 3 行："
                                           "账号类型「机器人」无法识别"):
        parse_chat_log(qianniu_xlsx(bad_row=True), file_name="export.xlsx")


def test_workbook_bad_message_number_and_time() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "小李"
    sheet.append(HEADER)
    sheet.append(["小李", "一", "2026-03-05 14:02:11", "在吗", "小李", "客户"])
    sheet.append(["小李", 2, "昨天下午", "在吗", "小李", "客户"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ChatLogError) as caught:
        parse_chat_log(out.getvalue(), file_name="x.xlsx", file_format="qianniu-xlsx")
    assert caught.value.errors == ["工作表「小李」第 2 行：消息序号「一」不是数字",
                                   "工作表「小李」第 3 行：发送时间「昨天下午」无法识别"]


def test_workbook_header_may_follow_a_title_row() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "小李"
    sheet.append(["与 小李 的聊天记录（导出于 2026-03-08）"])
    sheet.append(HEADER)
    sheet.append(["小李", 1, "2026-03-05 14:02:11", "在吗", "小李", "客户"])
    sheet.append(["小李", 2, "2026-03-05 14:02:20", "在的", SHOP, "机器人"])
    out = io.BytesIO()
    book.save(out)
    assert detect_format(out.getvalue(), "x.xlsx") == "qianniu-xlsx"
    with pytest.raises(ChatLogError, match="工作表「小李」第 4 行：账号类型「机器人」"):
        parse_chat_log(out.getvalue(), file_name="x.xlsx")


def test_workbook_without_message_sheets_is_refused_when_chosen() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["客户名", "消息数"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ChatLogError, match="没有千牛聊天记录工作表"):
        parse_chat_log(out.getvalue(), file_name="x.xlsx", file_format="qianniu-xlsx")


# --- qianniu-zip --------------------------------------------------------------------------


def test_zip_members_are_sessions_with_roles_and_image_placeholder() -> None:
    log = parse_chat_log(qianniu_zip(), file_name="聊天记录.zip")
    assert log.file_format == "qianniu-zip"
    assert triples(log) == [
        ("王小二", 1, CUSTOMER, "在吗？这件衬衫有 XL 吗"),
        ("王小二", 2, AGENT, "亲，XL 有货的哦"),
        ("王小二", 3, CUSTOMER, IMAGE),
        ("王小二", 4, AGENT, "收到图片了，是这款没错"),
        ("阿花", 1, CUSTOMER, f"我的电话 {PHONE}，帮我改下地址"),
        ("阿花", 2, AGENT, "好的亲"),
    ]
    assert log.lines[0].sent_at == datetime(2026, 3, 5, 14, 2, 11, tzinfo=team_zone())
    assert isinstance(log, NotedChatLog)
    assert log.notes == ["压缩包中的「说明.txt」不是 JSON 文件，已忽略。"]  # the GBK name, readable


def test_zip_same_customer_twice_gives_two_sessions() -> None:
    member = qianniu_member("王小二", [chat("14:02:11", "王小二", "在吗")])
    log = parse_chat_log(zip_of([("a/王小二.json", member), ("b/王小二.json", member)]), file_name="x.zip")
    assert [line.session_key for line in log.lines] == ["王小二", "王小二（b/王小二.json）"]


def test_zip_bad_json_names_the_member() -> None:
    raw = zip_of([("王小二.json", qianniu_member("王小二", [chat("14:02:11", "王小二", "在吗")])),
                  ("阿花.json", b'{"user": "\xe9\x98\xbf\xe8\x8a\xb1", "chats": [')], gbk=True)
    with pytest.raises(ChatLogError, match="压缩包「x.zip」中的「阿花.json」不是合法的 JSON"):
        parse_chat_log(raw, file_name="x.zip")


def test_zip_bad_message_names_member_and_number() -> None:
    raw = zip_of([("王小二.json", qianniu_member("王小二", [
        chat("14:02:11", "王小二", "在吗"), chat("25:99:00", SHOP, "在的"), {"text": "谁"}]))])
    with pytest.raises(ChatLogError) as caught:
        parse_chat_log(raw, file_name="x.zip")
    assert caught.value.errors == ["「王小二.json」第 2 条消息：时间「2026-03-05 25:99:00」无法识别",
                                   "「王小二.json」第 3 条消息：缺少发送人（sender）"]


@pytest.mark.parametrize("name", ["../王小二.json", "/etc/王小二.json", "a/../../b.json"])
def test_zip_paths_leaving_the_archive_are_refused(name: str) -> None:
    raw = zip_of([(name, qianniu_member("王小二", [chat("14:02:11", "王小二", "在吗")]))])
    with pytest.raises(ChatLogError, match="路径不安全"):
        parse_chat_log(raw, file_name="x.zip")


def test_zip_bomb_and_too_many_members_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    padding = " " * 2_000_000  # compresses to a few kB
    bomb = zip_of([("王小二.json", qianniu_member("王小二", [chat("14:02:11", "王小二", "在吗" + padding)]))])
    assert len(bomb) < 100_000
    with pytest.raises(ChatLogError, match="解压后超过上传上限"):
        parse_chat_log(bomb, file_name="x.zip", limit_bytes=1_000_000)
    monkeypatch.setattr(zip_reader, "MAX_MEMBERS", 3)
    many = zip_of([(f"{i}.json", qianniu_member(str(i), [chat("14:02:11", str(i), "在吗")]))
                   for i in range(4)])
    with pytest.raises(ChatLogError, match="有 4 个文件，超过 3 个"):
        parse_chat_log(many, file_name="x.zip")


def test_zip_without_json_and_broken_zip() -> None:
    with pytest.raises(ChatLogError, match="里没有 JSON 聊天记录文件"):
        parse_chat_log(zip_of([("说明.txt", b"hello")]), file_name="x.zip")
    with pytest.raises(ChatLogError, match="不是有效的 ZIP 压缩包"):
        parse_chat_log(b"PK\x03\x04broken", file_name="x.zip")


# --- qianniu-text -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_copied_history_window_in_every_encoding(encoding: str) -> None:
    log = parse_chat_log(qianniu_text().encode(encoding), file_name="聊天.txt")
    assert log.file_format == "qianniu-text"
    assert triples(log) == [
        ("王小二", 1, CUSTOMER, "在吗？\n这件衬衫有 XL 吗"),  # status line 已读 dropped
        ("王小二", 2, AGENT, "亲，XL 有货的哦"),  # header without space; system lines dropped
        ("王小二", 3, AGENT, f"我的电话 {PHONE} 您记一下"),
        ("王小二", 4, CUSTOMER, "好的，谢谢"),  # the recall line dropped
    ]
    assert log.lines[1].sent_at == datetime(2026, 3, 5, 14, 2, 40, tzinfo=team_zone())
    assert "\r" not in "".join(line.text for line in log.lines)


def test_several_customers_are_split_into_sessions() -> None:
    text = "\n".join([f"{SHOP} 2026-3-5 09:00:00", "欢迎光临", "王小二 2026-3-5 09:01:00", "在吗",
                      f"{SHOP} 2026-3-5 09:01:10", "在的", "阿花 2026-3-5 09:02:00", "发货了吗",
                      f"{SHOP} 2026-3-5 09:02:30", "今天发"])
    log = parse_chat_log(text.encode(), file_name="t.txt", file_format="qianniu-text")
    assert [(line.session_key, line.role) for line in log.lines] == [
        ("王小二", AGENT), ("王小二", CUSTOMER), ("王小二", AGENT), ("阿花", CUSTOMER), ("阿花", AGENT)]


def test_text_errors_name_the_line() -> None:
    with pytest.raises(ChatLogError, match="第 1 行：在第一条消息之前"):
        parse_chat_log("你好\n王小二 2026-3-5 14:02:11\n在吗\n".encode(), file_name="t.txt",
                       file_format="qianniu-text")
    with pytest.raises(ChatLogError, match="第 2 行：时间「2026-13-45 14:02:11」无法识别"):
        parse_chat_log("\n王小二 2026-13-45 14:02:11\n在吗\n".encode(), file_name="t.txt",
                       file_format="qianniu-text")
    with pytest.raises(ChatLogError, match="不是千牛聊天记录"):
        parse_chat_log("随便写的一段话\n".encode(), file_name="t.txt", file_format="qianniu-text")


# --- malformed files, one per format --------------------------------------------------------


@pytest.mark.parametrize(("raw", "name", "fmt", "message"), [
    (b"PK\x03\x04\x00\x00garbage", "x.xlsx", "qianniu-xlsx", "不是有效的 Excel"),
    (b"not a zip at all", "x.zip", "qianniu-zip", "不是有效的 ZIP 压缩包"),
    ("王小二 2026-3-5 14:02:11\n".encode(), "t.txt", "qianniu-text", "没有聊天记录"),
    (b"\xff\xfe\x00\x00", "t.txt", "qianniu-text", "UTF-16"),
])
def test_malformed_files_get_a_chinese_message(raw: bytes, name: str, fmt: str, message: str) -> None:
    with pytest.raises(ChatLogError, match=message):
        parse_chat_log(raw, file_name=name, file_format=fmt)


def test_size_limit_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    files = ((qianniu_xlsx(), "a.xlsx"), (qianniu_zip(), "a.zip"), (qianniu_text().encode(), "a.txt"))
    for raw, name in files:
        with pytest.raises(ChatLogError, match="超过上传上限"):
            parse_chat_log(raw, file_name=name, limit_bytes=len(raw) - 1)


# --- import: masking, dedup, one transaction ------------------------------------------------


@pytest.mark.db
@pytest.mark.parametrize(("raw", "name", "fmt", "messages"), [
    (qianniu_xlsx(), "导出.xlsx", "qianniu-xlsx", 8),
    (qianniu_zip(), "导出.zip", "qianniu-zip", 6),
    (qianniu_text().encode("gbk"), "导出.txt", "qianniu-text", 4),
])
def test_import_masks_stores_and_refuses_the_same_file_again(
    session: Session, raw: bytes, name: str, fmt: str, messages: int,
) -> None:
    trainer = make_trainer(session)
    result = import_chat_log(session=session, actor=trainer, raw=raw, file_name=name)
    assert (result.file_format, result.message_count, result.masked) == (fmt, messages, {PHONE: 1})
    texts = " ".join(m.text for m in session.exec(select(ChatMessage)).all())
    assert "13812345678" not in texts and PHONE in texts
    with pytest.raises(DuplicateImportError, match="内容完全相同"):
        import_chat_log(session=session, actor=trainer, raw=raw, file_name="again-" + name)
    assert (count(session, ChatImport), count(session, ChatMessage)) == (1, messages)


@pytest.mark.db
def test_one_bad_sheet_or_member_imports_nothing(session: Session) -> None:
    trainer = make_trainer(session)
    bad_zip = zip_of([("王小二.json", qianniu_member("王小二", [chat("14:02:11", "王小二", "在吗")])),
                      ("阿花.json", b"{")])
    for raw, name in ((qianniu_xlsx(bad_row=True), "bad.xlsx"), (bad_zip, "bad.zip")):
        with pytest.raises(ChatLogError):
            import_chat_log(session=session, actor=trainer, raw=raw, file_name=name)
    assert (count(session, ChatImport), count(session, ChatMessage)) == (0, 0)


# --- fuzzing: the user's error or a clean import, never anything else -----------------------


def _mutations(raw: bytes) -> st.SearchStrategy[bytes]:
    """The valid file with a few bytes overwritten, or cut short."""
    edits = st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), min_size=1, max_size=6)
    flipped = edits.map(lambda es: _apply(raw, es))
    cut = st.integers(0, len(raw)).map(lambda n: raw[:n])
    return st.one_of(flipped, cut)


def _apply(raw: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for at, value in edits:
        data[at] = value
    return bytes(data)


def _fuzz_import(session: Session, raw: bytes, name: str, fmt: str) -> None:
    trainer = make_trainer(session, "fuzz")
    before = (count(session, ChatImport), count(session, ChatMessage))
    try:
        result = import_chat_log(session=session, actor=trainer, raw=raw, file_name=name, file_format=fmt)
    except UserError:  # ChatLogError, DuplicateImportError, the upload gate's refusals
        event("refused")
        assert (count(session, ChatImport), count(session, ChatMessage)) == before
    else:
        event("imported")
        assert (count(session, ChatImport), count(session, ChatMessage)) == (
            before[0] + 1, before[1] + result.message_count)


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.db
@_FUZZ
@given(raw=st.one_of(st.binary(), _mutations(qianniu_xlsx())))
def test_fuzz_qianniu_xlsx(session: Session, raw: bytes) -> None:
    _fuzz_import(session, raw, "fuzz.xlsx", "qianniu-xlsx")


@pytest.mark.db
@_FUZZ
@given(raw=st.one_of(st.binary(), _mutations(qianniu_zip())))
def test_fuzz_qianniu_zip(session: Session, raw: bytes) -> None:
    _fuzz_import(session, raw, "fuzz.zip", "qianniu-zip")


@pytest.mark.db
@_FUZZ
@given(raw=st.one_of(st.binary(), _mutations(qianniu_text().encode("gbk")),
                     st.text().map(lambda t: ("王小二 2026-3-5 14:02:11\n" + t).encode())))
def test_fuzz_qianniu_text(session: Session, raw: bytes) -> None:
    _fuzz_import(session, raw, "fuzz.txt", "qianniu-text")


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(), name=st.sampled_from(["a.zip", "a.xlsx", "a.txt", "a"]))
def test_fuzz_detection_only_raises_user_errors(raw: bytes, name: str) -> None:
    try:
        assert detect_format(raw, name) in FORMATS
    except ChatLogError:
        event("refused")


# --- the page -----------------------------------------------------------------------------


@pytest.fixture
def trainer_at(db_url: str) -> AppTest:
    with Session(get_engine()) as session:
        seed_demo(session=session)
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["user_id"] = trainer.id
    at.run()
    at.switch_page("pages/chat_import.py")
    at.run()
    return at


@pytest.mark.db
@pytest.mark.parametrize(("raw", "name", "label", "summary", "first"), [
    (qianniu_xlsx(), "导出.xlsx", "千牛导出 Excel（每位顾客一张表）", "3 个会话、8 条消息",
     "在吗？这件衬衫有 XL 吗"),
    (qianniu_zip(), "导出.zip", "千牛导出压缩包（每位顾客一个文件）", "2 个会话、6 条消息",
     "在吗？这件衬衫有 XL 吗"),
    (qianniu_text().encode("gbk"), "导出.txt", "千牛聊天窗口复制的文本", "1 个会话、4 条消息",
     "在吗？\n这件衬衫有 XL 吗"),
])
def test_page_shows_detected_format_and_preview_then_imports(
    trainer_at: AppTest, raw: bytes, name: str, label: str, summary: str, first: str,
) -> None:
    at = trainer_at
    at.file_uploader(key="ci_upload").set_value((name, raw, "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error
    shown = " ".join(m.value for m in at.markdown)
    assert f"识别为：**{label}**" in shown
    assert summary in shown and "1 处个人信息将脱敏" in shown
    table = at.table[0].value
    assert list(table.columns) == ["会话", "发送方", "时间", "内容"]
    assert table["内容"].tolist()[0] == first and table["发送方"].tolist()[:2] == ["顾客", "客服"]
    assert at.selectbox(key="ci_format").options[0] == "自动识别"
    assert label in at.selectbox(key="ci_format").options
    with Session(get_engine()) as session:
        assert count(session, ChatImport) == 0, "the preview stores nothing"
    at.button(key="ci_import").click()
    at.run()
    assert not at.exception
    assert at.success[0].value.replace("\\", "").startswith(f"已导入「{name}」：{summary}")
    assert label in at.dataframe[0].value["格式"].tolist()


@pytest.mark.db
def test_page_broken_zip_shows_an_error_and_no_import_button(trainer_at: AppTest) -> None:
    at = trainer_at
    at.file_uploader(key="ci_upload").set_value(("坏的.zip", b"PK\x03\x04garbage", "application/zip"))
    at.run()
    assert not at.exception
    assert "不是有效的 ZIP 压缩包" in at.error[0].value
    assert at.button(key="ci_import").disabled
