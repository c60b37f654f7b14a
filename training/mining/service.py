"""Mining the questions of a stored chat-log import into the trainer's one question bank."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.chats.types import ChatLine
from training.core.errors import UserError
from training.mining.bank import BankMining, KnownCluster, mine_into_bank
from training.mining.mine import MAX_EXAMPLES
from training.mining.question_bank import coverage_texts, mark_coverage, member_texts
from training.models import ChatImport, ChatMessage, MinedQuestion, QuestionFrequency, User
from training.nlp.embeddings import Embedder

_MAX_STORED_REPLIES = 10  # as merge_clusters keeps them


class MiningError(UserError):
    """The import cannot be mined (unknown, or mined already)."""


@dataclass(frozen=True)
class MiningOutcome:
    """What mining one import did to the question bank."""

    clusters: list[MinedQuestion]  # every cluster the import counted in, most asked first
    new_count: int  # clusters the import created
    joined_count: int  # clusters already in the bank that the import added to
    question_count: int  # customer questions of the import


def load_lines(*, session: Session, import_id: int) -> list[ChatLine]:
    """The stored (masked) messages of one import as ChatLines, in session order."""
    rows = session.exec(select(ChatMessage).where(ChatMessage.import_id == import_id)
                        .order_by(col(ChatMessage.id))).all()
    return [ChatLine(r.session_key, r.seq, r.role, r.text, r.sent_at) for r in rows]


def known_clusters(*, session: Session) -> list[KnownCluster]:
    """The bank's clusters (hidden ones too: a hidden question stays hidden), most asked first."""
    rows = session.exec(select(MinedQuestion).order_by(col(MinedQuestion.frequency).desc(),
                                                       col(MinedQuestion.id))).all()
    return [KnownCluster(id=r.id or 0, question=r.question, category=r.category,
                         examples=tuple(r.examples or ()), members=tuple(member_texts(r))) for r in rows]


def mine_import(
    *, session: Session, actor: User | None, import_id: int, embedder: Embedder,
    progress: Callable[[float], None] | None = None,
) -> MiningOutcome:
    """Mine one import into the question bank in one transaction, and refresh coverage.

    Questions that match a cluster already in the bank (same wording, or as close as questions
    merged within an import) add to its frequency and keep its 已入题库 and coverage; only the
    rest make new clusters. Each cluster's count in this import is kept per import.

    Args:
        import_id: a ChatImport that has not been mined yet.
        embedder: encoder with the database embedding cache.
        progress: called with the fraction done (0..1) for the page's progress bar.

    Returns:
        The clusters this import counted in (most frequent first) and what was new or joined.
    """
    editor = require_role(actor, *STAFF)
    chat_import = session.get(ChatImport, import_id)
    if chat_import is None:
        raise MiningError("导入记录不存在。")
    mined = (session.exec(select(QuestionFrequency).where(QuestionFrequency.import_id == import_id)).first()
             or session.exec(select(MinedQuestion).where(MinedQuestion.import_id == import_id)).first())
    if mined is not None:
        raise MiningError(f"「{chat_import.file_name}」已经挖掘过，结果在问题库中。")
    result = mine_into_bank(load_lines(session=session, import_id=import_id),
                            known=known_clusters(session=session), embedder=embedder, progress=progress)
    # Every embedding coverage needs is computed before the first write, so that nothing but
    # this session writes until the commit (the embedding cache has its own connection).
    embedder.embed([*coverage_texts(session=session), *(c.question for c in result.new_clusters)])
    try:
        rows = _record(session, editor, chat_import, result)
        mark_coverage(session=session, embedder=embedder, commit=False)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    for row in rows:
        session.refresh(row)
    rows.sort(key=lambda r: (-r.frequency, r.id or 0))
    return MiningOutcome(clusters=rows, new_count=len(result.new_clusters), joined_count=len(result.joined),
                         question_count=result.question_count)


def _record(
    session: Session, editor: User, chat_import: ChatImport, result: BankMining,
) -> list[MinedQuestion]:
    """Apply one import's mining to the bank (flushed, not committed)."""
    import_id = chat_import.id or 0
    rows: list[MinedQuestion] = []
    for joined in result.joined:
        cluster = session.get(MinedQuestion, joined.cluster_id)
        assert cluster is not None
        cluster.frequency += joined.frequency
        cluster.member_texts = list(dict.fromkeys([*member_texts(cluster), *joined.texts]))
        wordings = dict.fromkeys([*(cluster.examples or []), *joined.texts])
        examples = [t for t in wordings if t != cluster.question]
        cluster.examples = examples[:max(MAX_EXAMPLES, len(cluster.examples or []))]
        replies = [*(cluster.agent_replies or []), *joined.agent_replies]
        cluster.agent_replies = list(dict.fromkeys(replies))[:_MAX_STORED_REPLIES]
        session.add(cluster)
        session.add(QuestionFrequency(question_id=joined.cluster_id, import_id=import_id,
                                      frequency=joined.frequency))
        rows.append(cluster)
    for new in result.new_clusters:
        row = MinedQuestion(import_id=import_id, question=new.question, frequency=new.frequency,
                            category=new.category, examples=list(new.examples), context=list(new.context),
                            agent_replies=list(new.agent_replies), member_texts=list(new.members))
        session.add(row)
        session.flush()
        session.add(QuestionFrequency(question_id=row.id or 0, import_id=import_id, frequency=new.frequency))
        rows.append(row)
    chat_import.question_count = result.question_count
    session.add(chat_import)
    audit.record(session=session, actor=editor, action="questions.mine", target=str(import_id),
                 detail={"clusters": len(result.new_clusters), "joined": len(result.joined),
                         "questions": result.question_count})
    session.flush()
    return rows
