"""千牛 (Taobao's agent client) chat export as a ZIP of JSON files (qianniu-zip).

- qianniu-zip: one JSON file per customer, ``{"user", "exportTime", "count", "chats": [{"date",
  "time", "sender", "text", "imgUrl"}]}``. ``sender == user`` is the customer, any other sender
  (``店铺名:小美``) the shop. A message with no text but an image becomes ``[图片]`` (the marker
  mining already knows), so the turns keep their order. Members that are not ``.json`` are ignored
  with a note; names without the UTF-8 flag are read as GBK. Refused: more than ``MAX_MEMBERS``
  members, an unpacked total over the upload limit (counted while reading, not trusted from the
  headers), a member path with ``..`` or a leading ``/``, a member that is not valid JSON.

Errors name the member and message number; any error refuses the file.
"""

from __future__ import annotations

import io
import json
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

from training.chats.qianniu import NotedChatLog, located_error, noted_builder
from training.chats.rows import ChatLogError, LogBuilder, parse_time, scalar
from training.chats.types import AGENT, CUSTOMER
from training.core.uploads import decode_text

MAX_MEMBERS = 20_000
IMAGE = "[图片]"


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its writer meant it: without the UTF-8 flag, UTF-8 if valid, else GBK."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _is_dir(info: zipfile.ZipInfo) -> bool:
    """A folder entry (``ZipInfo.is_dir`` fails on a member with an empty name: found by fuzzing)."""
    return info.filename.endswith("/")


def open_zip(raw: bytes, file_name: str) -> zipfile.ZipFile:
    """The archive, or a ChatLogError saying it is not a ZIP file."""
    try:
        return zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ChatLogError(f"文件「{file_name}」不是有效的 ZIP 压缩包，可能已损坏或不完整。") from exc


def is_workbook_archive(archive: zipfile.ZipFile) -> bool:
    """Whether a ZIP archive is an Office workbook rather than a folder of exports."""
    names = set(archive.namelist())
    return "[Content_Types].xml" in names or "xl/workbook.xml" in names


def has_json_members(archive: zipfile.ZipFile) -> bool:
    """Whether any member of the archive is a .json file."""
    return any(member_name(i).lower().endswith(".json") for i in archive.infolist() if not _is_dir(i))


def _members(raw: bytes, file_name: str, limit: int, log: NotedChatLog) -> Iterator[tuple[str, bytes]]:
    """(decoded name, bytes) of each .json member, in archive order, within the safety limits."""
    with open_zip(raw, file_name) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ChatLogError(f"压缩包「{file_name}」有 {len(infos)} 个文件，超过 {MAX_MEMBERS} 个，"
                               "请拆分后再导入。")
        too_big = ChatLogError(f"压缩包「{file_name}」解压后超过上传上限 {limit // (1024 * 1024)} MB，"
                               "请拆分后再导入。")
        if sum(i.file_size for i in infos) > limit:
            raise too_big
        budget = limit
        skipped: list[str] = []
        for info in infos:
            name = member_name(info)
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
                raise ChatLogError(f"压缩包「{file_name}」中的「{name}」路径不安全（含 .. 或绝对路径），"
                                   "整个文件未导入。")
            if _is_dir(info):
                continue
            base = parts[-1]
            if not base.lower().endswith(".json") or base.startswith("._") or parts[0] == "__MACOSX":
                skipped.append(name)
                continue
            try:
                with archive.open(info) as member:
                    data = member.read(budget + 1)  # the header's size is not trusted
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError,
                    zlib.error, lzma.LZMAError) as exc:  # RuntimeError: an encrypted member
                raise ChatLogError(f"压缩包「{file_name}」中的「{name}」无法解压"
                                   "（可能已损坏或加密）。") from exc
            budget -= len(data)
            if budget < 0:
                raise too_big
            yield name, data
        if skipped:
            shown = "、".join(f"「{n}」" for n in skipped[:5])
            shown += f"等 {len(skipped)} 个文件" if len(skipped) > 5 else ""
            log.notes.append(f"压缩包中的{shown}不是 JSON 文件，已忽略。")


def read_qianniu_zip(raw: bytes, limit: int, builder: LogBuilder) -> None:
    """Add every JSON member's messages to ``builder``, one session per customer file."""
    log = noted_builder("qianniu-zip", builder)
    keys: set[str] = set()
    members = 0
    for name, data in _members(raw, builder.file_name, limit, log):
        members += 1
        try:
            obj = json.loads(decode_text(data, file_name=name, error=ChatLogError))
        except (ValueError, RecursionError) as exc:  # ChatLogError is a ValueError too
            raise ChatLogError(f"压缩包「{builder.file_name}」中的「{name}」不是合法的 JSON"
                               "（可能不完整），整个文件未导入。") from exc
        chats = obj.get("chats") if isinstance(obj, dict) else None
        if not isinstance(chats, list):
            located_error(builder, f"「{name}」", "应是一个含 chats 列表的 JSON 对象")
            continue
        assert isinstance(obj, dict)
        stem = name.replace("\\", "/").rsplit("/", 1)[-1][:-5]
        user = scalar(obj.get("user")) if isinstance(obj.get("user"), (str, int)) else ""
        key = user or stem
        if key in keys:  # the same customer exported twice: two sessions, not one merged
            key = f"{key}（{name}）"
        keys.add(key)
        _read_member(name, key, user, chats, builder)
    if not members:
        raise ChatLogError(f"压缩包「{builder.file_name}」里没有 JSON 聊天记录文件。")


def _read_member(name: str, key: str, user: str, chats: list[Any], builder: LogBuilder) -> None:
    for number, chat in enumerate(chats, start=1):
        where = f"「{name}」第 {number} 条消息"
        if not isinstance(chat, dict):
            located_error(builder, where, "应是一个 JSON 对象")
            continue
        sender = scalar(chat.get("sender")) if isinstance(chat.get("sender"), (str, int)) else ""
        if not sender:
            located_error(builder, where, "缺少发送人（sender）")
            continue
        shop = ":" in sender or "：" in sender
        role = CUSTOMER if sender == user or (not user and not shop) else AGENT
        stamp = " ".join(scalar(chat.get(k)) for k in ("date", "time")
                         if isinstance(chat.get(k), (str, int)) and scalar(chat.get(k)))
        try:
            sent_at = parse_time(stamp) if scalar(chat.get("date")) else None
        except (ValueError, OverflowError, OSError):
            located_error(builder, where, f"时间「{stamp[:30]}」无法识别")
            continue
        text_value = chat.get("text")
        if text_value is not None and not isinstance(text_value, (str, int, float)):
            located_error(builder, where, "内容（text）不是文本")
            continue
        text = scalar(text_value)
        if not text and scalar(chat.get("imgUrl")):
            text = IMAGE
        if not text:
            continue  # nothing said and nothing shown
        builder.add(number, key, role, text, sent_at)
