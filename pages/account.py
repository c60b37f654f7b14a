"""My account: change password (every other session of the account is logged out)."""

import streamlit as st

from pages.ui.actions import act, forget, note, show
from pages.ui.common import current_user, db_session, log_in
from training.auth.accounts import change_own_password
from training.models import User

FIELDS = ("old_password", "new_password", "new_password_again")


def _change() -> None:
    old, new, again = (st.session_state.get(k, "") for k in FIELDS)
    if new != again:
        note("account", "两次输入的新密码不一致。", "error")
        return

    def run(actor: User) -> User:
        with db_session() as session:
            return change_own_password(session=session, actor=actor, old=old, new=new)

    updated = act("account", run, success="密码已修改，其他设备上的登录已退出。")
    if updated is not None:
        forget(*FIELDS, to=dict.fromkeys(FIELDS, ""))  # cleared only once it is changed
        log_in(updated)  # this session stays logged in under the new password


user = current_user()
st.title("我的账号")
st.caption("密码至少 8 位，包含字母、数字、符号中的至少两类，不能与用户名相同或过于常见。"
           "修改后，其他设备上的登录会自动退出。")
with st.form("change_password"):
    st.text_input("原密码", type="password", key="old_password")
    st.text_input("新密码", type="password", key="new_password")
    st.text_input("再次输入新密码", type="password", key="new_password_again")
    st.form_submit_button("修改密码", on_click=_change)
    show("account")
