"""Home page: what the logged-in role can do next, with real figures."""

import streamlit as st

from pages.ui.common import current_user, db_session, role_label
from pages.ui.markdown import md_escape
from training.analytics.overview import home_summary

user = current_user()
assert user is not None  # app.py only routes logged-in users here
st.title(f"你好，{md_escape(user.display_name)}")
st.caption(f"角色：{role_label(user.role)}")

with db_session() as session:
    summary = home_summary(session=session, actor=user)

columns = st.columns(max(len(summary.figures), 1))
for column, (label, value) in zip(columns, summary.figures.items(), strict=False):
    column.metric(label, value)

st.subheader("接下来可以做什么")
for step in summary.next_steps:
    st.markdown(f"- {step}")
