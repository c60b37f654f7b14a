"""My account: change password."""

import streamlit as st

from pages.common import current_user, db_session, run_action
from training.accounts import change_own_password

user = current_user()
st.title("我的账号")
with st.form("change_password", clear_on_submit=True):
    old = st.text_input("原密码", type="password", key="old_password")
    new = st.text_input("新密码（至少 8 位）", type="password", key="new_password")
    again = st.text_input("再次输入新密码", type="password", key="new_password_again")
    if st.form_submit_button("修改密码"):
        if new != again:
            st.error("两次输入的新密码不一致。")
        else:
            with db_session() as session:
                run_action(lambda: change_own_password(session=session, actor=user, old=old,
                                                       new=new),
                           success="密码已修改。")
