"""Building drills (trainers): from an imported session, noise left out, targets set; then
publishing as practice or assigning to cohorts with a window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.drills.sessions import (
    MAX_TURNS,
    MIN_TURNS,
    SessionCandidate,
    candidate_sessions,
    describe,
    question_index,
    session_messages,
)
from training.models import Cohort, Drill, DrillAssignment, DrillMode, DrillStatus, User, utcnow


class DrillError(UserError):
    """A drill cannot be built, changed, published or taken as asked."""


def _kept(turns: list[dict[str, object]], excluded: Sequence[int]) -> int:
    return sum(1 for t in turns if t["seq"] not in set(excluded))


def _check(drill: Drill) -> None:
    kept = _kept(drill.turns or [], drill.excluded or [])
    if not MIN_TURNS <= kept <= MAX_TURNS:
        raise DrillError(f"模拟接待需要 {MIN_TURNS}–{MAX_TURNS} 轮顾客消息，现在保留了 {kept} 轮。")
    if not 5 <= drill.first_reply_seconds <= 600 or not 5 <= drill.reply_seconds <= 600:
        raise DrillError("回复时限应在 5–600 秒之间。")
    if not 0.0 < drill.pass_mark <= 1.0:
        raise DrillError("及格线应在 1%–100% 之间。")
    if not drill.title.strip():
        raise DrillError("请填写标题。")


def create_drill(
    *, session: Session, actor: User | None, import_id: int, session_key: str, title: str,
    excluded: Sequence[int] | None = None, first_reply_seconds: int = 30, reply_seconds: int = 60,
    pass_mark: float = 0.6,
) -> Drill:
    """Save a draft drill from one imported session (trainers and admins).

    Args:
        excluded: the ``seq`` of the customer turns to leave out; None = the proposed noise.

    Raises:
        DrillError: the session is missing, looks unmasked, or keeps too few or too many turns.
    """
    editor = require_role(actor, *STAFF)
    messages = session_messages(session=session, import_id=import_id, session_key=session_key)
    if not messages:
        raise DrillError("找不到这段会话。")
    wordings, info = question_index(session=session)
    found = describe(import_id, session_key, messages, wordings, info)
    if found.unmasked:
        raise DrillError("这段会话里疑似有未脱敏的个人信息（" + "、".join(found.unmasked)
                         + "），不能用作模拟接待素材。")
    seqs = {t.seq for t in found.turns}
    drill = Drill(title=title.strip()[:200], import_id=import_id, session_key=session_key,
                  turns=[t.as_json() for t in found.turns],
                  excluded=sorted(s for s in (found.noise if excluded is None else excluded) if s in seqs),
                  first_reply_seconds=first_reply_seconds, reply_seconds=reply_seconds, pass_mark=pass_mark,
                  created_by=editor.id)
    _check(drill)
    if session.exec(select(Drill.id).where(Drill.title == drill.title)).first() is not None:
        raise DrillError(f"已有名为「{drill.title}」的模拟接待：请换一个标题，"
                         "或在「已建的模拟接待」中修改原来那个。")
    session.add(drill)
    session.flush()
    audit.record(session=session, actor=editor, action="drill.create", target=str(drill.id))
    session.commit()
    session.refresh(drill)
    return drill


def get_drill(*, session: Session, drill_id: int) -> Drill:
    """A drill by id."""
    drill = session.get(Drill, drill_id)
    if drill is None:
        raise DrillError("模拟接待不存在。")
    return drill


def update_drill(
    *, session: Session, actor: User | None, drill_id: int, title: str | None = None,
    excluded: Sequence[int] | None = None, first_reply_seconds: int | None = None,
    reply_seconds: int | None = None, pass_mark: float | None = None,
) -> Drill:
    """Change a draft drill's title, left-out turns, targets or pass mark."""
    editor = require_role(actor, *STAFF)
    drill = get_drill(session=session, drill_id=drill_id)
    if drill.status != DrillStatus.DRAFT:
        raise DrillError("已发布的模拟接待不能再修改。")
    if title is not None:
        drill.title = title.strip()[:200]
    if excluded is not None:
        seqs = {int(t["seq"]) for t in drill.turns or []}
        drill.excluded = sorted(s for s in excluded if s in seqs)
    if first_reply_seconds is not None:  # 0 is a value to refuse, not "unchanged"
        drill.first_reply_seconds = first_reply_seconds
    if reply_seconds is not None:
        drill.reply_seconds = reply_seconds
    drill.pass_mark = pass_mark if pass_mark is not None else drill.pass_mark
    try:
        _check(drill)
    except DrillError:
        session.rollback()  # the refused values must not stay on the session's copy
        raise
    session.add(drill)
    audit.record(session=session, actor=editor, action="drill.update", target=str(drill_id))
    session.commit()
    session.refresh(drill)
    return drill


def publish_drill(
    *, session: Session, actor: User | None, drill_id: int, cohort_ids: Sequence[int] = (),
    opens_at: datetime | None = None, closes_at: datetime | None = None,
) -> Drill:
    """Publish a drill: as practice (no cohorts) or assigned to cohorts with a window.

    Assigning again adds cohorts; a published drill's turns no longer change.
    """
    editor = require_role(actor, *STAFF)
    drill = get_drill(session=session, drill_id=drill_id)
    _check(drill)
    opens = opens_at or utcnow()
    if closes_at is not None and closes_at <= opens:
        raise DrillError("结束时间必须晚于开始时间。")
    for cohort_id in cohort_ids:
        cohort = session.get(Cohort, cohort_id)
        if cohort is None:
            raise DrillError("所选班组不存在。")
        still_open = or_(col(DrillAssignment.closes_at).is_(None), col(DrillAssignment.closes_at) > opens)
        if session.exec(select(DrillAssignment.id).where(
                DrillAssignment.drill_id == drill_id, DrillAssignment.cohort_id == cohort_id,
                still_open)).first():
            raise DrillError(f"班组「{cohort.name}」已分配过这个模拟接待，且还没有结束：不能重复分配。")
    session.add_all([DrillAssignment(drill_id=drill_id, cohort_id=c, opens_at=opens, closes_at=closes_at)
                     for c in dict.fromkeys(cohort_ids)])
    if cohort_ids:
        drill.mode = DrillMode.ASSIGNED.value
    if drill.status == DrillStatus.DRAFT:
        drill.status = DrillStatus.PUBLISHED.value
        drill.published_at = utcnow()
    session.add(drill)
    audit.record(session=session, actor=editor, action="drill.publish", target=str(drill_id),
                 detail={"cohorts": list(cohort_ids)})
    session.commit()
    session.refresh(drill)
    return drill


def list_drills(*, session: Session, actor: User | None) -> list[Drill]:
    """Every drill, newest first (trainers and admins)."""
    require_role(actor, *STAFF)
    newest = (col(Drill.created_at).desc(), col(Drill.id).desc())
    return list(session.exec(select(Drill).order_by(*newest)).all())


def drill_turns(drill: Drill) -> list[dict[str, object]]:
    """The turns a candidate answers, in order (the left-out ones dropped)."""
    out = set(drill.excluded or [])
    return [t for t in drill.turns or [] if t["seq"] not in out]


def find_sessions(
    *, session: Session, actor: User | None, import_id: int | None = None, category: str | None = None,
    min_turns: int = MIN_TURNS, max_turns: int = MAX_TURNS, covered: bool | None = None,
) -> list[SessionCandidate]:
    """Imported sessions that fit a drill (trainers and admins); see ``candidate_sessions``."""
    require_role(actor, *STAFF)
    return candidate_sessions(session=session, import_id=import_id, category=category, min_turns=min_turns,
                              max_turns=max_turns, covered=covered)


def preview_session(
    *, session: Session, actor: User | None, import_id: int, session_key: str,
) -> SessionCandidate:
    """One session's turns with the proposed noise, before building (trainers and admins)."""
    require_role(actor, *STAFF)
    messages = session_messages(session=session, import_id=import_id, session_key=session_key)
    if not messages:
        raise DrillError("找不到这段会话。")
    wordings, info = question_index(session=session)
    return describe(import_id, session_key, messages, wordings, info)
