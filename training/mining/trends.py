"""How often each bank question was asked per import, so a trainer sees what is rising."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from training.auth.permissions import STAFF, require_role
from training.models import ChatImport, QuestionFrequency, User


@dataclass(frozen=True)
class ImportTrend:
    """Each cluster's count in the latest mined import and in the one before it."""

    latest: ChatImport | None = None
    previous: ChatImport | None = None
    latest_counts: dict[int, int] = field(default_factory=dict)  # cluster id -> questions
    previous_counts: dict[int, int] = field(default_factory=dict)

    def change(self, cluster_id: int) -> int:
        """Questions in the latest import minus those in the one before (0 without two imports)."""
        if self.previous is None:
            return 0
        return self.latest_counts.get(cluster_id, 0) - self.previous_counts.get(cluster_id, 0)


def frequencies_by_import(*, session: Session, actor: User | None) -> dict[int, dict[int, int]]:
    """Per cluster id: import id -> how often the import asked it (trainers and admins)."""
    require_role(actor, *STAFF)
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for row in session.exec(select(QuestionFrequency)).all():
        out[row.question_id][row.import_id] = row.frequency
    return dict(out)


def import_trend(*, session: Session, actor: User | None) -> ImportTrend:
    """Counts of the two most recently mined imports, for the 问题库 table (trainers and admins)."""
    require_role(actor, *STAFF)
    mined = session.exec(
        select(ChatImport).where(col(ChatImport.id).in_(select(QuestionFrequency.import_id).distinct()))
        .order_by(col(ChatImport.imported_at).desc(), col(ChatImport.id).desc()).limit(2)).all()
    if not mined:
        return ImportTrend()
    counts = frequencies_by_import(session=session, actor=actor)
    latest, previous = mined[0], (mined[1] if len(mined) > 1 else None)

    def of(chat_import: ChatImport | None) -> dict[int, int]:
        if chat_import is None:
            return {}
        return {q: per[chat_import.id] for q, per in counts.items() if chat_import.id in per}

    return ImportTrend(latest, previous, of(latest), of(previous))
