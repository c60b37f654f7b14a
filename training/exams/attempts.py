"""Taking an exam: my exams, start or resume, autosave, flags, one submission, the deadline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import EVERYONE, PermissionDenied, require_role
from training.core.db import lock_row
from training.core.errors import UserError
from training.exams.delivery import candidate_seed, draw_paper
from training.exams.knowledge import grade
from training.exams.papers import OBJECTIVE, PaperQuestion
from training.models import (
    Answer,
    Attempt,
    Certification,
    CertificationPaper,
    ExamAssignment,
    ExamPaper,
    KnowledgeItem,
    User,
    utcnow,
)

IN_PROGRESS, SUBMITTED = "in_progress", "submitted"
#: Saves arriving this long after the deadline still count (network and rerun latency).
SAVE_GRACE = timedelta(seconds=10)
#: Longest answer accepted (a reply to a customer, not an essay).
MAX_ANSWER_CHARS = 5000
#: States of an ExamEntry still ahead of the candidate: not open yet, open, or being sat.
TO_TAKE = ("未开放", "可参加", "作答中")


class ExamError(UserError):
    """A user-facing problem while taking an exam."""


@dataclass(frozen=True)
class ExamEntry:
    """One row of 我的考试: an assigned paper and where the candidate stands."""

    assignment_id: int
    paper_id: int
    title: str
    opens_at: datetime
    closes_at: datetime | None
    time_limit_minutes: int
    pass_mark: float
    state: str  # 未开放 / 可参加 / 作答中 / 已交卷 / 已结束
    attempts_used: int
    attempts_left: int
    open_attempt_id: int | None
    best_score: float | None  # released results only
    last_attempt_id: int | None
    required_for_duty: bool = False  # a paper of a programme an agent needs to go on duty
    retake: bool = False  # granted to this person alone (允许补考), not to their cohort


@dataclass
class AttemptView:
    """An attempt as its candidate sees it: frozen questions, saved answers, time left."""

    attempt: Attempt
    title: str
    questions: list[PaperQuestion]
    answers: dict[int, Answer] = field(default_factory=dict)

    @property
    def read_only(self) -> bool:
        """Submitted attempts are never edited again."""
        return self.attempt.status != IN_PROGRESS

    def answered(self, slot_id: int) -> bool:
        """Whether the question has a saved, non-empty answer."""
        answer = self.answers.get(slot_id)
        return answer is not None and bool(answer.text.strip() or answer.choice)

    def flagged(self, slot_id: int) -> bool:
        """Whether the candidate marked the question to check again."""
        answer = self.answers.get(slot_id)
        return answer is not None and answer.flagged

    def seconds_left(self, now: datetime | None = None) -> float:
        """Seconds until the server-side deadline (0 once passed)."""
        return max(0.0, (self.attempt.deadline_at - (now or utcnow())).total_seconds())


def _my_assignments(session: Session, user: User) -> list[ExamAssignment]:
    mine = col(ExamAssignment.user_id) == user.id
    if user.cohort_id is not None:
        mine = or_(mine, col(ExamAssignment.cohort_id) == user.cohort_id)
    return list(
        session.exec(select(ExamAssignment).where(mine).order_by(col(ExamAssignment.opens_at).desc())).all()
    )


def _attempts(session: Session, assignment_id: int, user_id: int) -> list[Attempt]:
    return list(
        session.exec(
            select(Attempt)
            .where(Attempt.assignment_id == assignment_id, Attempt.user_id == user_id)
            .order_by(col(Attempt.number))
        ).all()
    )


def paper_sittings(session: Session, paper_id: int, user_id: int) -> list[Attempt]:
    """The user's attempts at a paper across all its assignments (cohort and retakes), oldest first."""
    return list(
        session.exec(
            select(Attempt)
            .join(ExamAssignment)
            .where(ExamAssignment.paper_id == paper_id, Attempt.user_id == user_id)
            .order_by(col(Attempt.started_at), col(Attempt.id))
        ).all()
    )


def duty_papers(session: Session) -> set[int]:
    """Papers that programmes required for duty ask for (the gate's 上岗必考 exams)."""
    return set(
        session.exec(
            select(CertificationPaper.paper_id)
            .join(Certification, col(Certification.id) == col(CertificationPaper.certification_id))
            .where(col(Certification.required_for_duty).is_(True))
        ).all()
    )


def questions_of(attempt: Attempt) -> list[PaperQuestion]:
    """The questions frozen into an attempt when it started."""
    return [PaperQuestion(**q) for q in attempt.questions or []]


def _finish(session: Session, attempt: Attempt, *, auto: bool, at: datetime) -> bool:
    """Move an attempt to submitted exactly once; grade objective items. True if this call did it."""
    result = session.exec(
        update(Attempt)
        .where(col(Attempt.id) == attempt.id, col(Attempt.status) == IN_PROGRESS)
        .values(status=SUBMITTED, submitted_at=at, auto_submitted=auto)
    )
    if result.rowcount != 1:
        session.rollback()  # another request submitted first; nothing to do
        session.refresh(attempt)
        return False
    answers = {
        a.item_id: a for a in session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()
    }
    for question in questions_of(attempt):
        if question.kind != OBJECTIVE or question.knowledge_item_id is None:
            continue
        item = session.get(KnowledgeItem, question.knowledge_item_id)
        answer = answers.get(question.slot_id)
        if answer is None:
            answer = Answer(attempt_id=attempt.id, item_id=question.slot_id)  # type: ignore[arg-type]
        answer.auto_score = grade(item, answer.choice) if item is not None else 0.0
        answer.score = answer.auto_score
        session.add(answer)
    audit.record(
        session=session,
        actor=None,
        action="attempt.auto_submit" if auto else "attempt.submit",
        target=str(attempt.id),
        detail={"user": attempt.user_id},
    )
    session.commit()
    session.refresh(attempt)
    from training.exams.grading import finalize_if_complete

    finalize_if_complete(session, attempt)
    return True


def expire_overdue(session: Session, *, user_id: int | None = None, now: datetime | None = None) -> int:
    """Submit every attempt whose deadline has passed, with what was saved. Returns how many."""
    now = now or utcnow()
    query = select(Attempt).where(Attempt.status == IN_PROGRESS, col(Attempt.deadline_at) < now)
    if user_id is not None:
        query = query.where(Attempt.user_id == user_id)
    done = 0
    for attempt in session.exec(query).all():
        done += _finish(session, attempt, auto=True, at=attempt.deadline_at)
    return done


def has_open_attempt(session: Session, user_id: int) -> bool:
    """True while the user is sitting an exam (scripts stay hidden from them meanwhile)."""
    expire_overdue(session, user_id=user_id)
    return (
        session.exec(
            select(Attempt.id).where(Attempt.user_id == user_id, Attempt.status == IN_PROGRESS)
        ).first()
        is not None
    )


def my_exams(*, session: Session, actor: User | None, now: datetime | None = None) -> list[ExamEntry]:
    """The acting user's assigned exams with window, attempts and released best score."""
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    expire_overdue(session, user_id=user.id, now=now)
    entries = []
    required = duty_papers(session)
    for assignment in _my_assignments(session, user):
        paper = session.get(ExamPaper, assignment.paper_id)
        assert assignment.id is not None and user.id is not None
        if paper is None:
            continue
        attempts = _attempts(session, assignment.id, user.id)
        open_attempt = next((a for a in attempts if a.status == IN_PROGRESS), None)
        released = [a.score for a in attempts if a.released_at is not None and a.score is not None]
        left = max(0, assignment.max_attempts - len(attempts))
        closes = assignment.closes_at if assignment.closes_at else None
        if open_attempt is not None:
            state = "作答中"
        elif now < assignment.opens_at:
            state = "未开放"
        elif closes is not None and now >= closes:
            state = "已结束"
        elif left > 0:
            state = "可参加"
        else:
            state = "已交卷"
        entries.append(
            ExamEntry(
                assignment.id,
                paper.id or 0,
                paper.title,
                assignment.opens_at,
                closes,
                paper.time_limit_minutes,
                paper.pass_mark,
                state,
                len(attempts),
                left,
                open_attempt.id if open_attempt else None,
                max(released) if released else None,
                attempts[-1].id if attempts else None,
                paper.id in required,
                assignment.user_id is not None,
            )
        )
    return entries


def start_attempt(
    *,
    session: Session,
    actor: User | None,
    assignment_id: int,
    now: datetime | None = None,
) -> Attempt:
    """Start an attempt, or resume the one already open (double clicks never make a second)."""
    user = require_role(actor, *EVERYONE)
    assert user.id is not None
    now = now or utcnow()
    # One start at a time per person: two clicks (or tabs) must not both see "no attempt yet".
    lock_row(session=session, model=User, row_id=user.id)
    assignment = next((a for a in _my_assignments(session, user) if a.id == assignment_id), None)
    if assignment is None:
        raise ExamError("这场考试没有分配给你。")
    expire_overdue(session, user_id=user.id, now=now)
    # Again: a lost submit race inside rolls back, which ends the lock.
    lock_row(session=session, model=User, row_id=user.id)
    attempts = _attempts(session, assignment_id, user.id)
    current = next((a for a in attempts if a.status == IN_PROGRESS), None)
    if current is not None:
        return current
    if now < assignment.opens_at:
        raise ExamError("考试尚未开放。")
    if assignment.closes_at is not None and now >= assignment.closes_at:
        raise ExamError("考试已结束。")
    if len(attempts) >= assignment.max_attempts:
        raise ExamError("你的考试次数已用完。")
    paper = session.get(ExamPaper, assignment.paper_id)
    if paper is None:
        raise ExamError("试卷不存在。")
    assert paper.id is not None
    # Sittings are numbered per person and paper, across the cohort's assignment and any retake;
    # each sitting draws afresh and avoids the questions of the earlier ones while the pool allows.
    earlier = paper_sittings(session, paper.id, user.id)
    number = max([len(attempts), *(a.number for a in earlier)]) + 1
    seen = [q for a in earlier for q in questions_of(a)]
    questions = draw_paper(session, paper, candidate_seed(paper.id, user.id) + number - 1, seen=seen)
    deadline = now + timedelta(minutes=paper.time_limit_minutes)
    if assignment.closes_at is not None:
        deadline = min(deadline, assignment.closes_at)
    attempt = Attempt(
        assignment_id=assignment_id,
        user_id=user.id,
        number=number,
        started_at=now,
        deadline_at=deadline,
        questions=[asdict(q) for q in questions],
    )
    session.add(attempt)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent click created the same attempt number first: resume that one.
        session.rollback()
        raced = next((a for a in _attempts(session, assignment_id, user.id) if a.status == IN_PROGRESS), None)
        if raced is None:
            raise ExamError("考试刚刚已提交，请刷新页面。") from None
        return raced
    audit.record(
        session=session,
        actor=user,
        action="attempt.start",
        target=str(attempt.id),
        detail={"assignment": assignment_id, "number": number},
    )
    session.commit()
    session.refresh(attempt)
    return attempt


def _own_attempt(session: Session, user: User, attempt_id: int) -> Attempt:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise ExamError("考试记录不存在。")
    if attempt.user_id != user.id:
        raise PermissionDenied("不能查看他人的考试。")
    return attempt


def open_attempt(*, session: Session, actor: User | None, attempt_id: int) -> AttemptView:
    """The candidate's own attempt with saved answers; overdue attempts are submitted first."""
    user = require_role(actor, *EVERYONE)
    attempt = _own_attempt(session, user, attempt_id)
    if attempt.status == IN_PROGRESS and attempt.deadline_at < utcnow():
        _finish(session, attempt, auto=True, at=attempt.deadline_at)
    assignment = session.get(ExamAssignment, attempt.assignment_id)
    paper = session.get(ExamPaper, assignment.paper_id) if assignment else None
    answers = {
        a.item_id: a for a in session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()
    }
    return AttemptView(attempt, paper.title if paper else "", questions_of(attempt), answers)


def _writable(session: Session, user: User, attempt_id: int, slot_id: int, now: datetime) -> Attempt:
    attempt = _own_attempt(session, user, attempt_id)
    if attempt.status != IN_PROGRESS:
        raise ExamError("试卷已提交，不能再修改。")
    if now > attempt.deadline_at + SAVE_GRACE:
        _finish(session, attempt, auto=True, at=attempt.deadline_at)
        raise ExamError("考试时间已到，试卷已按已保存的答案自动提交。")
    if slot_id not in {q.slot_id for q in questions_of(attempt)}:
        raise ExamError("题目不在这份试卷中。")
    _hold_open(session, attempt)
    return attempt


def _hold_open(session: Session, attempt: Attempt) -> None:
    """Lock the attempt while it is still open, so a save never lands after the submission."""
    # A no-op conditional UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before
    # the answer is read; _finish takes the same lock first, so its grading sees every save that
    # was acknowledged, and a save queued behind a submission matches no row here.
    held = session.exec(
        update(Attempt)
        .where(col(Attempt.id) == attempt.id, col(Attempt.status) == IN_PROGRESS)
        .values(status=IN_PROGRESS)
    )
    if held.rowcount != 1:
        session.rollback()
        raise ExamError("试卷已提交，不能再修改。")


def _answer_row(session: Session, attempt_id: int, slot_id: int) -> Answer:
    answer = session.exec(
        select(Answer).where(Answer.attempt_id == attempt_id, Answer.item_id == slot_id)
    ).first()
    return answer or Answer(attempt_id=attempt_id, item_id=slot_id)


def _store(session: Session, answer: Answer) -> Answer:
    session.add(answer)
    try:
        session.commit()
    except IntegrityError:
        # Two saves of a fresh answer raced; the other insert won, so update that row.
        session.rollback()
        winner = _answer_row(session, answer.attempt_id, answer.item_id)
        for name in ("text", "choice", "flagged", "time_spent_seconds", "chars_per_minute", "saved_at"):
            setattr(winner, name, getattr(answer, name))
        session.add(winner)
        session.commit()
        answer = winner
    session.refresh(answer)
    return answer


def save_answer(
    *,
    session: Session,
    actor: User | None,
    attempt_id: int,
    slot_id: int,
    text: str | None = None,
    choice: str | None = None,
    elapsed_seconds: float = 0.0,
    now: datetime | None = None,
) -> Answer:
    """Autosave one answer in place, adding the time spent on it since the last save.

    Typing speed is the answer's length per minute of time spent on the question.
    """
    user = require_role(actor, *EVERYONE)
    now = now or utcnow()
    if text is not None and len(text) > MAX_ANSWER_CHARS:
        raise ExamError(f"回答过长：最多 {MAX_ANSWER_CHARS} 字。")
    attempt = _writable(session, user, attempt_id, slot_id, now)
    assert attempt.id is not None
    answer = _answer_row(session, attempt.id, slot_id)
    if text is not None:
        answer.text = text
    if choice is not None:
        answer.choice = choice[:32]
    limit = (attempt.deadline_at - attempt.started_at).total_seconds()
    answer.time_spent_seconds = min(limit, answer.time_spent_seconds + max(0.0, elapsed_seconds))
    length = len(answer.text.strip())
    answer.chars_per_minute = (
        length / (answer.time_spent_seconds / 60) if length and answer.time_spent_seconds >= 5 else None
    )
    answer.saved_at = now
    return _store(session, answer)


def set_flag(*, session: Session, actor: User | None, attempt_id: int, slot_id: int, flagged: bool) -> Answer:
    """Mark a question to come back to (kept with the answer, so it survives a reload)."""
    user = require_role(actor, *EVERYONE)
    attempt = _writable(session, user, attempt_id, slot_id, utcnow())
    assert attempt.id is not None
    answer = _answer_row(session, attempt.id, slot_id)
    answer.flagged = flagged
    return _store(session, answer)


def submit_attempt(*, session: Session, actor: User | None, attempt_id: int) -> Attempt:
    """Hand in the attempt once; repeating the call (double click, retry) changes nothing."""
    user = require_role(actor, *EVERYONE)
    attempt = _own_attempt(session, user, attempt_id)
    if attempt.status == IN_PROGRESS:
        now = utcnow()
        late = now > attempt.deadline_at
        _finish(session, attempt, auto=late, at=attempt.deadline_at if late else now)
    return attempt
