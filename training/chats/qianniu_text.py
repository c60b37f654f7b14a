"""Text copied from the 千牛 desktop client's chat-history window (qianniu-text).

Each message starts with a header line ``昵称 2026-3-5 14:02:11`` (the space may be missing:
``昵称2026-03-05 14:02:11``); the lines up to the next header are its text. Status lines (已读,
未读, 发送中, 发送失败) and system lines (当前用户来自…, 由 … 转交给 …, … 撤回了一条消息,
以上是历史消息 …) are dropped, as are messages under a 系统 header. A nickname of the shop's form
``店铺名:子账号`` (ASCII or full-width colon) is the agent; any other nickname is a customer. One
customer nickname is one session; an agent message belongs to the customer last heard (before any
customer spoke: the first customer of the file). A file without any customer line is one session
named after the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from training.chats.rows import ChatLogError, LogBuilder, parse_time
from training.chats.types import AGENT, CUSTOMER

HEADER_RE = re.compile(
    r"^(?P<name>\S.*?)\s*(?P<date>(?:19|20)\d{2}[-/]\d{1,2}[-/]\d{1,2})\s+(?P<time>\d{1,2}:\d{2}(?::\d{2})?)\s*$")
_STATUS_RE = re.compile(r"^[\[【(（]?(?:已读|未读|发送中|发送失败|已发送|对方已读)[\]】)）]?$")
_SYSTEM_RE = re.compile(
    r"^(?:当前用户来自|由\s.+\s转交给\s|由\S*[:：]\S*\s*转交给|.*撤回了一条消息$|"
    r"[-—=\s]*以[上下][是为](?:历史|新)消息[-—=\s]*$|[-—=\s]*(?:查看更多消息|没有更多消息了?)[-—=\s]*$)")
_SYSTEM_NAMES = ("系统消息", "系统通知", "系统", "系统提示")


def is_noise(line: str) -> bool:
    """A status or system line the history window shows between messages."""
    return bool(_STATUS_RE.match(line) or _SYSTEM_RE.match(line))


def is_agent(name: str) -> bool:
    """The shop's accounts are ``店铺名:子账号``."""
    return ":" in name or "：" in name


def looks_like_qianniu_text(text: str) -> bool:
    """Whether the first line that is not blank or a system line is a 千牛 message header."""
    for line in text.split("\n")[:50]:
        line = line.strip()
        if line and not is_noise(line):
            return HEADER_RE.match(line) is not None
    return False


@dataclass
class _Message:
    line: int
    name: str
    stamp: str
    text: list[str] = field(default_factory=list)


def read_qianniu_text(text: str, builder: LogBuilder) -> None:
    """Add the messages of a copied history window to ``builder``."""
    messages: list[_Message] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw_line in enumerate(lines, start=1):
        builder.tick(number, len(lines))
        line = raw_line.strip()
        if not line or is_noise(line):
            continue
        header = HEADER_RE.match(line)
        if header is not None:
            messages.append(_Message(number, header["name"].strip(), f"{header['date']} {header['time']}"))
        elif messages:
            messages[-1].text.append(raw_line.rstrip())
        else:
            builder.error(number, "在第一条消息之前：应先有「昵称 2026-3-5 14:02:11」这样的发送人和时间行")
    if not messages:
        raise no_messages(builder.file_name)
    customers = [m.name for m in messages if not is_agent(m.name) and m.name not in _SYSTEM_NAMES]
    current = customers[0] if customers else (PurePath(builder.file_name).stem or "千牛聊天记录")
    for message in messages:
        if message.name in _SYSTEM_NAMES:
            continue
        agent = is_agent(message.name)
        if not agent:
            current = message.name
        try:
            sent_at = parse_time(message.stamp)
        except (ValueError, OverflowError, OSError):
            builder.error(message.line, f"时间「{message.stamp}」无法识别")
            continue
        body = "\n".join(message.text).strip()
        if body:
            builder.add(message.line, current, AGENT if agent else CUSTOMER, body, sent_at)


def no_messages(file_name: str) -> ChatLogError:
    """The error for a text with no 千牛 header line at all."""
    return ChatLogError(f"文件「{file_name}」不是千牛聊天记录：没有找到"
                        "「昵称 2026-3-5 14:02:11」这样的消息开头行。")
