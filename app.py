"""Huashu (话术) Streamlit entry point: login, then a menu built from the user's role."""

from __future__ import annotations

import streamlit as st

from pages import login
from pages.common import current_user, db_session, log_out, role_label
from pages.exam_view import md_escape
from training.certification import duty_status
from training.models import Role, User

st.set_page_config(page_title="话术 Huashu", page_icon=":material/forum:", layout="wide")

# URL paths differ from the file names on purpose: Streamlit's legacy pages/ discovery would
# otherwise run a page file directly, skipping this script. The login page shares the home
# page's URL, so logging in lands on the home page.
LOGIN = st.Page(login.render, title="登录", icon=":material/login:", url_path="main")
HOME = st.Page("pages/home.py", title="首页", icon=":material/home:", url_path="main", default=True)
LOOKUP = st.Page("pages/script_lookup.py", title="话术查询", icon=":material/search:", url_path="lookup")
BANK = st.Page("pages/script_bank.py", title="话术库", icon=":material/menu_book:", url_path="bank")
SCRIPT_STATS = st.Page("pages/script_analytics.py", title="话术分析", icon=":material/insights:",
                       url_path="script-analytics")
USERS = st.Page("pages/admin_users.py", title="用户管理", icon=":material/group:", url_path="users")
COHORTS = st.Page("pages/admin_cohorts.py", title="班组管理", icon=":material/groups:", url_path="cohorts")
IMPORTS = st.Page("pages/chat_import.py", title="聊天记录导入", icon=":material/upload_file:",
                  url_path="imports")
QUESTIONS = st.Page("pages/question_bank.py", title="问题库", icon=":material/quiz:",
                    url_path="questions")
KNOWLEDGE = st.Page("pages/knowledge_items.py", title="知识题库", icon=":material/school:",
                    url_path="knowledge")
PAPERS = st.Page("pages/paper_builder.py", title="组卷", icon=":material/assignment:",
                 url_path="papers")
MY_EXAMS = st.Page("pages/my_exams.py", title="我的考试", icon=":material/edit_note:", url_path="exams")
# A new hire without the certificates required for duty lands on their exams (the on-duty gate).
GATE = st.Page("pages/my_exams.py", title="上岗考试", icon=":material/lock:", url_path="main", default=True)
MISTAKES = st.Page("pages/mistakes.py", title="错题本", icon=":material/replay:", url_path="mistakes")
RESULTS = st.Page("pages/exam_results.py", title="考试与认证", icon=":material/workspace_premium:",
                  url_path="results")
REVIEW = st.Page("pages/answer_review.py", title="逐题评阅", icon=":material/rate_review:", url_path="review")
ACCOUNT = st.Page("pages/account.py", title="我的账号", icon=":material/settings:", url_path="me")
MODELS = st.Page("pages/model_admin.py", title="模型训练与切换", icon=":material/model_training:",
                 url_path="models")
AUDIT = st.Page("pages/audit_log.py", title="审计日志", icon=":material/policy:", url_path="audit")
DASHBOARD = st.Page("pages/team_dashboard.py", title="训练看板", icon=":material/monitoring:",
                    url_path="dashboard")
PROGRESS = st.Page("pages/my_progress.py", title="学习进度", icon=":material/trending_up:",
                   url_path="progress")

MENUS: dict[Role, dict[str, list[st.Page]]] = {
    Role.ADMIN: {"": [HOME], "培训": [IMPORTS, QUESTIONS, KNOWLEDGE, PAPERS, REVIEW, RESULTS, DASHBOARD],
                 "话术": [BANK, LOOKUP, SCRIPT_STATS], "管理": [USERS, COHORTS, MODELS, AUDIT],
                 "账号": [ACCOUNT]},
    Role.TRAINER: {"": [HOME], "培训": [IMPORTS, QUESTIONS, KNOWLEDGE, PAPERS, REVIEW, RESULTS, DASHBOARD],
                   "话术": [BANK, LOOKUP, SCRIPT_STATS], "管理": [MODELS], "账号": [ACCOUNT]},
    Role.AGENT: {"": [HOME], "考试": [MY_EXAMS, MISTAKES, PROGRESS], "话术": [LOOKUP], "账号": [ACCOUNT]},
    Role.NEW_HIRE: {"": [HOME], "考试": [MY_EXAMS, MISTAKES, PROGRESS], "话术": [LOOKUP], "账号": [ACCOUNT]},
}
GATED_MENU: dict[str, list[st.Page]] = {"": [GATE], "考试": [MISTAKES, PROGRESS], "话术": [LOOKUP],
                                        "账号": [ACCOUNT]}


def menu(user: User) -> dict[str, list[st.Page]]:
    """The user's menu; new hires not yet cleared for duty see their exams first."""
    if user.role == Role.NEW_HIRE.value:
        with db_session() as session:
            if not duty_status(session=session, actor=user).on_duty:
                return GATED_MENU
    return MENUS[Role(user.role)]


user = current_user()
if user is None:
    navigation = st.navigation([LOGIN], position="hidden")
else:
    with st.sidebar:
        st.caption(f"{md_escape(user.display_name)}（{role_label(user.role)}）")
        if st.button("退出登录", key="logout"):
            log_out()
            st.switch_page(HOME)
    navigation = st.navigation(menu(user))
navigation.run()
