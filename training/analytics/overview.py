"""Home-page figures for each role, read from the database (nothing invented)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from training.auth.permissions import EVERYONE, require_role
from training.certification.duty import duty_status
from training.exams.attempts import TO_TAKE, my_exams
from training.models import (
    ChatImport,
    Cohort,
    ExamPaper,
    KnowledgeItem,
    MinedQuestion,
    Role,
    Script,
    User,
)
from training.models.scripts import SCRIPT_APPROVED


@dataclass
class HomeSummary:
    """Counts a role's home page shows, and the next steps that follow from them."""

    figures: dict[str, int] = field(default_factory=dict)
    next_steps: list[str] = field(default_factory=list)


def _count(session: Session, statement: object) -> int:
    return int(session.exec(statement).one())  # type: ignore[call-overload]


def home_summary(*, session: Session, actor: User | None) -> HomeSummary:
    """What the acting user's home page shows."""
    user = require_role(actor, *EVERYONE)
    summary = HomeSummary()
    scripts = _count(session, select(func.count()).select_from(Script)
                     .where(Script.status == SCRIPT_APPROVED))
    summary.figures["已审定话术"] = scripts
    if user.role == Role.ADMIN.value:
        summary.figures["启用的账号"] = _count(
            session, select(func.count()).select_from(User).where(User.is_active))
        summary.figures["班组"] = _count(session, select(func.count()).select_from(Cohort))
        summary.next_steps = ["在「用户管理」中创建培训师、客服和新人账号，或从 CSV/Excel 批量导入。",
                              "在「班组管理」中建立班组并分配成员。"]
    elif user.role == Role.TRAINER.value:
        summary.figures["聊天记录导入"] = _count(session, select(func.count()).select_from(ChatImport))
        summary.figures["挖掘出的问题"] = _count(  # as 问题库 lists them: hidden ones left out
            session, select(func.count()).select_from(MinedQuestion)
            .where(col(MinedQuestion.hidden).is_(False)))
        summary.figures["知识题"] = _count(session, select(func.count()).select_from(KnowledgeItem))
        summary.figures["试卷"] = _count(session, select(func.count()).select_from(ExamPaper))
        summary.next_steps = ["在「组卷」中用挖掘出的问题和知识题组卷，发布给班组。",
                              "在「考试与认证」中评阅情景题、发布成绩，查看谁已取得上岗资格。",
                              "在「话术库」中维护最佳话术，每次修改都会保存为新版本。"]
    else:
        # The same states and certificates 我的考试 shows: an exam already submitted (no attempts
        # left) or closed is not waiting for the candidate.
        summary.figures["待参加的考试"] = sum(
            entry.state in TO_TAKE for entry in my_exams(session=session, actor=user))
        duty = duty_status(session=session, actor=user)
        summary.figures["有效证书"] = len(duty.certificates)
        summary.next_steps = ["遇到顾客提问时，在「话术查询」中输入顾客的话，复制审定的最佳话术。",
                              "在「我的考试」中参加培训师发布的考试；成绩发布后对照审定话术查看要点，"
                              "答错的题进入「错题本」，可反复练习（不计成绩）。"]
        if user.role == Role.NEW_HIRE.value and not duty.certificates:
            summary.next_steps.append("你还没有上岗证书：通过培训师发布的资格考试后才能上岗接待。")
    return summary
