"""What a candidate learns from a released attempt: script beside answer, key points, 错题本.

``KeyPoints`` and ``key_points`` come from ``training.ranking.key_points`` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import EVERYONE, STAFF, PermissionDenied, require_role
from training.core.errors import UserError
from training.exams.knowledge import grade
from training.exams.papers import OBJECTIVE, SCENARIO, PaperQuestion
from training.exams.scores import approved_script
from training.exams.sittings import questions_of
from training.exams.submission import has_open_attempt
from training.models import Answer, Attempt, AttemptStatus, ExamAssignment, ExamPaper, KnowledgeItem, User
from training.ranking.key_points import KeyPoints as KeyPoints  # re-exported for the pages
from training.ranking.key_points import key_points as key_points
from training.ranking.rank import plain_reason

#: Earlier results show answer keys and scripts, which a candidate mid-exam must not read.
EXAM_IN_PROGRESS = "考试进行中，交卷前不能查看成绩解析、答案和参考话术。"
#: The pass mark of a paper that no longer exists (the paper's own default). A scenario answer
#: below its paper's pass mark goes into the 错题本: the bar the candidate had to clear, one rule.
DEFAULT_PASS_MARK: float = ExamPaper.model_fields["pass_mark"].default


class FeedbackError(UserError):
    """A user-facing problem reading results."""


@dataclass(frozen=True)
class QuestionFeedback:
    """One question of a released attempt, as its candidate reviews it."""

    question: PaperQuestion
    answer_text: str
    choice: str
    score: float | None
    script: str | None  # the approved script (scenario questions)
    key_points: KeyPoints | None
    correct_answer: str = ""  # objective items
    explanation: str = ""
    time_spent_seconds: float = 0.0
    chars_per_minute: float | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AttemptFeedback:
    """A released attempt: overall score, pass mark and per-question feedback."""

    attempt: Attempt
    title: str
    pass_mark: float
    questions: list[QuestionFeedback]

    @property
    def released(self) -> bool:
        """Whether the result is final; before that (staff only) scores are provisional."""
        return self.attempt.released_at is not None

    @property
    def passed(self) -> bool | None:
        """Whether the attempt reached the paper's pass mark; None while the result is provisional."""
        if not self.released:
            return None
        return (self.attempt.score or 0.0) >= self.pass_mark


def _viewable(session: Session, user: User, attempt_id: int) -> tuple[Attempt, ExamPaper]:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise FeedbackError("考试记录不存在。")
    staff = user.role in {r.value for r in STAFF}
    if attempt.user_id != user.id and not staff:
        raise PermissionDenied("不能查看他人的考试。")
    if not staff and has_open_attempt(session=session, user_id=user.id or 0):
        raise PermissionDenied(EXAM_IN_PROGRESS)
    if not staff and attempt.released_at is None:
        raise FeedbackError("成绩尚未发布：培训师评阅或发布后才能查看得分和参考话术。")
    assignment = session.get(ExamAssignment, attempt.assignment_id)
    paper = session.get(ExamPaper, assignment.paper_id) if assignment else None
    if paper is None:
        raise FeedbackError("试卷不存在。")
    return attempt, paper


def _question_feedback(session: Session, question: PaperQuestion, answer: Answer | None) -> QuestionFeedback:
    text, choice = (answer.text, answer.choice) if answer else ("", "")
    spent = answer.time_spent_seconds if answer else 0.0
    speed = answer.chars_per_minute if answer else None
    reasons = [plain_reason(str(r)) for r in (answer.score_detail or {}).get("reasons", [])] if answer else []
    score = answer.score if answer else 0.0
    if question.kind == OBJECTIVE:
        item = session.get(KnowledgeItem, question.knowledge_item_id) if question.knowledge_item_id else None
        return QuestionFeedback(
            question,
            text,
            choice,
            score,
            None,
            None,
            item.answer if item else "",
            item.explanation if item else "",
            spent,
            speed,
            reasons,
        )
    script = approved_script(session=session, mined_question_id=question.mined_question_id)
    points = key_points(script, text) if script else None
    return QuestionFeedback(question, text, choice, score, script, points, "", "", spent, speed, reasons)


def attempt_feedback(*, session: Session, actor: User | None, attempt_id: int) -> AttemptFeedback:
    """Per-question feedback for a released attempt (its candidate) or any attempt (staff)."""
    user = require_role(actor, *EVERYONE)
    attempt, paper = _viewable(session, user, attempt_id)
    answers = {
        a.item_id: a for a in session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()
    }
    return AttemptFeedback(
        attempt,
        paper.title,
        paper.pass_mark,
        [_question_feedback(session, q, answers.get(q.slot_id)) for q in questions_of(attempt)],
    )


def released_feedback(
    *, session: Session, actor: User | None, attempt_id: int,
) -> AttemptFeedback | None:
    """The candidate's own feedback once released; None while it still awaits review or release."""
    user = require_role(actor, *EVERYONE)
    attempt = session.get(Attempt, attempt_id)
    if attempt is not None and attempt.user_id == user.id and attempt.released_at is None:
        return None
    return attempt_feedback(session=session, actor=user, attempt_id=attempt_id)


@dataclass(frozen=True)
class Mistake:
    """An entry of the 错题本: a question to practise, with what went wrong last time."""

    key: str
    question: PaperQuestion
    your_answer: str
    score: float
    paper_title: str


def mistakes(*, session: Session, actor: User | None) -> list[Mistake]:
    """The acting user's wrong objective items and weak scenario answers from released results.

    An objective item is wrong unless fully right; a scenario answer is weak when it scored below
    its paper's pass mark (a 68 % answer on an 80 % paper is practised, not skipped).
    """
    user = require_role(actor, *EVERYONE)
    attempts = session.exec(
        select(Attempt)
        .where(Attempt.user_id == user.id, Attempt.status == AttemptStatus.SUBMITTED.value,
               col(Attempt.released_at).is_not(None))
        .order_by(col(Attempt.released_at).desc())
    ).all()
    found: dict[str, Mistake] = {}
    latest: set[str] = set()
    for attempt in attempts:
        assignment = session.get(ExamAssignment, attempt.assignment_id)
        paper = session.get(ExamPaper, assignment.paper_id) if assignment else None
        answers = {
            a.item_id: a for a in session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()
        }
        for question in questions_of(attempt):
            key = (
                f"k{question.knowledge_item_id}"
                if question.kind == OBJECTIVE
                else f"m{question.mined_question_id or question.prompt}"
            )
            if key in latest:
                continue  # the newest result for a question decides whether it is still a mistake
            latest.add(key)
            answer = answers.get(question.slot_id)
            score = answer.score if answer and answer.score is not None else 0.0
            pass_mark = paper.pass_mark if paper is not None else DEFAULT_PASS_MARK
            wrong = score < 1.0 if question.kind == OBJECTIVE else score < pass_mark - 1e-9
            if wrong:
                found[key] = Mistake(
                    key,
                    question,
                    (answer.choice if question.kind == OBJECTIVE else answer.text) if answer else "",
                    score,
                    paper.title if paper else "",
                )
    return list(found.values())


@dataclass(frozen=True)
class PracticeResult:
    """Immediate feedback in practice mode (never stored as an attempt, never certified)."""

    correct: bool
    correct_answer: str
    explanation: str
    script: str | None
    key_points: KeyPoints | None


def practise(
    *, session: Session, actor: User | None, key: str, text: str = "", choice: str = ""
) -> PracticeResult:
    """Answer a 错题本 question again and see at once how it went; nothing counts toward grades."""
    user = require_role(actor, *EVERYONE)
    if user.role not in {r.value for r in STAFF} and has_open_attempt(session=session, user_id=user.id or 0):
        raise PermissionDenied(EXAM_IN_PROGRESS)
    entry = next((m for m in mistakes(session=session, actor=user) if m.key == key), None)
    if entry is None:
        raise FeedbackError("这道题不在你的错题本中。")
    question = entry.question
    # Nothing chosen or written is not an attempt: asked for, not graded wrong, not recorded.
    if question.kind == OBJECTIVE and not choice.strip():
        raise FeedbackError("请先选择答案。")
    if question.kind == SCENARIO and not text.strip():
        raise FeedbackError("请先写下你的回复。")
    audit.record(session=session, actor=user, action="practice.answer", target=key)
    session.commit()
    if question.kind == OBJECTIVE:
        item = session.get(KnowledgeItem, question.knowledge_item_id) if question.knowledge_item_id else None
        if item is None:
            raise FeedbackError("知识题已删除。")
        return PracticeResult(grade(item, choice) == 1.0, item.answer, item.explanation, None, None)
    assert question.kind == SCENARIO
    script = approved_script(session=session, mined_question_id=question.mined_question_id)
    points = key_points(script, text) if script else None
    enough = points is not None and len(points.covered) >= max(
        1, round(0.6 * (len(points.covered) + len(points.missed)))
    )
    return PracticeResult(enough, "", "", script, points)
