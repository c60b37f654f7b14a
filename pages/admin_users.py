"""Admin: create, disable, reset and re-role users; bulk-create from CSV/XLSX."""

import pandas as pd
import streamlit as st

from pages.ui.actions import act, ask, asked, cancel, confirm_step, forget, note, show
from pages.ui.common import current_user, db_session, role_label, run_action, show_table
from training.auth.accounts import (
    BulkResult,
    bulk_create_users,
    create_user,
    list_cohorts,
    list_users,
    reset_password,
    set_role,
    set_user_active,
)
from training.core.config import get_settings
from training.exams.sitting_figures import refile_moved
from training.models import Role, User

SAFE_ROLE = Role.AGENT.value  # a new account is 客服 until an admin gives it more
ROLES = [SAFE_ROLE, *(r.value for r in Role if r.value != SAFE_ROLE)]  # 客服 first: the default
NEW_FIELDS = ("new_username", "new_display_name", "new_role", "new_cohort", "new_password")
Target = tuple[int, str]  # a user's id and how the page names them


def _create() -> None:
    typed = st.session_state

    def save(actor: User) -> User:
        with db_session() as session:
            return create_user(session=session, actor=actor, username=typed["new_username"],
                               display_name=typed["new_display_name"], role=typed["new_role"],
                               password=typed["new_password"], cohort_id=typed["new_cohort"])

    created = act("au_new", save, success=lambda u: f"已创建用户 {u.username}（{u.display_name}，"
                                                    f"{role_label(u.role)}）。")
    if created is not None:
        forget(*NEW_FIELDS, to={"new_username": "", "new_display_name": "", "new_password": "",
                                "new_role": SAFE_ROLE, "new_cohort": None})  # only once it is saved
        st.session_state["target_user"] = created.id  # and selected below
        _forget_pending()


def _forget_pending() -> None:
    cancel("au_disable")
    cancel("au_reset")


def _chosen(labels: dict[int, str]) -> Target | None:
    """The user chosen in 选择用户, read when a button is pressed (button args are bound earlier)."""
    user_id = st.session_state.get("target_user")
    return None if user_id is None else (user_id, labels.get(user_id, str(user_id)))


def _ask(slot: str, labels: dict[int, str]) -> None:
    _forget_pending()  # one question at a time
    if (target := _chosen(labels)) is not None:
        ask(slot, target)


def _enable(labels: dict[int, str]) -> None:
    if (target := _chosen(labels)) is not None:
        _set_active(target, True)


def _set_active(target: Target, active: bool) -> None:
    user_id, name = target

    def run(actor: User) -> User:
        with db_session() as session:
            return set_user_active(session=session, actor=actor, user_id=user_id, active=active)

    act("au_target", run, success=f"已停用 {name}，该账号已退出登录、不能再登录。" if not active
        else f"已启用 {name}。")


def _disable(target: Target) -> None:
    _set_active(target, False)


def _reset(target: Target) -> None:
    user_id, name = target

    def run(actor: User) -> str:
        with db_session() as session:
            return reset_password(session=session, actor=actor, user_id=user_id)

    password = act("au_target", run, success=f"已为 {name} 重置密码，该账号在各设备上的登录已退出。"
                                            "新密码如下，请当面或私下告知本人（只显示这一次）：")
    if password:
        note("au_target", password, "code")


def _set_role(labels: dict[int, str]) -> None:
    target, role = _chosen(labels), st.session_state.get("target_role")
    if target is None or role is None:
        return
    user_id, name = target

    def run(actor: User) -> User:
        with db_session() as session:
            changed = set_role(session=session, actor=actor, user_id=user_id, role=role)
            refile_moved(session=session, user_ids=[user_id])  # the dashboards' per-role figures
            session.commit()
            return changed

    act("au_target", run, success=f"已将 {name}的角色改为{role_label(role)}。")


def _bulk() -> None:
    upload = st.session_state.get("bulk_users")
    if upload is None:
        return
    limit = get_settings().upload_limit_mb
    if upload.size > limit * 1024 * 1024:
        note("au_bulk", f"文件超过 {limit} MB 上限。", "error")
        return

    def run(actor: User) -> BulkResult:
        with db_session() as session:
            return bulk_create_users(session=session, actor=actor, raw=upload.getvalue(),
                                     file_name=upload.name)

    result = act("au_bulk", run)
    if result is not None and result.errors:
        note("au_bulk", "导入未执行，请修正以下问题后重试：\n\n" + "\n".join(f"- {e}" for e in result.errors),
             "error")
    elif result is not None:
        note("au_bulk", f"已创建 {len(result.created)} 个账号。初始密码只显示这一次：")
        st.session_state["au_bulk_created"] = result.created


user = current_user()
st.title("用户管理")

with db_session() as session:
    users = run_action(lambda: list_users(session=session, actor=user)) or []
    cohorts = run_action(lambda: list_cohorts(session=session, actor=user)) or []
cohort_names = {c.id: c.name for c in cohorts}

show_table(
    pd.DataFrame([{"ID": u.id, "用户名": u.username, "姓名": u.display_name,
                   "角色": role_label(u.role), "班组": cohort_names.get(u.cohort_id, ""),
                   "状态": "启用" if u.is_active else "停用"} for u in users]),
    empty="还没有用户。", hide_index=True, width="stretch",
)

st.subheader("新建用户")
with st.form("create_user"):
    st.text_input("用户名", key="new_username")
    st.text_input("姓名", key="new_display_name")
    st.selectbox("角色", ROLES, format_func=role_label, key="new_role")
    st.selectbox("班组", [None, *cohort_names], key="new_cohort",
                 format_func=lambda c: "（无）" if c is None else cohort_names[c])
    st.text_input("初始密码（至少 8 位，含两类字符）", type="password", key="new_password")
    st.form_submit_button("创建", type="primary", on_click=_create)
    show("au_new")

st.subheader("停用 / 启用 / 重置密码 / 修改角色")
labels = {u.id: f"{u.username}（{u.display_name}）" for u in users}
active = {u.id: u.is_active for u in users}
if labels:
    target_id = st.selectbox("选择用户", list(labels), index=None, placeholder="请选择用户",
                             format_func=lambda i: labels[i], key="target_user", on_change=_forget_pending)
    left, middle, right = st.columns(3)
    left.button("停用", key="disable_user", disabled=target_id is None or not active.get(target_id),
                on_click=_ask, args=("au_disable", labels))
    middle.button("启用", key="enable_user", disabled=target_id is None or active.get(target_id, True),
                  on_click=_enable, args=(labels,))
    right.button("重置密码", key="reset_password", disabled=target_id is None,
                 on_click=_ask, args=("au_reset", labels))
    if pending := asked("au_disable"):
        confirm_step("au_disable", confirm=f"确认停用「{pending[1]}」", on_confirm=_disable,
                     question=f"确认停用「{pending[1]}」？停用后该账号立即退出登录、不能再登录，可以随时重新启用。")
    if pending := asked("au_reset"):
        confirm_step("au_reset", confirm=f"确认重置「{pending[1]}」的密码", on_confirm=_reset,
                     question=f"确认重置「{pending[1]}」的密码？原密码立即失效，该账号在各设备上的登录都会退出。")
    role_column, button_column = st.columns([2, 1], vertical_alignment="bottom")
    new_role = role_column.selectbox("修改角色为", ROLES, index=None, placeholder="请选择角色",
                                     format_func=role_label, key="target_role")
    button_column.button("修改角色", key="set_role", disabled=target_id is None or new_role is None,
                         on_click=_set_role, args=(labels,))
    show("au_target")

st.subheader("批量导入")
st.caption("CSV 或 Excel，第一行为表头：用户名、姓名、角色（管理员、培训师、客服或新人）、"
           "班组（可空，不存在会自动创建）。任何一行有错则全部不导入。")
upload = st.file_uploader("选择文件", type=["csv", "xlsx"], key="bulk_users")
st.button("开始导入", key="bulk_import", disabled=upload is None, on_click=_bulk)
show("au_bulk")
if created := st.session_state.pop("au_bulk_created", None):
    st.dataframe(pd.DataFrame(created, columns=["用户名", "初始密码"]), hide_index=True)
