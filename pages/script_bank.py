"""Script bank: browse approved scripts; trainers add and revise them (versioned)."""

import streamlit as st

from pages.common import current_user, db_session, run_action
from scripts_bank.service import (
    can_edit_scripts,
    create_script,
    list_scripts,
    revise_script,
    script_history,
)
from training.models import Category

user = current_user()
st.title("话术库")
categories = [c.value for c in Category]
chosen = st.selectbox("分类", ["全部", *categories], key="bank_category")

with db_session() as session:
    scripts = list_scripts(session=session, actor=user,
                           category=None if chosen == "全部" else chosen)
st.caption(f"共 {len(scripts)} 条审定话术")

for script in scripts:
    with st.expander(f"[{script.category}] {script.question}（v{script.version}）"):
        st.code(script.answer, language=None, wrap_lines=True)
        if can_edit_scripts(user):
            with st.form(f"revise_{script.id}"):
                text = st.text_area("修改话术（保存为新版本）", value=script.answer,
                                    key=f"revise_text_{script.id}")
                note = st.text_input("修改说明", key=f"revise_note_{script.id}")
                if st.form_submit_button("保存新版本"):
                    with db_session() as session:
                        run_action(lambda s=session, i=script.id, t=text, n=note: revise_script(
                                       session=s, actor=user, script_id=i, answer=t, note=n),
                                   success="已保存新版本。")
            with db_session() as session:
                history = script_history(session=session, actor=user, script_id=script.id)
            st.caption("历史版本：" + "、".join(f"v{v.version}（{v.created_at:%Y-%m-%d}）"
                                            for v in history))

if can_edit_scripts(user):
    st.subheader("新增话术")
    with st.form("new_script", clear_on_submit=True):
        question = st.text_input("顾客问题", key="new_script_question")
        answer = st.text_area("最佳话术", key="new_script_answer")
        category = st.selectbox("分类", categories, key="new_script_category")
        if st.form_submit_button("保存", type="primary"):
            with db_session() as session:
                run_action(lambda: create_script(session=session, actor=user, question=question,
                                                 answer=answer, category=category),
                           success="已加入话术库。")
