"""Chat-log value types shared by importing and question mining."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

CUSTOMER = "customer"
AGENT = "agent"


@dataclass(frozen=True)
class ChatLine:
    """One message of a chat session; ``text`` already has personal data masked."""

    session_key: str
    seq: int
    role: str  # CUSTOMER or AGENT
    text: str
    sent_at: datetime | None = None
    sku: str = ""


@dataclass
class ParsedChatLog:
    """What a parser read from one file, before anything is stored."""

    file_format: str
    lines: list[ChatLine] = field(default_factory=list)

    @property
    def session_count(self) -> int:
        """Number of distinct sessions."""
        return len({line.session_key for line in self.lines})
