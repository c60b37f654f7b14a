"""Taking a drill: start or resume a run, the customer's turn on screen, sending a reply.

The clock rules (stated to the candidate by :func:`clock_rules`):

* The customer's first message appears when the run starts. After each reply the next customer
  message appears after a pause: the customer's real pause in the log, held between
  ``MIN_PAUSE`` and ``MAX_PAUSE`` seconds, or ``DEFAULT_PAUSE`` seconds when the log has no times.
* A turn's response time runs from the moment its customer message appears to the moment the
  reply is sent. The moment is stored, so a reload or a server restart resumes at the same turn
  and the clock does not start again.
* Typing speed is the reply's length per minute of typing, as the page measured it.

Every function takes ``now`` so tests can move the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from training.auth.permissions import EVERYONE, require_role
from training.drills.access import entry_for, is_open, utc
from training.drills.building import DrillError, drill_turns, get_drill
from training.drills.scoring import finish_run
from training.models import Drill, DrillAssignment, DrillRun, DrillTurn, User, utcnow
from training.nlp.embeddings import Embedder

MIN_PAUSE, MAX_PAUSE, DEFAULT_PAUSE = 2.0, 15.0, 3.0
MAX_REPLY_CHARS = 2000
#: A practice run still open this long after it started is closed (it would hide scripts forever).
PRACTICE_IDLE = timedelta(hours=3)


def clock_rules(drill: Drill) -> str:
    """The clock rules in words, with the drill's targets."""
    return (f"顾客的第一条消息在开始时出现；您每次发送回复后，顾客的下一条消息按真实会话里的停顿出现"
            f"（{MIN_PAUSE:.0f}–{MAX_PAUSE:.0f} 秒，记录里没有时间的按 {DEFAULT_PAUSE:.0f} 秒）。"
            f"回复用时从顾客消息出现算到您点击发送；首次回复目标 {drill.first_reply_seconds} 秒内，"
            f"之后每次回复 {drill.reply_seconds} 秒内。刷新页面或系统重启后回到同一轮，计时不会重新开始。"
            "打字速度按您输入回复的时间计算。进行中不能查看话术。")


def pause_before(turn: dict[str, object]) -> float:
    """Seconds between a reply and the next customer message (see the module's rules)."""
    gap = turn.get("gap_seconds")
    if isinstance(gap, int | float):
        return min(MAX_PAUSE, max(MIN_PAUSE, float(gap)))
    return DEFAULT_PAUSE


def target_seconds(drill: Drill, index: int) -> int:
    """The response-time target of turn ``index`` (the first reply has its own)."""
    return drill.first_reply_seconds if index == 0 else drill.reply_seconds


def _turn_row(session: Session, run_id: int, index: int) -> DrillTurn | None:
    return session.exec(select(DrillTurn).where(col(DrillTurn.run_id) == run_id,
                                                col(DrillTurn.index) == index)).first()


def own_run(*, session: Session, user: User, run_id: int) -> DrillRun:
    """The user's own run (no one else's, whatever their role)."""
    run = session.get(DrillRun, run_id)
    if run is None or run.user_id != user.id:
        raise DrillError("找不到这次模拟接待。")
    return run


def start_run(
    *, session: Session, actor: User | None, drill_id: int, now: datetime | None = None,
) -> DrillRun:
    """Start a drill, or resume the run of it still in progress (same turn, same clock)."""
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    drill = get_drill(session=session, drill_id=drill_id)
    running = session.exec(select(DrillRun).where(col(DrillRun.user_id) == user.id,
                                                  col(DrillRun.drill_id) == drill_id,
                                                  col(DrillRun.finished_at).is_(None))).first()
    if running is not None:
        return running
    assignment = entry_for(session=session, user=user, drill=drill, now=now)
    if assignment is not None and session.exec(select(DrillRun.id).where(
            col(DrillRun.user_id) == user.id, col(DrillRun.assignment_id) == assignment.id)).first():
        raise DrillError("这个模拟接待您已经完成了。")
    run = DrillRun(drill_id=drill_id, user_id=user.id or 0, started_at=now,
                   assignment_id=assignment.id if assignment else None)
    session.add(run)
    session.flush()
    session.add(DrillTurn(run_id=run.id or 0, index=0, shown_at=now))
    session.commit()
    session.refresh(run)
    return run


@dataclass(frozen=True)
class Line:
    """One chat line on the candidate's screen."""

    role: str  # "customer" or "me"
    text: str


@dataclass(frozen=True)
class RunView:
    """What the drill page shows now."""

    run_id: int
    title: str
    rules: str
    index: int
    total: int
    lines: list[Line]
    waiting_seconds: float  # > 0: the next customer message is still on its way
    shown_at: datetime | None
    target: int
    draft: str
    finished: bool


def run_view(*, session: Session, actor: User | None, run_id: int, now: datetime | None = None) -> RunView:
    """The conversation so far and the customer's turn now on screen (or on its way)."""
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    run = own_run(session=session, user=user, run_id=run_id)
    expire_run(session=session, run=run, now=now)
    drill = get_drill(session=session, drill_id=run.drill_id)
    turns = drill_turns(drill)
    rows = {t.index: t for t in session.exec(select(DrillTurn).where(col(DrillTurn.run_id) == run.id)).all()}
    lines: list[Line] = []
    waiting, shown = 0.0, None
    for i, turn in enumerate(turns):
        row = rows.get(i)
        if row is None:
            break
        if utc(row.shown_at) > now:
            waiting = (utc(row.shown_at) - now).total_seconds()
            break
        lines.append(Line("customer", str(turn["customer"])))
        if row.sent_at is not None:
            lines.append(Line("me", row.reply))
        else:
            shown = utc(row.shown_at)
    index = min(run.current_index, len(turns) - 1)
    return RunView(run.id or 0, drill.title, clock_rules(drill), index, len(turns), lines, waiting, shown,
                   target_seconds(drill, index), run.draft, run.finished_at is not None)


def save_draft(*, session: Session, actor: User | None, run_id: int, text: str) -> None:
    """Keep a typed-but-unsent reply, so a reload shows it again."""
    user = require_role(actor, *EVERYONE)
    run = own_run(session=session, user=user, run_id=run_id)
    if run.finished_at is None:
        run.draft = text[:MAX_REPLY_CHARS]
        session.add(run)
        session.commit()


def send_reply(
    *, session: Session, actor: User | None, run_id: int, index: int, text: str,
    chars_per_minute: float | None = None, embedder: Embedder | None = None, now: datetime | None = None,
) -> DrillRun:
    """Send the reply to turn ``index``; the next customer turn follows after its pause.

    Sending the same turn twice (double click, retry) changes nothing. After the last turn the
    run is finished and scored (with ``embedder``; without it, by wording overlap).
    """
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    run = own_run(session=session, user=user, run_id=run_id)
    if expire_run(session=session, run=run, now=now, embedder=embedder) or index < run.current_index:
        return run
    if run.finished_at is not None:
        raise DrillError("这次模拟接待已经结束。")
    if index != run.current_index:
        raise DrillError("这一轮还没有开始。")
    reply = text.strip()
    if not reply:
        raise DrillError("请先输入回复再发送。")
    if len(reply) > MAX_REPLY_CHARS:
        raise DrillError(f"回复过长：最多 {MAX_REPLY_CHARS} 字。")
    row = _turn_row(session, run.id or 0, index)
    assert row is not None
    if utc(row.shown_at) > now:
        raise DrillError("顾客的消息还没有出现。")
    seconds = (now - utc(row.shown_at)).total_seconds()
    row.reply, row.sent_at, row.response_seconds = reply, now, seconds
    row.chars_per_minute = (chars_per_minute if chars_per_minute and chars_per_minute > 0
                            else len(reply) / (seconds / 60) if seconds >= 1 else None)
    session.add(row)
    turns = drill_turns(get_drill(session=session, drill_id=run.drill_id))
    run.draft = ""
    if index + 1 < len(turns):
        run.current_index = index + 1
        session.add(DrillTurn(run_id=run.id or 0, index=index + 1,
                              shown_at=now + timedelta(seconds=pause_before(turns[index + 1]))))
        session.add(run)
        session.commit()
        return run
    session.add(run)
    session.commit()
    finish_run(session=session, run=run, embedder=embedder, now=now)
    return run


def expire_run(*, session: Session, run: DrillRun, now: datetime, embedder: Embedder | None = None) -> bool:
    """Finish a run whose assignment window has closed, or a practice run left for ``PRACTICE_IDLE``,
    with what was sent. True if this call did."""
    if run.finished_at is not None:
        return False
    if run.assignment_id is None:
        if now - utc(run.started_at) < PRACTICE_IDLE:
            return False
        finish_run(session=session, run=run, embedder=embedder, now=now)
        return True
    assignment = session.get(DrillAssignment, run.assignment_id)
    if assignment is None or is_open(assignment, now) or utc(assignment.opens_at) > now:
        return False
    finish_run(session=session, run=run, embedder=embedder, now=utc(assignment.closes_at or now))
    return True


def has_open_run(*, session: Session, user_id: int, now: datetime | None = None) -> bool:
    """True while the user is in the middle of a drill (scripts stay hidden from them meanwhile)."""
    now = now or utcnow()
    for run in session.exec(select(DrillRun).where(col(DrillRun.user_id) == user_id,
                                                   col(DrillRun.finished_at).is_(None))).all():
        if not expire_run(session=session, run=run, now=now):
            return True
    return False


def end_run(*, session: Session, actor: User | None, run_id: int, embedder: Embedder | None = None,
            now: datetime | None = None) -> DrillRun:
    """End a run early: what was sent is scored, the turns not answered score 0."""
    user = require_role(actor, *EVERYONE)
    run = own_run(session=session, user=user, run_id=run_id)
    if run.finished_at is None:
        finish_run(session=session, run=run, embedder=embedder, now=now or utcnow())
    return run


def open_run_id(*, session: Session, actor: User | None, now: datetime | None = None) -> int | None:
    """The user's drill run in progress, if any (the page resumes it after a reload or restart)."""
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    for run in session.exec(select(DrillRun).where(col(DrillRun.user_id) == user.id,
                                                   col(DrillRun.finished_at).is_(None))
                            .order_by(col(DrillRun.started_at).desc())).all():
        if not expire_run(session=session, run=run, now=now):
            return run.id
    return None
