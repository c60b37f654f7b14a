"""Imported sessions as drill material: customer turns with their context and the real reply,
the noise a trainer usually leaves out, and sessions whose text still looks unmasked.

A customer *turn* is a run of consecutive customer messages (a customer often sends two or three
lines before the agent answers); its real reply is the agent messages that follow it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from training.chats.masking import mask_with_counts
from training.chats.types import CUSTOMER
from training.mining.question_bank import member_texts
from training.mining.text import clean_customer_message, content_segments, has_content
from training.models import ChatMessage, MinedQuestion
from training.models.scripts import approved_current_versions

#: A drill has this many customer turns (after leaving the noise out).
MIN_TURNS, MAX_TURNS = 3, 10
#: Context lines kept before each turn (for scoring and for the transcript).
CONTEXT_LINES = 6
_TRANSFER = re.compile(r"转人工|人工客服|人工服务|^\s*人工\s*$")
_ORDER = re.compile(r"订单号|订单编号|单号|\[(?:订单|ORDERID)[^\]]*\]|\d{10,}")


@dataclass(frozen=True)
class Turn:
    """One customer turn of a session."""

    seq: int
    customer: str
    context: list[dict[str, str]]
    agent: str
    gap_seconds: float | None = None
    mined_question_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The turn as stored in ``Drill.turns``."""
        return {"seq": self.seq, "customer": self.customer, "context": self.context, "agent": self.agent,
                "gap_seconds": self.gap_seconds, "mined_question_id": self.mined_question_id}


@dataclass
class SessionCandidate:
    """An imported session as a trainer picks it: its turns and what the filters read."""

    import_id: int
    session_key: str
    turns: list[Turn]
    categories: set[str] = field(default_factory=set)
    covered: int = 0
    noise: list[int] = field(default_factory=list)
    unmasked: list[str] = field(default_factory=list)

    @property
    def usable(self) -> int:
        """Customer turns left once the proposed noise is out."""
        return len(self.turns) - len(self.noise)

    @property
    def preview(self) -> str:
        """The first real customer question, for the list."""
        kept = [t for t in self.turns if t.seq not in self.noise] or self.turns
        return kept[0].customer if kept else ""


def is_noise(text: str) -> str | None:
    """Why a customer turn is noise (greeting, 转人工, order number), or None if it asks something."""
    if _TRANSFER.search(text):
        return "转人工"
    cleaned = clean_customer_message(text)
    if not any(has_content(s) for s in content_segments(cleaned)):
        return "订单号" if _ORDER.search(text) else "寒暄"
    if _ORDER.search(text) and len(_ORDER.sub("", cleaned)) < 8:
        return "订单号"
    return None


def unmasked_findings(texts: list[str]) -> list[str]:
    """What masking would still replace in these texts (empty: the session looks masked)."""
    found: set[str] = set()
    for text in texts:
        _, counts = mask_with_counts(text)
        found |= {kind for kind, n in counts.items() if n}
    return sorted(found)


def _gap(before: datetime | None, after: datetime | None) -> float | None:
    return (after - before).total_seconds() if before and after and after >= before else None


def split_turns(messages: list[ChatMessage], questions: dict[str, int] | None = None) -> list[Turn]:
    """A session's customer turns in order (messages sorted by ``seq``)."""
    turns: list[Turn] = []
    i = 0
    while i < len(messages):
        if messages[i].role != CUSTOMER:
            i += 1
            continue
        start = i
        while i < len(messages) and messages[i].role == CUSTOMER:
            i += 1
        reply_start = i
        while i < len(messages) and messages[i].role != CUSTOMER:
            i += 1
        customer = [m.text for m in messages[start:reply_start]]
        previous = messages[start - 1] if start else None
        context = [{"role": m.role, "text": m.text} for m in messages[max(0, start - CONTEXT_LINES):start]]
        turns.append(Turn(
            seq=messages[start].seq, customer="\n".join(customer), context=context,
            agent="\n".join(m.text for m in messages[reply_start:i]),
            gap_seconds=_gap(previous.sent_at if previous else None, messages[start].sent_at),
            mined_question_id=_question_of(customer, questions or {})))
    return turns


def _question_of(lines: list[str], questions: dict[str, int]) -> int | None:
    for line in lines:
        cleaned = clean_customer_message(line)
        for text in (cleaned, *content_segments(cleaned)):
            if text in questions:
                return questions[text]
    return None


def question_index(*, session: Session) -> tuple[dict[str, int], dict[int, tuple[str, bool]]]:
    """Every mined wording -> its question; per question its category and whether an approved
    script covers it."""
    approved = {s.id for s, _ in session.exec(approved_current_versions()).all()}
    wordings: dict[str, int] = {}
    info: dict[int, tuple[str, bool]] = {}
    for q in session.exec(select(MinedQuestion).where(col(MinedQuestion.hidden).is_(False))).all():
        assert q.id is not None
        info[q.id] = (q.category, q.covered_by_script_id in approved)
        for text in member_texts(q):
            wordings.setdefault(text, q.id)
    return wordings, info


def session_messages(*, session: Session, import_id: int, session_key: str) -> list[ChatMessage]:
    """One session's messages in order."""
    return list(session.exec(select(ChatMessage).where(
        col(ChatMessage.import_id) == import_id, col(ChatMessage.session_key) == session_key,
    ).order_by(col(ChatMessage.seq))).all())


def describe(import_id: int, key: str, messages: list[ChatMessage], wordings: dict[str, int],
             info: dict[int, tuple[str, bool]]) -> SessionCandidate:
    """A session with its turns, proposed noise, categories, coverage and unmasked findings."""
    turns = split_turns(messages, wordings)
    found = [info[t.mined_question_id] for t in turns if t.mined_question_id in info]
    return SessionCandidate(
        import_id=import_id, session_key=key, turns=turns, categories={c for c, _ in found},
        covered=sum(1 for _, covered in found if covered),
        noise=[t.seq for t in turns if is_noise(t.customer) or not t.agent.strip()],
        unmasked=unmasked_findings([m.text for m in messages]))


def candidate_sessions(
    *, session: Session, import_id: int | None = None, category: str | None = None,
    min_turns: int = MIN_TURNS, max_turns: int = MAX_TURNS, covered: bool | None = None,
) -> list[SessionCandidate]:
    """Imported sessions that fit a drill, most covered first.

    Args:
        import_id: one import only (None: every import).
        category: keep sessions with a turn mined into this category.
        min_turns, max_turns: customer turns left once the proposed noise is out.
        covered: True: a turn is covered by an approved script; False: none is; None: either.
    """
    query = select(ChatMessage).order_by(col(ChatMessage.import_id), col(ChatMessage.session_key),
                                         col(ChatMessage.seq))
    if import_id is not None:
        query = query.where(col(ChatMessage.import_id) == import_id)
    grouped: dict[tuple[int, str], list[ChatMessage]] = defaultdict(list)
    for message in session.exec(query).all():
        grouped[(message.import_id, message.session_key)].append(message)
    wordings, info = question_index(session=session)
    out = []
    for (imp, key), messages in grouped.items():
        found = describe(imp, key, messages, wordings, info)
        if found.unmasked or not min_turns <= found.usable <= max_turns:
            continue
        if category and category not in found.categories:
            continue
        if covered is not None and bool(found.covered) != covered:
            continue
        out.append(found)
    return sorted(out, key=lambda c: (-c.covered, -c.usable, c.import_id, c.session_key))

