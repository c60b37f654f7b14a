"""Mining the questions of a stored chat-log import into the trainer's question bank."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, select

from training import audit
from training.chat import ChatLine
from training.embeddings import Embedder
from training.errors import UserError
from training.mining import mine_questions
from training.models import ChatImport, ChatMessage, MinedQuestion, User
from training.permissions import STAFF, require_role
from training.question_bank import mark_coverage, store_clusters


class MiningError(UserError):
    """The import cannot be mined (unknown, or mined already)."""


def load_lines(session: Session, import_id: int) -> list[ChatLine]:
    """The stored (masked) messages of one import as ChatLines, in session order."""
    rows = session.exec(select(ChatMessage).where(ChatMessage.import_id == import_id)
                        .order_by(col(ChatMessage.id))).all()
    return [ChatLine(r.session_key, r.seq, r.role, r.text, r.sent_at) for r in rows]


def mine_import(
    *, session: Session, actor: User | None, import_id: int, embedder: Embedder,
    progress: Callable[[float], None] | None = None,
) -> list[MinedQuestion]:
    """Mine one import's questions, store the clusters and mark those a script already covers.

    Args:
        import_id: a ChatImport that has not been mined yet.
        embedder: encoder with the database embedding cache.
        progress: called with the fraction done (0..1) for the page's progress bar.

    Returns:
        The stored clusters, most frequent first.
    """
    require_role(actor, *STAFF)
    chat_import = session.get(ChatImport, import_id)
    if chat_import is None:
        raise MiningError("导入记录不存在。")
    if session.exec(select(MinedQuestion).where(MinedQuestion.import_id == import_id)).first():
        raise MiningError(f"「{chat_import.file_name}」已经挖掘过，结果在问题库中。")
    clusters = mine_questions(load_lines(session, import_id), embedder=embedder, progress=progress)
    rows = store_clusters(session=session, actor=actor, import_id=import_id, clusters=clusters)
    try:
        mark_coverage(session=session, embedder=embedder)
    except BaseException:
        # store_clusters has committed: take its rows back so the import can be mined again.
        session.rollback()
        _forget_mining(session, actor, import_id)
        raise
    for row in rows:
        session.refresh(row)
    return rows


def _forget_mining(session: Session, actor: User | None, import_id: int) -> None:
    """Delete the clusters of an import whose mining failed after they were stored."""
    for row in session.exec(select(MinedQuestion).where(MinedQuestion.import_id == import_id)).all():
        session.delete(row)
    chat_import = session.get(ChatImport, import_id)
    if chat_import is not None:
        chat_import.question_count = 0
        session.add(chat_import)
    audit.record(session=session, actor=actor, action="questions.mine_undone", target=str(import_id))
    session.commit()
