"""Admin: cohorts and their members."""

import pandas as pd
import streamlit as st

from pages.ui.actions import act, forget, note, show
from pages.ui.common import current_user, db_session, run_action, show_table
from training.auth.accounts import assign_cohort, create_cohort, list_cohorts, list_users
from training.exams.sitting_figures import refile_moved
from training.models import Cohort, User


def _create() -> None:
    name, description = st.session_state["cohort_name"], st.session_state["cohort_description"]

    def save(actor: User) -> Cohort:
        with db_session() as session:
            return create_cohort(session=session, actor=actor, name=name, description=description)

    created = act("cohort_new", save, success=lambda c: f"已创建班组 {c.name}。")
    if created is not None:
        forget("cohort_name", "cohort_description",
               to={"cohort_name": "", "cohort_description": ""})  # cleared only once it is saved
        st.session_state["cohort_target"] = created.id  # ready to move members into it


#: The "no cohort" choice of 调入班组 (cohort ids start at 1); an unset box is None, not this.
NO_COHORT = 0


def _assign(people: dict[int, str], names: dict[int, str]) -> None:
    # Read the choices here, not as button args: args are bound when the button was drawn.
    user_id, target = st.session_state["cohort_user"], st.session_state["cohort_target"]
    if user_id is None or target is None:
        note("cohort_move", "请先选择用户和要调入的班组。", "error")
        return
    cohort_id = None if target == NO_COHORT else target
    who, where = people.get(user_id, ""), f"「{names.get(target, '')}」"

    def run(actor: User) -> User:
        with db_session() as session:
            moved = assign_cohort(session=session, actor=actor, user_id=user_id, cohort_id=cohort_id)
            refile_moved(session=session, user_ids=[user_id])  # the dashboards' per-cohort figures
            session.commit()
            return moved

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
    people = {u.id: f"{u.username}（{u.display_name}）" for u in users if u.id is not None}
    now_in = {u.id: names.get(u.cohort_id, "不属于任何班组") for u in users}
    # Nobody and no cohort is chosen until the admin picks them: a click on 保存 never moves the
    # first account in the list (the administrator) by default.
    st.selectbox("用户", list(people), key="cohort_user", index=None, placeholder="请选择用户",
                 format_func=lambda u: f"{people[u]} · 现属：{now_in[u]}")
    st.selectbox("调入班组", [*names, NO_COHORT], key="cohort_target", index=None, placeholder="请选择班组",
                 format_func=lambda c: "（移出班组，不属于任何班组）" if c == NO_COHORT else names[c])
    st.button("保存", key="cohort_save", on_click=_assign, args=(people, names))
    show("cohort_move")
