"""Admin: cohorts and their members."""

import pandas as pd
import streamlit as st

from pages.actions import act, forget, show
from pages.common import current_user, db_session, run_action, show_table
from training.accounts import assign_cohort, create_cohort, list_cohorts, list_users
from training.models import Cohort, User


def _create() -> None:
    name, description = st.session_state["cohort_name"], st.session_state["cohort_description"]

    def save(actor: User) -> Cohort:
        with db_session() as session:
            return create_cohort(session=session, actor=actor, name=name, description=description)

    created = act("cohort_new", save, success=lambda c: f"已创建班组 {c.name}。")
    if created is not None:
        forget("cohort_name", "cohort_description")  # cleared only once it is saved
        st.session_state["cohort_target"] = created.id  # ready to move members into it


def _assign(people: dict[int, str], names: dict[int, str]) -> None:
    # Read the choices here, not as button args: args are bound when the button was drawn.
    user_id, cohort_id = st.session_state["cohort_user"], st.session_state["cohort_target"]
    who, where = people.get(user_id, ""), f"「{names.get(cohort_id, '')}」"

    def run(actor: User) -> User:
        with db_session() as session:
            return assign_cohort(session=session, actor=actor, user_id=user_id, cohort_id=cohort_id)

    act("cohort_move", run, success=f"已将 {who}调入{where}。" if cohort_id is not None
        else f"已将 {who}移出班组。")


user = current_user()
st.title("班组管理")

with db_session() as session:
    cohorts = run_action(lambda: list_cohorts(session=session, actor=user)) or []
    users = run_action(lambda: list_users(session=session, actor=user)) or []

members: dict[int | None, int] = {}
for u in users:
    members[u.cohort_id] = members.get(u.cohort_id, 0) + 1
show_table(pd.DataFrame([{"ID": c.id, "班组": c.name, "说明": c.description,
                          "成员数": members.get(c.id, 0)} for c in cohorts]),
           empty="还没有班组：在下方新建一个。", hide_index=True, width="stretch")

st.subheader("新建班组")
with st.form("create_cohort"):
    st.text_input("名称", key="cohort_name")
    st.text_input("说明", key="cohort_description")
    st.form_submit_button("创建", type="primary", on_click=_create)
    show("cohort_new")

st.subheader("调整成员")
if users:
    names = {c.id: c.name for c in cohorts}
    people = {u.id: f"{u.username}（{u.display_name}）" for u in users}
    st.selectbox("用户", list(people), key="cohort_user", format_func=people.__getitem__)
    st.selectbox("调入班组", [None, *names], key="cohort_target",
                 format_func=lambda c: "（不属于任何班组）" if c is None else names[c])
    st.button("保存", key="cohort_save", on_click=_assign, args=(people, names))
    show("cohort_move")
