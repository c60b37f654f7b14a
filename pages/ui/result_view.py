"""A released result: score, each answer beside the approved script, key points, explanations."""

from __future__ import annotations

import streamlit as st

from pages.ui.common import db_session, run_action
from pages.ui.exam_view import render_chat
from pages.ui.markdown import md_escape
from training.exams.choices import labelled_options
from training.exams.feedback import AttemptFeedback, KeyPoints, QuestionFeedback, released_feedback
from training.exams.knowledge import KINDS
from training.exams.papers import SCENARIO
from training.models import User

#: A provisional total or an unscored answer, before the trainer's review or release.
PENDING = "待评阅"


def highlighted(points: KeyPoints) -> str:
    """The script as markdown: covered key points green, missed ones red (text escaped)."""
    parts = []
    for text, covered in points.segments:
        safe = md_escape(text)
        if covered is None:
            parts.append(safe)
        else:
            parts.append(f":{'green' if covered else 'red'}-background[{safe}]")
    return "".join(parts)


def _scenario(item: QuestionFeedback) -> None:
    render_chat(item.question)
    mine, script = st.columns(2)
    with mine:
        st.markdown("**你的回复**")
        st.text(item.answer_text or "（未作答）")
        speed = f" · 打字速度 {item.chars_per_minute:.0f} 字/分钟" if item.chars_per_minute else ""
        st.caption(f"用时 {item.time_spent_seconds:.0f} 秒{speed}")
    with script:
        st.markdown("**审定话术**")
        if item.script is None or item.key_points is None:
            st.caption("这道题暂无审定话术；得分来自培训师评阅和系统建议分。")
        else:
            st.markdown(highlighted(item.key_points))
            if item.key_points.covered:
                st.markdown("已覆盖要点：" + "、".join(f":green-badge[{md_escape(p)}]"
                                                     for p in item.key_points.covered))
            if item.key_points.missed:
                st.markdown("遗漏要点：" + "、".join(f":red-badge[{md_escape(p)}]"
                                                   for p in item.key_points.missed))
    for reason in item.reasons:
        st.caption(f"· {reason}")


def _objective(item: QuestionFeedback) -> None:
    st.caption(KINDS.get(item.question.question_type, "知识题"))
    st.text(item.question.prompt)
    for option in labelled_options(item.question.question_type, item.question.options):
        st.text(option)
    right = item.score == 1.0
    verdict = ":green[回答正确]" if right else ":red[回答错误]"
    st.markdown(f"你的答案：**{md_escape(item.choice or '未作答')}** · "
                f"正确答案：**{md_escape(item.correct_answer)}** {verdict}")
    if item.explanation:
        st.info(f"解析：{md_escape(item.explanation)}")


def show(result: AttemptFeedback) -> None:
    """Draw an attempt's feedback; before release (staff only) the totals read 待评阅."""
    st.title(md_escape(result.title))
    left, middle, right = st.columns(3)
    left.metric("得分", f"{result.attempt.score or 0.0:.0%}" if result.released else PENDING)
    middle.metric("及格线", f"{result.pass_mark:.0%}")
    right.metric("结果", PENDING if result.passed is None else ("通过" if result.passed else "未通过"))
    for item in result.questions:
        mark = PENDING if item.score is None else f"{item.score:.0%}"
        label = f"第 {item.question.position} 题 · 得分 {mark}"
        with st.expander(label, expanded=item.question.kind == SCENARIO):
            if item.question.kind == SCENARIO:
                _scenario(item)
            else:
                _objective(item)


def render(user: User, attempt_id: int) -> bool:
    """Show the attempt's feedback to its candidate; False if it is not released yet."""
    with db_session() as session:
        result = run_action(lambda: released_feedback(session=session, actor=user, attempt_id=attempt_id))
    if result is None:
        return False
    show(result)
    return True
