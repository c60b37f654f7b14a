"""After switching the encoder: recompute what the app keeps embedded under the new model.

Cached embeddings are keyed by model id, so nothing computed under the old model is reused.
Two things would otherwise be recomputed on a user's click: script coverage of the mined
question clusters (问题库), and the lookup index over the approved bank (话术查询).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from scripts_bank.service import APPROVED, bank_index, views_of
from training.auth.permissions import STAFF, require_role
from training.mining.question_bank import COVERAGE_THRESHOLD, mark_coverage
from training.models import MinedQuestion, Script, User
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import model_threshold

#: Texts embedded per progress step.
CHUNK = 64


@dataclass(frozen=True)
class WarmUpReport:
    """What a warm-up recomputed under ``model_id``."""

    model_id: str
    texts: int
    clusters: int
    covered: int
    scripts: int


def warm_up(
    *, session: Session, actor: User | None, embedder: Embedder, semantic_weight: float,
    progress: Callable[[float, str], None] | None = None,
) -> WarmUpReport:
    """Embed the question bank and the approved scripts under ``embedder``'s model (trainers, admins).

    Args:
        embedder: the newly active encoder with the database embedding cache.
        semantic_weight: the lookup fusion weight the app uses.
        progress: (fraction, message) callback.

    Returns:
        Counts of what was recomputed. Coverage is re-marked with the coverage threshold mapped
        onto the new model's cosine scale; the lookup index is built (and, for large banks,
        saved under the cache dir) so the first lookup finds it ready.
    """
    require_role(actor, *STAFF)

    def say(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    clusters = list(session.exec(select(MinedQuestion)).all())
    views = views_of(session=session, scripts=session.exec(
        select(Script).where(Script.status == APPROVED).order_by(col(Script.id))).all())
    # Both users of the vectors embed bare questions (no passage prompt): one pass serves both.
    texts = list(dict.fromkeys([v.question for v in views] + [c.question for c in clusters]))
    for start in range(0, len(texts), CHUNK):
        say(0.9 * start / max(len(texts), 1),
            f"用新模型计算问题与话术的向量：{start}/{len(texts)}")
        embedder.embed(texts[start:start + CHUNK])
    say(0.9, "重新标记问题库的话术覆盖")
    threshold = model_threshold(embedder.model_id, COVERAGE_THRESHOLD)
    covered = mark_coverage(session=session, embedder=embedder, threshold=threshold)
    say(0.95, "重建话术查询索引")
    bank_index(session=session, embedder=embedder, semantic_weight=semantic_weight)
    say(1.0, f"完成：{len(texts)} 条文本、{len(clusters)} 个问题、{len(views)} 条话术")
    return WarmUpReport(embedder.model_id, len(texts), len(clusters), covered, len(views))
