"""Chat-log import: role check, duplicate refusal, the file and all its lines in one transaction."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.chats.masking import clean_text
from training.chats.parsers import parse_chat_log
from training.chats.readers import ColumnMapping
from training.chats.rows import ChatLogError
from training.chats.types import ChatLine
from training.core.clock import fmt_datetime
from training.core.progress import Progress
from training.models import ChatImport, ChatMessage, Role, User

INSERT_CHUNK = 2_000
PARSE_SHARE = 0.6  # of the progress bar; the rest is writing to the database


class DuplicateImportError(ChatLogError):
    """The same file (same SHA-256) was imported before; nothing was written."""


@dataclass(frozen=True)
class ImportResult:
    """What one import stored, for the page and the CLI to report."""

    import_id: int
    file_name: str
    file_format: str
    session_count: int
    message_count: int
    masked: dict[str, int]  # placeholder -> how many replacements, e.g. {"[手机号]": 4}
    truncated_rows: tuple[int, ...]  # rows whose message was cut to MAX_MESSAGE_CHARS
    seconds: float


@dataclass(frozen=True)
class ImportSummary:
    """One earlier import as listed on the page."""

    id: int
    file_name: str
    file_format: str
    imported_at: datetime
    imported_by: str
    session_count: int
    message_count: int
    question_count: int


def import_chat_log(
    *, session: Session, actor: User | None, raw: bytes, file_name: str, file_format: str = "auto",
    mapping: ColumnMapping | None = None, progress: Progress | None = None,
) -> ImportResult:
    """Parse, mask and store a chat-log file (trainers and admins); all lines or nothing.

    Args:
        session: database session; committed on success, rolled back on any error.
        actor: the logged-in user; must be an admin or trainer.
        raw: the uploaded bytes.
        file_name: the upload's name (directories are dropped); shown in messages.
        file_format: "auto" or one of training.chats.parsers.FORMATS.
        mapping: column mapping for csv/tsv/xlsx (proposed from the header when None).
        progress: called with the fraction done, in [0, 1].

    Returns:
        The stored import's id and counts, and what masking replaced.

    Raises:
        PermissionDenied: the actor is not a trainer or admin.
        DuplicateImportError: the same bytes were imported before.
        ChatLogError: the file cannot be read; the message names the rows.
    """
    user = require_role(actor, Role.ADMIN, Role.TRAINER)
    started = time.perf_counter()
    name = (PurePath(file_name).name or file_name)[:255]
    digest = hashlib.sha256(raw).hexdigest()
    try:
        _refuse_duplicate(session, digest, name)
        log = parse_chat_log(raw, file_name=name, file_format=file_format, mapping=mapping,
                             progress=_scaled(progress, 0.0, PARSE_SHARE))
        record = ChatImport(file_name=name, file_sha256=digest, file_format=log.file_format,
                            imported_by=user.id, session_count=log.session_count,
                            message_count=len(log.lines))
        session.add(record)
        session.flush()
        assert record.id is not None
        _insert_lines(session, record.id, log.lines, _scaled(progress, PARSE_SHARE, 1.0))
        audit.record(session=session, actor=user, action="chat.import", target=name, detail={
            "import_id": record.id, "sha256": digest, "format": log.file_format,
            "sessions": log.session_count, "messages": len(log.lines), "masked": dict(log.masked),
            "truncated": len(log.truncated_rows)})
        session.commit()
    except IntegrityError:
        session.rollback()
        _refuse_duplicate(session, digest, name)  # another upload of the same file won the race
        raise
    except BaseException:
        session.rollback()  # also ends the read transaction of the duplicate check
        raise
    return ImportResult(import_id=record.id, file_name=name, file_format=log.file_format,
                        session_count=log.session_count, message_count=len(log.lines),
                        masked=dict(log.masked), truncated_rows=tuple(log.truncated_rows),
                        seconds=time.perf_counter() - started)


def list_imports(*, session: Session, actor: User | None) -> list[ImportSummary]:
    """All chat-log imports, newest first, with who imported them (trainers and admins)."""
    require_role(actor, *STAFF)
    rows = session.exec(
        select(ChatImport, User).outerjoin(User, col(ChatImport.imported_by) == col(User.id))
        .order_by(col(ChatImport.imported_at).desc(), col(ChatImport.id).desc())
    ).all()
    return [ImportSummary(id=record.id or 0, file_name=record.file_name, file_format=record.file_format,
                          imported_at=record.imported_at, imported_by=_who(user),
                          session_count=record.session_count, message_count=record.message_count,
                          question_count=record.question_count) for record, user in rows]


# --- helpers ------------------------------------------------------------------------------


def _who(user: User | None) -> str:
    return f"{user.display_name}（{user.username}）" if user is not None else "已删除的用户"


def _refuse_duplicate(session: Session, digest: str, file_name: str) -> None:
    earlier = session.exec(select(ChatImport).where(ChatImport.file_sha256 == digest)).first()
    if earlier is None:
        return
    who = _who(session.get(User, earlier.imported_by) if earlier.imported_by is not None else None)
    when = fmt_datetime(earlier.imported_at)  # team time, as the import list shows it
    raise DuplicateImportError(
        f"文件「{file_name}」与 {when} 由 {who} 导入的「{earlier.file_name}」（导入编号 {earlier.id}）"
        "内容完全相同，不会重复导入。")


def _scaled(progress: Progress | None, start: float, end: float) -> Progress | None:
    if progress is None:
        return None
    report = progress
    return lambda fraction: report(start + (end - start) * fraction)


def _insert_lines(session: Session, import_id: int, lines: Sequence[ChatLine],
                  progress: Progress | None) -> None:
    for begin in range(0, len(lines), INSERT_CHUNK):
        chunk = [{"import_id": import_id, "session_key": line.session_key, "seq": line.seq,
                  "role": line.role, "text": line.text, "text_clean": clean_text(line.text),
                  "sent_at": line.sent_at} for line in lines[begin:begin + INSERT_CHUNK]]
        _insert_chunk(session, chunk)
        if progress is not None:
            progress(min(1.0, (begin + len(chunk)) / len(lines)))


def _insert_chunk(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    # One executemany per chunk: far faster than ORM objects for 10^4 lines on both databases.
    session.exec(insert(ChatMessage), params=rows)
