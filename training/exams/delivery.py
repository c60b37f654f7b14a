"""Turning a paper into what each candidate sees; publishing to cohorts; XLSX export."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.tables import safe_export
from training.exams.choices import TRUE_FALSE, TRUE_FALSE_KIND, labelled_options
from training.exams.knowledge import KINDS
from training.exams.papers import OBJECTIVE, RANDOM, SCENARIO, PaperError, PaperQuestion, get_paper
from training.models import (
    Cohort,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    KnowledgeItem,
    MinedQuestion,
    User,
    utcnow,
)
from training.models.exams import PaperStatus

#: A paper's status as the export's reader sees it.
PAPER_STATUS_LABELS: dict[str, str] = {PaperStatus.DRAFT: "草稿", PaperStatus.PUBLISHED: "已发布"}


def candidate_seed(paper_id: int, user_id: int) -> int:
    """A stable seed per (paper, candidate): reopening the exam shows the same draw."""
    digest = hashlib.sha256(f"huashu-paper:{paper_id}:user:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _scenario(position: int, slot: ExamItem, q: MinedQuestion) -> PaperQuestion:
    assert slot.id is not None
    return PaperQuestion(position, slot.id, SCENARIO, q.question, list(q.context or []),
                         mined_question_id=q.id, points=slot.points)


def _objective(position: int, slot: ExamItem, item: KnowledgeItem) -> PaperQuestion:
    assert slot.id is not None
    options = list(item.options or []) if item.kind != TRUE_FALSE_KIND else list(TRUE_FALSE)
    return PaperQuestion(position, slot.id, OBJECTIVE, item.stem, [], options, item.kind,
                         knowledge_item_id=item.id, points=slot.points)


def draw_paper(
    *, session: Session, paper: ExamPaper, seed: int, seen: Sequence[PaperQuestion] = (),
) -> list[PaperQuestion]:
    """Resolve random slots (no repeats) and shuffle if the paper says so; deterministic per seed.

    Args:
        paper: the paper to deliver.
        seed: the candidate's seed (``candidate_seed``); the same seed gives the same paper.
        seen: questions of the candidate's earlier sittings; a random slot draws from the rest
            of its pool while any is left, so a retake is not the paper just answered.

    Returns:
        The questions in the order the candidate sees them, numbered from 1.
    """
    seen_mined = {q.mined_question_id for q in seen if q.mined_question_id is not None}
    seen_items = {q.knowledge_item_id for q in seen if q.knowledge_item_id is not None}
    rng = random.Random(seed)
    slots = list(session.exec(select(ExamItem).where(ExamItem.paper_id == paper.id)
                              .order_by(col(ExamItem.position))).all())
    used_mined = {s.mined_question_id for s in slots if s.mined_question_id}
    used_items = {s.knowledge_item_id for s in slots if s.knowledge_item_id}
    bank = [q for q in session.exec(select(MinedQuestion).where(
        col(MinedQuestion.in_question_bank).is_(True), col(MinedQuestion.hidden).is_(False))
        .order_by(col(MinedQuestion.id))).all() if q.id not in used_mined]
    items = [i for i in session.exec(select(KnowledgeItem).where(col(KnowledgeItem.retired_at).is_(None))
                                     .order_by(col(KnowledgeItem.id))).all()
             if i.id not in used_items]  # a retired item is not drawn any more
    resolved: list[tuple[ExamItem, MinedQuestion | KnowledgeItem]] = []
    for slot in slots:
        if slot.kind == SCENARIO and slot.mined_question_id:
            question = session.get(MinedQuestion, slot.mined_question_id)
            if question is not None:
                resolved.append((slot, question))
        elif slot.kind == OBJECTIVE and slot.knowledge_item_id:
            item = session.get(KnowledgeItem, slot.knowledge_item_id)
            if item is not None:
                resolved.append((slot, item))
        elif slot.kind == RANDOM[SCENARIO]:
            pool = [q for q in bank if slot.draw_category in (None, q.category)]
            if not pool:
                raise PaperError(f"题库中「{slot.draw_category or '全部分类'}」的情景题不够抽取。")
            pick = rng.choice([q for q in pool if q.id not in seen_mined] or pool)
            bank.remove(pick)
            resolved.append((slot, pick))
        elif slot.kind == RANDOM[OBJECTIVE]:
            candidates = [i for i in items if slot.draw_category in (None, *(i.tags or []))]
            if not candidates:
                raise PaperError(f"知识题库中「{slot.draw_category or '全部'}」的题目不够抽取。")
            chosen = rng.choice([i for i in candidates if i.id not in seen_items] or candidates)
            items.remove(chosen)
            resolved.append((slot, chosen))
    if paper.shuffle:
        rng.shuffle(resolved)
    return [_scenario(n, slot, q) if isinstance(q, MinedQuestion) else _objective(n, slot, q)
            for n, (slot, q) in enumerate(resolved, start=1)]


def preview_paper(
    *, session: Session, actor: User | None, paper_id: int, seed: int = 0,
) -> list[PaperQuestion]:
    """The paper as one candidate would see it (staff only)."""
    require_role(actor, *STAFF)
    return draw_paper(session=session, paper=get_paper(session=session, paper_id=paper_id), seed=seed)


def list_papers(*, session: Session, actor: User | None) -> list[ExamPaper]:
    """All papers, newest first (staff only)."""
    require_role(actor, *STAFF)
    return list(session.exec(select(ExamPaper).order_by(col(ExamPaper.id).desc())).all())


def publish_paper(
    *, session: Session, actor: User | None, paper_id: int, cohort_ids: Sequence[int],
    opens_at: datetime, closes_at: datetime | None, max_attempts: int = 1,
) -> list[ExamAssignment]:
    """Publish a paper to cohorts with an open/close window; the paper becomes read-only."""
    editor = require_role(actor, *STAFF)
    paper = get_paper(session=session, paper_id=paper_id)
    if not cohort_ids:
        raise PaperError("请至少选择一个班组。")
    if closes_at is not None and closes_at <= opens_at:
        raise PaperError("结束时间必须晚于开始时间。")
    if not 1 <= max_attempts <= 20:
        raise PaperError("可考次数应在 1–20 之间。")
    questions = draw_paper(session=session, paper=paper, seed=0)  # proves every random slot can be filled
    if not questions:
        raise PaperError("试卷还没有题目。")
    for cohort_id in cohort_ids:
        if session.get(Cohort, cohort_id) is None:
            raise PaperError("所选班组不存在。")
    assignments = [ExamAssignment(paper_id=paper_id, cohort_id=c, opens_at=opens_at,
                                  closes_at=closes_at, max_attempts=max_attempts)
                   for c in dict.fromkeys(cohort_ids)]
    session.add_all(assignments)
    if paper.status == PaperStatus.DRAFT:
        paper.status = PaperStatus.PUBLISHED.value
        paper.published_at = utcnow()
        session.add(paper)
    audit.record(session=session, actor=editor, action="paper.publish", target=str(paper_id),
                 detail={"cohorts": list(cohort_ids)})
    session.commit()
    return assignments


def export_paper_xlsx(*, session: Session, actor: User | None, paper_id: int) -> bytes:
    """The paper with answers and explanations as an XLSX file, safe from formula injection (audited)."""
    editor = require_role(actor, *STAFF)
    paper = get_paper(session=session, paper_id=paper_id)
    rows = []
    for slot in session.exec(select(ExamItem).where(ExamItem.paper_id == paper_id)
                             .order_by(col(ExamItem.position))).all():
        row = {"序号": slot.position, "题型": "", "题目": slot.prompt, "对话上下文": "",
               "选项": "", "答案": "", "解析 / 客服原回复": ""}
        if slot.kind == SCENARIO and slot.mined_question_id:
            question = session.get(MinedQuestion, slot.mined_question_id)
            row["题型"] = "情景题"
            row["对话上下文"] = "\n".join(
                f"{'顾客' if t.get('role') == 'customer' else '客服'}：{t.get('text', '')}"
                for t in (slot.context or []))
            row["解析 / 客服原回复"] = "\n".join((question.agent_replies or [])[:3]) if question else ""
        elif slot.kind == OBJECTIVE and slot.knowledge_item_id:
            item = session.get(KnowledgeItem, slot.knowledge_item_id)
            if item is not None:
                options = labelled_options(item.kind, item.options or [])
                row.update({"题型": KINDS[item.kind], "选项": "\n".join(options), "答案": item.answer,
                             "解析 / 客服原回复": item.explanation})
        else:
            row["题型"] = "随机抽题"
        rows.append(row)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        safe_export(pd.DataFrame(rows)).to_excel(writer, index=False, sheet_name="试卷")
        pd.DataFrame([{"试卷": paper.title, "时长（分钟）": paper.time_limit_minutes,
                       "及格线": f"{paper.pass_mark:.0%}",
                       "状态": PAPER_STATUS_LABELS.get(paper.status, paper.status)}]).pipe(
            safe_export).to_excel(writer, index=False, sheet_name="说明")
    audit.record(session=session, actor=editor, action="paper.export", target=str(paper_id),
                 detail={"rows": len(rows)})
    session.commit()
    return buffer.getvalue()
