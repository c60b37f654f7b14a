"""Admin: cohorts and their members."""

import pandas as pd
import streamlit as st

from pages.common import current_user, db_session, run_action
from training.accounts import assign_cohort, create_cohort, list_cohorts, list_users

user = current_user()
st.title("班组管理")

with db_session() as session:
    cohorts = run_action(lambda: list_cohorts(session=session, actor=user)) or []
    users = run_action(lambda: list_users(session=session, actor=user)) or []

members: dict[int | None, int] = {}
for u in users:
    members[u.cohort_id] = members.get(u.cohort_id, 0) + 1
st.dataframe(pd.DataFrame([{"ID": c.id, "班组": c.name, "说明": c.description,
                            "成员数": members.get(c.id, 0)} for c in cohorts]),
             hide_index=True, width="stretch")

st.subheader("新建班组")
with st.form("create_cohort", clear_on_submit=True):
    name = st.text_input("名称", key="cohort_name")
    description = st.text_input("说明", key="cohort_description")
    if st.form_submit_button("创建", type="primary"):
        with db_session() as session:
            run_action(lambda: create_cohort(session=session, actor=user, name=name,
                                             description=description),
                       success=f"已创建班组 {name}。")

st.subheader("调整成员")
if users:
    names = {c.id: c.name for c in cohorts}
    target = st.selectbox("用户", [u.id for u in users], key="cohort_user",
                          format_func=lambda i: next(f"{u.username}（{u.display_name}）"
                                                     for u in users if u.id == i))
    cohort = st.selectbox("调入班组", [None, *names], key="cohort_target",
                          format_func=lambda c: "（不属于任何班组）" if c is None else names[c])
    if st.button("保存", key="cohort_save"):
        with db_session() as session:
            run_action(lambda: assign_cohort(session=session, actor=user, user_id=target,
                                             cohort_id=cohort), success="已调整。")
