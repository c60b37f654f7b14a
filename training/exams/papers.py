"""Paper builder: compose by hand, by category quota or random draw; preview; publish; export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.models import Category, ExamItem, ExamPaper, KnowledgeItem, MinedQuestion, User

SCENARIO, OBJECTIVE = "scenario", "objective"
RANDOM = {SCENARIO: "random_scenario", OBJECTIVE: "random_objective"}


class PaperError(UserError):
    """A user-facing problem with a paper."""


@dataclass(frozen=True)
class PaperQuestion:
    """One question exactly as a candidate sees it (after draws and shuffling)."""

    position: int
    slot_id: int
    kind: str  # SCENARIO or OBJECTIVE
    prompt: str
    context: list[dict[str, str]] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    question_type: str = ""  # single / multiple / truefalse for objective items
    mined_question_id: int | None = None
    knowledge_item_id: int | None = None
    points: float = 1.0


def get_paper(*, session: Session, paper_id: int, editable: bool = False) -> ExamPaper:
    """The paper or a PaperError; ``editable`` also requires it to be a draft."""
    paper = session.get(ExamPaper, paper_id)
    if paper is None:
        raise PaperError("试卷不存在。")
    if editable and paper.status != "draft":
        raise PaperError("试卷已发布，不能再修改题目。")
    return paper


def create_paper(
    *, session: Session, actor: User | None, title: str, description: str = "",
    time_limit_minutes: int = 60, pass_mark: float = 0.8, shuffle: bool = True,
) -> ExamPaper:
    """Start a draft paper (trainers and admins)."""
    editor = require_role(actor, *STAFF)
    if not title.strip():
        raise PaperError("请填写试卷名称。")
    if not 1 <= time_limit_minutes <= 600:
        raise PaperError("考试时长应在 1–600 分钟之间。")
    if not 0 < pass_mark <= 1:
        raise PaperError("及格线应在 0–100% 之间。")
    paper = ExamPaper(title=title.strip(), description=description.strip(), shuffle=shuffle,
                      time_limit_minutes=time_limit_minutes, pass_mark=pass_mark,
                      created_by=editor.id)
    session.add(paper)
    session.flush()
    audit.record(session=session, actor=editor, action="paper.create", target=str(paper.id))
    session.commit()
    session.refresh(paper)
    return paper


def paper_items(*, session: Session, actor: User | None, paper_id: int) -> list[ExamItem]:
    """The slots of a paper in position order (staff only: they reveal the questions)."""
    require_role(actor, *STAFF)
    return list(session.exec(select(ExamItem).where(ExamItem.paper_id == paper_id)
                             .order_by(col(ExamItem.position))).all())


def _next_position(session: Session, paper_id: int) -> int:
    positions = session.exec(select(ExamItem.position).where(ExamItem.paper_id == paper_id)).all()
    return max(positions, default=0) + 1


def _scenario_item(question: MinedQuestion, paper_id: int, position: int) -> ExamItem:
    return ExamItem(paper_id=paper_id, position=position, kind=SCENARIO,
                    mined_question_id=question.id, prompt=question.question,
                    context=list(question.context or []))


def _objective_item(item: KnowledgeItem, paper_id: int, position: int) -> ExamItem:
    return ExamItem(paper_id=paper_id, position=position, kind=OBJECTIVE,
                    knowledge_item_id=item.id, prompt=item.stem)


def add_questions(
    *, session: Session, actor: User | None, paper_id: int,
    mined_question_ids: Sequence[int] = (), knowledge_item_ids: Sequence[int] = (),
) -> int:
    """Append chosen questions by hand; ones already on the paper are skipped. Returns added."""
    editor = require_role(actor, *STAFF)
    get_paper(session=session, paper_id=paper_id, editable=True)
    existing = session.exec(select(ExamItem).where(ExamItem.paper_id == paper_id)).all()
    have_mined = {i.mined_question_id for i in existing}
    have_items = {i.knowledge_item_id for i in existing}
    position = _next_position(session, paper_id)
    added = 0
    for qid in dict.fromkeys(mined_question_ids):
        question = session.get(MinedQuestion, qid)
        if question is None or qid in have_mined:
            continue
        session.add(_scenario_item(question, paper_id, position))
        position, added = position + 1, added + 1
    for kid in dict.fromkeys(knowledge_item_ids):
        item = session.get(KnowledgeItem, kid)
        if item is None or kid in have_items or item.retired_at is not None:  # retired: not on new papers
            continue
        session.add(_objective_item(item, paper_id, position))
        position, added = position + 1, added + 1
    audit.record(session=session, actor=editor, action="paper.add", target=str(paper_id),
                 detail={"added": added})
    session.commit()
    return added


def add_by_quota(
    *, session: Session, actor: User | None, paper_id: int, quotas: dict[str, int],
) -> dict[str, int]:
    """Add the most frequent bank questions per category, uncovered by scripts first.

    Args:
        quotas: category -> how many scenario questions to add.

    Returns:
        category -> how many were actually added (fewer when the bank runs short).
    """
    require_role(actor, *STAFF)
    get_paper(session=session, paper_id=paper_id, editable=True)
    on_paper = set(session.exec(select(ExamItem.mined_question_id)
                                .where(ExamItem.paper_id == paper_id)).all())
    chosen: list[int] = []
    added: dict[str, int] = {}
    for category, count in quotas.items():
        if count <= 0:
            continue
        pool = session.exec(select(MinedQuestion).where(
            MinedQuestion.category == category, col(MinedQuestion.in_question_bank).is_(True),
            col(MinedQuestion.hidden).is_(False))).all()
        ranked = sorted((q for q in pool if q.id not in on_paper),
                        key=lambda q: (q.covered_by_script_id is not None, -q.frequency, q.id))
        picked = [q.id for q in ranked[:count] if q.id is not None]
        chosen.extend(picked)
        added[category] = len(picked)
    add_questions(session=session, actor=actor, paper_id=paper_id, mined_question_ids=chosen)
    return added


def add_random_slots(
    *, session: Session, actor: User | None, paper_id: int, kind: str, count: int,
    category: str | None = None,
) -> int:
    """Add ``count`` random-draw slots: each candidate gets their own question per slot.

    For scenario slots ``category`` is a question category; for objective slots it is a tag.
    """
    editor = require_role(actor, *STAFF)
    get_paper(session=session, paper_id=paper_id, editable=True)
    if kind not in RANDOM:
        raise PaperError("随机题类型应为情景题或知识题。")
    if not 1 <= count <= 200:
        raise PaperError("随机题数量应在 1–200 之间。")
    if kind == SCENARIO and category and category not in {c.value for c in Category}:
        raise PaperError(f"未知分类「{category}」。")
    position = _next_position(session, paper_id)
    label = "情景题" if kind == SCENARIO else "知识题"
    for offset in range(count):
        session.add(ExamItem(paper_id=paper_id, position=position + offset, kind=RANDOM[kind],
                             draw_category=category or None,
                             prompt=f"随机{label}（{category or '不限'}）"))
    audit.record(session=session, actor=editor, action="paper.add_random", target=str(paper_id),
                 detail={"kind": kind, "count": count, "category": category})
    session.commit()
    return count


def remove_item(*, session: Session, actor: User | None, paper_id: int, item_id: int) -> None:
    """Remove one slot from a draft paper and close the gap in positions."""
    editor = require_role(actor, *STAFF)
    get_paper(session=session, paper_id=paper_id, editable=True)
    item = session.get(ExamItem, item_id)
    if item is None or item.paper_id != paper_id:
        raise PaperError("题目不在这份试卷中。")
    session.delete(item)
    session.flush()
    for position, rest in enumerate(session.exec(
            select(ExamItem).where(ExamItem.paper_id == paper_id)
            .order_by(col(ExamItem.position))).all(), start=1):
        if rest.position != position:
            rest.position = position
            session.add(rest)
            session.flush()  # one at a time: (paper_id, position) is unique
    audit.record(session=session, actor=editor, action="paper.remove", target=str(paper_id))
    session.commit()
