"""Mined question clusters as trainers curate them: store, filter, edit, merge, split, promote."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.models import (
    Category,
    ChatImport,
    ExamItem,
    MinedQuestion,
    QuestionFrequency,
    Script,
    ScriptVersion,
    User,
)
from training.models.scripts import approved_current_versions
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import model_threshold

#: Cosine at which a cluster counts as answered by an approved script (e5 scale; see bench/).
COVERAGE_THRESHOLD = 0.92


class BankError(UserError):
    """A user-facing problem with a question-bank operation."""


class ClusterLike(Protocol):
    """What mining produces for one cluster (training.mining.mine.QuestionCluster)."""

    question: str
    frequency: int
    category: str
    examples: list[str]
    context: list[dict[str, str]]
    agent_replies: list[str]


def store_clusters(
    *, session: Session, actor: User | None, import_id: int | None,
    clusters: Sequence[ClusterLike],
) -> list[MinedQuestion]:
    """Save mined clusters of one import (trainers and admins); commits."""
    editor = require_role(actor, *STAFF)
    rows = [MinedQuestion(import_id=import_id, question=c.question, frequency=c.frequency,
                          category=c.category, examples=list(c.examples),
                          context=list(c.context), agent_replies=list(c.agent_replies))
            for c in clusters]
    session.add_all(rows)
    if import_id is not None:
        session.flush()
        session.add_all([QuestionFrequency(question_id=r.id or 0, import_id=import_id, frequency=r.frequency)
                         for r in rows])
        chat_import = session.get(ChatImport, import_id)
        if chat_import is not None:
            chat_import.question_count = sum(c.frequency for c in clusters)
            session.add(chat_import)
    audit.record(session=session, actor=editor, action="questions.mine", target=str(import_id),
                 detail={"clusters": len(rows)})
    session.commit()
    return rows


def _approved_scripts(session: Session) -> list[tuple[Script, ScriptVersion]]:
    return [(s, v) for s, v in session.exec(approved_current_versions()).all()]


def coverage_texts(*, session: Session) -> list[str]:
    """The texts ``mark_coverage`` embeds: approved script questions and cluster questions."""
    return ([v.question for _, v in _approved_scripts(session)]
            + [c.question for c in session.exec(select(MinedQuestion)).all()])


def mark_coverage(
    *, session: Session, embedder: Embedder, threshold: float | None = None, commit: bool = True,
) -> int:
    """Mark each cluster covered by its closest approved script when close enough.

    Args:
        embedder: the encoder with cache.
        threshold: minimal cosine between cluster question and script question; None means
            ``COVERAGE_THRESHOLD`` mapped onto the embedder's cosine scale (see
            ``training.nlp.model_versions.model_threshold``).
        commit: False leaves the changes in the session's transaction (mining commits once).

    Returns:
        The number of clusters now marked covered.
    """
    scripts = _approved_scripts(session)
    clusters = list(session.exec(select(MinedQuestion)).all())
    if not clusters:
        return 0
    if threshold is None:
        threshold = model_threshold(embedder.model_id, COVERAGE_THRESHOLD)
    covered = 0
    if scripts:
        texts = [v.question for _, v in scripts] + [c.question for c in clusters]
        vectors = embedder.embed(texts)
        sims = vectors[len(scripts):] @ vectors[: len(scripts)].T
        best = np.argmax(sims, axis=1)
    for i, cluster in enumerate(clusters):
        script_id = None
        if scripts and float(sims[i, best[i]]) >= threshold:
            script_id = scripts[int(best[i])][0].id
            covered += 1
        cluster.covered_by_script_id = script_id
        session.add(cluster)
    if commit:
        session.commit()
    return covered


def list_clusters(
    *, session: Session, actor: User | None, category: str | None = None, min_frequency: int = 1,
    covered: bool | None = None, search: str = "", include_hidden: bool = False,
    in_bank: bool | None = None,
) -> list[MinedQuestion]:
    """Clusters for the trainer's browser, most frequent first."""
    require_role(actor, *STAFF)
    query = select(MinedQuestion).where(MinedQuestion.frequency >= min_frequency)
    if category:
        query = query.where(MinedQuestion.category == category)
    if covered is not None:
        cover = col(MinedQuestion.covered_by_script_id)
        query = query.where(cover.is_not(None) if covered else cover.is_(None))
    if not include_hidden:
        query = query.where(col(MinedQuestion.hidden).is_(False))
    if in_bank is not None:
        query = query.where(MinedQuestion.in_question_bank == in_bank)
    if search.strip():
        query = query.where(col(MinedQuestion.question).contains(search.strip()))
    query = query.order_by(col(MinedQuestion.frequency).desc(), col(MinedQuestion.id))
    return list(session.exec(query).all())


def _cluster(session: Session, cluster_id: int) -> MinedQuestion:
    cluster = session.get(MinedQuestion, cluster_id)
    if cluster is None:
        raise BankError("问题不存在。")
    return cluster


def update_cluster(
    *, session: Session, actor: User | None, cluster_id: int, question: str | None = None,
    category: str | None = None, hidden: bool | None = None, in_bank: bool | None = None,
) -> MinedQuestion:
    """Edit wording or category, hide/unhide, or promote to/remove from the question bank."""
    editor = require_role(actor, *STAFF)
    cluster = _cluster(session, cluster_id)
    if question is not None:
        if not question.strip():
            raise BankError("问题措辞不能为空。")
        cluster.question = question.strip()
    if category is not None:
        if category not in {c.value for c in Category}:
            raise BankError(f"未知分类「{category}」。")
        cluster.category = category
    if hidden is not None:
        cluster.hidden = hidden
    if in_bank is not None:
        cluster.in_question_bank = in_bank
    session.add(cluster)
    audit.record(session=session, actor=editor, action="questions.update", target=str(cluster_id))
    session.commit()
    session.refresh(cluster)
    return cluster


def set_flags(
    *, session: Session, actor: User | None, cluster_ids: Sequence[int],
    hidden: bool | None = None, in_bank: bool | None = None,
) -> int:
    """Hide/unhide or promote/demote many clusters in one transaction; returns how many."""
    editor = require_role(actor, *STAFF)
    clusters = session.exec(select(MinedQuestion).where(
        col(MinedQuestion.id).in_(list(cluster_ids)))).all()
    for cluster in clusters:
        if hidden is not None:
            cluster.hidden = hidden
        if in_bank is not None:
            cluster.in_question_bank = in_bank
        session.add(cluster)
    audit.record(session=session, actor=editor, action="questions.bulk_update",
                 detail={"count": len(clusters), "hidden": hidden, "in_bank": in_bank})
    session.commit()
    return len(clusters)


def _union(first: list[str] | None, second: list[str] | None, limit: int) -> list[str]:
    return list(dict.fromkeys([*(first or []), *(second or [])]))[:limit]


def member_texts(cluster: MinedQuestion) -> list[str]:
    """Every wording a cluster counted (question and examples for clusters mined before 0009)."""
    return list(dict.fromkeys([cluster.question, *(cluster.member_texts or []), *(cluster.examples or [])]))


def _frequency_rows(session: Session, question_id: int | None) -> list[QuestionFrequency]:
    return list(session.exec(select(QuestionFrequency).where(
        QuestionFrequency.question_id == question_id).order_by(col(QuestionFrequency.import_id))).all())


def _move_frequencies(session: Session, *, source: MinedQuestion, target: MinedQuestion) -> None:
    """Add ``source``'s per-import frequencies to ``target``'s and delete them from ``source``."""
    mine = {row.import_id: row for row in _frequency_rows(session, target.id)}
    for row in _frequency_rows(session, source.id):
        if row.import_id in mine:
            mine[row.import_id].frequency += row.frequency
            session.add(mine[row.import_id])
        else:
            session.add(QuestionFrequency(question_id=target.id or 0, import_id=row.import_id,
                                          frequency=row.frequency))
        session.delete(row)
    session.flush()


def merge_clusters(*, session: Session, actor: User | None, cluster_ids: Sequence[int]) -> MinedQuestion:
    """Merge clusters into the most frequent one; the others are deleted."""
    editor = require_role(actor, *STAFF)
    if len(set(cluster_ids)) < 2:
        raise BankError("请至少选择两个问题进行合并。")
    clusters = sorted((_cluster(session, i) for i in set(cluster_ids)),
                      key=lambda c: (-c.frequency, c.id or 0))
    used = session.exec(select(ExamItem).where(
        col(ExamItem.mined_question_id).in_([c.id for c in clusters[1:]]))).first()
    if used is not None:
        raise BankError("被合并的问题已用在试卷中，请先从试卷中移除。")
    keep = clusters[0]
    for other in clusters[1:]:
        keep.frequency += other.frequency
        keep.examples = _union(keep.examples, [other.question, *(other.examples or [])], 30)
        keep.agent_replies = _union(keep.agent_replies, other.agent_replies, 10)
        keep.member_texts = list(dict.fromkeys([*member_texts(keep), *member_texts(other)]))
        keep.in_question_bank = keep.in_question_bank or other.in_question_bank
        keep.covered_by_script_id = keep.covered_by_script_id or other.covered_by_script_id
        _move_frequencies(session, source=other, target=keep)
        session.delete(other)
    session.add(keep)
    audit.record(session=session, actor=editor, action="questions.merge", target=str(keep.id),
                 detail={"merged": [c.id for c in clusters[1:]]})
    session.commit()
    session.refresh(keep)
    return keep


def split_cluster(
    *, session: Session, actor: User | None, cluster_id: int, examples: Sequence[str],
) -> MinedQuestion:
    """Move some member examples into a new cluster (each moved example counts once)."""
    editor = require_role(actor, *STAFF)
    cluster = _cluster(session, cluster_id)
    moved = [e for e in dict.fromkeys(examples) if e in (cluster.examples or [])]
    if not moved:
        raise BankError("请选择要拆分出去的示例问句。")
    if len(moved) >= len(cluster.examples or []):
        raise BankError("不能把全部示例都拆走，请至少保留一条。")
    new = MinedQuestion(import_id=cluster.import_id, question=moved[0], category=cluster.category,
                        frequency=len(moved), examples=moved, context=cluster.context,
                        agent_replies=[])
    cluster.examples = [e for e in (cluster.examples or []) if e not in moved]
    cluster.member_texts = [t for t in member_texts(cluster) if t not in moved]
    new.member_texts = moved
    cluster.frequency = max(1, cluster.frequency - len(moved))
    session.add_all([cluster, new])
    session.flush()
    # The moved wordings are counted once, in the latest import that counted the cluster.
    rows = _frequency_rows(session, cluster.id)
    if rows:
        rows[-1].frequency = max(0, rows[-1].frequency - len(moved))
        session.add_all([rows[-1], QuestionFrequency(question_id=new.id or 0, import_id=rows[-1].import_id,
                                                     frequency=len(moved))])
    audit.record(session=session, actor=editor, action="questions.split", target=str(cluster_id),
                 detail={"new": new.id})
    session.commit()
    session.refresh(new)
    return new
