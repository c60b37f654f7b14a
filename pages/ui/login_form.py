"""Login page (a function page: app.py shows it to anyone not logged in)."""

import streamlit as st

from pages.ui.common import NOTICE_KEY, db_session, log_in
from training.auth.accounts import AccountError, authenticate


def render() -> None:
    """Draw the login form and log the user in."""
    st.title("话术 Huashu · 客服培训与话术优化平台")
    st.caption("请使用管理员分配的账号登录。")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.warning(notice)
    with st.form("login"):
        username = st.text_input("用户名", key="login_username")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary")
    if not submitted:
        return
    if not username.strip() or not password:
        st.error("请输入用户名和密码。")
        return
    try:
        with db_session() as session:
            user = authenticate(session=session, username=username, password=password)
    except AccountError as exc:
        st.error(str(exc))
        return
    log_in(user)
    st.rerun()
