"""Admin: create, disable, reset and re-role users; bulk-create from CSV/XLSX."""

import pandas as pd
import streamlit as st

from pages.common import current_user, db_session, role_label, run_action
from training.accounts import (
    bulk_create_users,
    create_user,
    list_cohorts,
    list_users,
    reset_password,
    set_role,
    set_user_active,
)
from training.config import get_settings
from training.models import Role

user = current_user()
st.title("用户管理")

with db_session() as session:
    users = run_action(lambda: list_users(session=session, actor=user)) or []
    cohorts = run_action(lambda: list_cohorts(session=session, actor=user)) or []
cohort_names = {c.id: c.name for c in cohorts}

st.dataframe(
    pd.DataFrame([{"ID": u.id, "用户名": u.username, "姓名": u.display_name,
                   "角色": role_label(u.role), "班组": cohort_names.get(u.cohort_id, ""),
                   "状态": "启用" if u.is_active else "停用"} for u in users]),
    hide_index=True, width="stretch",
)

st.subheader("新建用户")
with st.form("create_user", clear_on_submit=True):
    username = st.text_input("用户名", key="new_username")
    display_name = st.text_input("姓名", key="new_display_name")
    role = st.selectbox("角色", [r.value for r in Role], format_func=role_label, key="new_role")
    cohort = st.selectbox("班组", [None, *cohort_names], key="new_cohort",
                          format_func=lambda c: "（无）" if c is None else cohort_names[c])
    password = st.text_input("初始密码（至少 8 位，含两类字符）", type="password", key="new_password")
    if st.form_submit_button("创建", type="primary"):
        with db_session() as session:
            run_action(lambda: create_user(session=session, actor=user, username=username,
                                           display_name=display_name, role=role,
                                           password=password, cohort_id=cohort),
                       success=f"已创建用户 {username}。")

st.subheader("停用 / 启用 / 重置密码")
labels = {u.id: f"{u.username}（{u.display_name}）" for u in users}
if labels:
    target = st.selectbox("选择用户", list(labels), format_func=lambda i: labels[i],
                          key="target_user")
    left, middle, right = st.columns(3)
    if left.button("停用", key="disable_user"):
        with db_session() as session:
            run_action(lambda: set_user_active(session=session, actor=user, user_id=target,
                                               active=False), success="已停用。")
    if middle.button("启用", key="enable_user"):
        with db_session() as session:
            run_action(lambda: set_user_active(session=session, actor=user, user_id=target,
                                               active=True), success="已启用。")
    if right.button("重置密码", key="reset_password"):
        with db_session() as session:
            new_password = run_action(lambda: reset_password(session=session, actor=user,
                                                             user_id=target))
        if new_password:
            st.success("新密码如下，请当面或私下告知本人（只显示这一次）：")
            st.code(new_password, language=None)
    role_column, button_column = st.columns([2, 1])
    new_role = role_column.selectbox("修改角色为", [r.value for r in Role], format_func=role_label,
                                     key="target_role")
    if button_column.button("修改角色", key="set_role"):
        with db_session() as session:
            run_action(lambda: set_role(session=session, actor=user, user_id=target, role=new_role),
                       success="角色已修改。")

st.subheader("批量导入")
st.caption("CSV 或 Excel，列：username, display_name, role（admin/trainer/agent/new_hire）, "
           "cohort（可空，不存在会自动创建）。任何一行有错则全部不导入。")
limit = get_settings().upload_limit_mb
upload = st.file_uploader("选择文件", type=["csv", "xlsx"], key="bulk_users")
if upload is not None and st.button("开始导入", key="bulk_import"):
    if upload.size > limit * 1024 * 1024:
        st.error(f"文件超过 {limit} MB 上限。")
    else:
        with db_session() as session:
            result = run_action(lambda: bulk_create_users(session=session, actor=user,
                                                          raw=upload.getvalue(),
                                                          file_name=upload.name))
        if result is not None and result.errors:
            st.error("导入未执行，请修正以下问题后重试：\n\n" + "\n".join(
                f"- {e}" for e in result.errors))
        elif result is not None:
            st.success(f"已创建 {len(result.created)} 个账号。初始密码只显示这一次：")
            st.dataframe(pd.DataFrame(result.created, columns=["用户名", "初始密码"]),
                         hide_index=True)
