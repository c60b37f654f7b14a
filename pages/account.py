"""My account: change password (every other session of the account is logged out)."""

import streamlit as st

from pages.common import current_user, db_session, log_in, run_action
from training.accounts import change_own_password

user = current_user()
st.title("我的账号")
st.caption("密码至少 8 位，包含字母、数字、符号中的至少两类，不能与用户名相同或过于常见。"
           "修改后，其他设备上的登录会自动退出。")
with st.form("change_password", clear_on_submit=True):
    old = st.text_input("原密码", type="password", key="old_password")
    new = st.text_input("新密码", type="password", key="new_password")
    again = st.text_input("再次输入新密码", type="password", key="new_password_again")
    if st.form_submit_button("修改密码"):
        if new != again:
            st.error("两次输入的新密码不一致。")
        else:
            with db_session() as session:
                updated = run_action(lambda: change_own_password(session=session, actor=user, old=old,
                                                                 new=new),
                                     success="密码已修改，其他设备上的登录已退出。")
            if updated is not None:
                log_in(updated)  # this session stays logged in under the new password
