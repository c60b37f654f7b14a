"""From one row's cells to a masked ChatLine: the step every chat-log format shares.

Cells become text (``scalar``), roles and times are read (``parse_role``, ``parse_time``) and
``LogBuilder`` masks each message (``training.chats.masking``) as it is added, cuts one longer
than ``MAX_MESSAGE_CHARS`` (marked ``TRUNCATION_MARK``), numbers the lines within each session
and collects malformed rows: the first ``MAX_LISTED_ERRORS`` are listed and the whole file is
refused (``ChatLogError``).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from training.chats.masking import mask_with_counts
from training.chats.types import AGENT, CUSTOMER, ChatLine, ParsedChatLog
from training.core.clock import team_zone
from training.core.errors import UserError
from training.core.progress import Progress

MAX_MESSAGE_CHARS = 5_000
TRUNCATION_MARK = "…（已截断）"
MAX_LISTED_ERRORS = 20
SESSION_KEY_MAX = 128

_ROLES: dict[str, str] = {
    **dict.fromkeys(("0", "customer", "buyer", "user", "client", "顾客", "客户", "买家", "用户"), CUSTOMER),
    **dict.fromkeys(("1", "agent", "staff", "seller", "service", "客服", "商家", "卖家", "店家"), AGENT),
}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


class ChatLogError(UserError):
    """A chat log cannot be imported; the message (Chinese) is shown to the user as is."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


@dataclass
class MaskedChatLog(ParsedChatLog):
    """A parsed log plus what masking replaced and which rows were cut to the length cap."""

    masked: Counter[str] = field(default_factory=Counter)
    truncated_rows: list[int] = field(default_factory=list)


def parse_role(value: object) -> str | None:
    """CUSTOMER or AGENT for a role cell (0/1, customer/agent, 顾客/客服 …), None if unknown."""
    return _ROLES.get(scalar(value).lower())


def parse_time(value: object) -> datetime | None:
    """An aware datetime for a time cell (naive times are the team's time); None if empty."""
    text = scalar(value).replace("/", "-").replace("年", "-").replace("月", "-").replace("日", " ").strip()
    if isinstance(value, datetime):
        moment = value
    elif not text:
        return None
    elif text.isdigit() and len(text) in (10, 13):  # Unix seconds or milliseconds
        moment = datetime.fromtimestamp(int(text[:10]), tz=team_zone())
    else:
        moment = next((m for p in _TIME_FORMATS if (m := _strptime(text, p)) is not None), None) \
            or datetime.fromisoformat(text)  # raises ValueError for anything else
    if not 1970 <= moment.year <= 2100:
        raise ValueError(f"year {moment.year} out of range")
    # An export without offsets carries the wall clock of the shop's team, the zone setting.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=team_zone())


def _strptime(text: str, pattern: str) -> datetime | None:
    try:
        return datetime.strptime(text, pattern)
    except ValueError:
        return None


def scalar(value: object) -> str:
    """A cell as stripped text without control characters (None is "", 1.0 is "1")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores 0/1 and ids as floats
    return _CONTROL_RE.sub("", str(value)).strip()


class LogBuilder:
    """Collects masked lines and row errors; numbers lines within sessions."""

    def __init__(self, file_format: str, file_name: str, progress: Progress | None) -> None:
        self.log = MaskedChatLog(file_format=file_format)
        self.file_name = file_name
        self.progress = progress
        self.errors: list[str] = []
        self.error_count = 0
        self._seq: Counter[str] = Counter()
        self._keys: dict[str, str] = {}

    def error(self, row: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(f"第 {row} 行：{message}")

    def tick(self, row: int, total: int) -> None:
        if self.progress is not None and row % 500 == 0:
            self.progress(min(row / max(total, 1), 1.0))

    def add(self, row: int, session: object, role: str, text: object,
            sent_at: datetime | None = None, sku: str = "") -> None:
        key = self._session_key(scalar(session))
        if not key:
            self.error(row, "会话编号为空")
            return
        masked, counts = mask_with_counts(scalar(text))
        self.log.masked.update(counts)
        if len(masked) > MAX_MESSAGE_CHARS:
            masked = masked[:MAX_MESSAGE_CHARS] + TRUNCATION_MARK
            self.log.truncated_rows.append(row)
        self._seq[key] += 1
        self.log.lines.append(ChatLine(session_key=key, seq=self._seq[key], role=role, text=masked,
                                       sent_at=sent_at, sku=sku))

    def _session_key(self, raw_key: str) -> str:
        if raw_key not in self._keys:
            key = raw_key
            if len(key) > SESSION_KEY_MAX or mask_with_counts(key)[1]:
                # A key that is (or holds) a phone number must not be stored; a hash still groups.
                key = "会话-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            self._keys[raw_key] = key
        return self._keys[raw_key]

    def finish(self) -> MaskedChatLog:
        if self.error_count:
            more = self.error_count - len(self.errors)
            tail = f"\n……另有 {more} 行错误未列出。" if more else ""
            raise ChatLogError(f"文件「{self.file_name}」有 {self.error_count} 行无法导入，整份文件未导入，"
                               f"请修改后重试：\n" + "\n".join(self.errors) + tail, self.errors)
        if not self.log.lines:
            raise ChatLogError(f"文件「{self.file_name}」没有聊天记录。")
        if self.progress is not None:
            self.progress(1.0)
        return self.log


def add_record(builder: LogBuilder, row: int, values: dict[str, Any]) -> None:
    """Add one record's session, role, text and time, or the row's error, to ``builder``."""
    for key, label in (("session", "会话"), ("role", "角色"), ("text", "内容")):
        if values[key] is None or isinstance(values[key], (dict, list)):
            builder.error(row, f"缺少{label}或{label}不是文本")
            return
    role = parse_role(values["role"])
    if role is None:
        builder.error(row, f"角色「{scalar(values['role'])[:20]}」无法识别"
                           "（应为 0/1、customer/agent、顾客/客服 等）")
        return
    try:
        sent_at = parse_time(values["time"])
    except (ValueError, OverflowError, OSError):
        builder.error(row, f"时间「{scalar(values['time'])[:30]}」无法识别")
        return
    builder.add(row, values["session"], role, values["text"], sent_at)
