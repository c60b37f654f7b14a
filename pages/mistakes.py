"""错题本: questions answered wrongly in released exams, with a practice mode that never counts."""

from __future__ import annotations

import streamlit as st

from pages.ui.common import current_user, db_session, run_action
from pages.ui.exam_view import render_question
from pages.ui.markdown import md_escape
from pages.ui.result_view import highlighted
from training.exams.feedback import mistakes, practise
from training.exams.papers import SCENARIO

user = current_user()
st.title("错题本")
st.caption("来自已发布成绩的错题和低分情景题。练习模式立即给出反馈，不计入成绩和认证。")
with db_session() as session:
    book = mistakes(session=session, actor=user)
if not book:
    st.success("错题本是空的：已发布的考试里没有答错的题。")
    st.stop()

labels = {m.key: f"{m.paper_title} · {m.question.prompt[:40]}（上次得分 {m.score:.0%}）" for m in book}
key = st.selectbox("选择要练习的题目", list(labels), format_func=labels.__getitem__, key="mistake_pick")
entry = next(m for m in book if m.key == key)
st.caption("上次的回答：" + (entry.your_answer or "（未作答）"))
with st.form(f"practice_{key}"):
    given = render_question(entry.question, key_prefix="practice")
    checked = st.form_submit_button("提交练习", type="primary")
if checked:
    with db_session() as session:
        result = run_action(lambda: practise(
            session=session, actor=user, key=key,
            text=given if entry.question.kind == SCENARIO else "",
            choice=given if entry.question.kind != SCENARIO else ""))
    if result is not None:
        if entry.question.kind == SCENARIO:
            (st.success if result.correct else st.warning)(
                "要点基本覆盖，很好！" if result.correct else "还有要点没有覆盖，对照下面的话术再练一次。")
            if result.key_points is not None:
                st.markdown(highlighted(result.key_points))
                if result.key_points.missed:
                    st.markdown("遗漏要点：" + "、".join(f":red-badge[{md_escape(p)}]"
                                                       for p in result.key_points.missed))
            else:
                st.info("这道题还没有审定话术，请向培训师请教最佳回复。")
        else:
            (st.success if result.correct else st.error)(
                f"{'回答正确' if result.correct else '回答错误'}，正确答案：{result.correct_answer}")
            if result.explanation:
                st.info(f"解析：{md_escape(result.explanation)}")
