"""The application shell: page list, role menus, login on every address, Chinese not-found page.

Every address the app knows resolves for a visitor who is not logged in too (to the login form),
so a refresh, a bookmark or a deep link logs in and then lands on the page asked for: the login
page registered under ``/lookup`` has the same page id as 话术查询, so the rerun after logging in
runs 话术查询. Unknown addresses get a Chinese page with a way home instead of Streamlit's English
"Page not found" dialog.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st
from PIL import Image, ImageDraw
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.util import calc_hash

from pages.ui import login_form as login
from pages.ui.common import chinese_chrome_css, cookie_script, current_user, db_session, log_out, role_label
from pages.ui.markdown import md_escape
from training.certification.duty import duty_status
from training.core.config import get_settings
from training.models import Role, User

# URL paths differ from the file names on purpose: Streamlit's legacy pages/ discovery would
# otherwise run a page file directly, skipping this script.
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
DRILLS = st.Page("pages/drills.py", title="模拟接待", icon=":material/forum:", url_path="drills")
DRILL_BUILDER = st.Page("pages/drill_builder.py", title="模拟接待管理", icon=":material/record_voice_over:",
                        url_path="drill-builder")
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
    Role.ADMIN: {"": [HOME], "培训": [IMPORTS, QUESTIONS, KNOWLEDGE, PAPERS, DRILL_BUILDER, REVIEW, RESULTS,
                                    DASHBOARD],
                 "话术": [BANK, LOOKUP, SCRIPT_STATS], "管理": [USERS, COHORTS, MODELS, AUDIT],
                 "账号": [ACCOUNT]},
    Role.TRAINER: {"": [HOME], "培训": [IMPORTS, QUESTIONS, KNOWLEDGE, PAPERS, DRILL_BUILDER, REVIEW, RESULTS,
                                      DASHBOARD],
                   "话术": [BANK, LOOKUP, SCRIPT_STATS], "管理": [MODELS], "账号": [ACCOUNT]},
    Role.AGENT: {"": [HOME], "考试": [MY_EXAMS, DRILLS, MISTAKES, PROGRESS], "话术": [LOOKUP],
                 "账号": [ACCOUNT]},
    Role.NEW_HIRE: {"": [HOME], "考试": [MY_EXAMS, DRILLS, MISTAKES, PROGRESS], "话术": [LOOKUP],
                    "账号": [ACCOUNT]},
}
GATED_MENU: dict[str, list[st.Page]] = {"": [GATE], "考试": [DRILLS, MISTAKES, PROGRESS],
                                        "话术": [LOOKUP], "账号": [ACCOUNT]}


def menu(user: User) -> dict[str, list[st.Page]]:
    """The user's menu; new hires not yet cleared for duty see their exams first."""
    if user.role == Role.NEW_HIRE.value:
        with db_session() as session:
            if not duty_status(session=session, actor=user).on_duty:
                return GATED_MENU
    return MENUS[Role(user.role)]



HOME_PATH = "main"


def _path(page: st.Page) -> str:
    """A page's url path; the default page reports "" but is registered (and hashed) as "main"."""
    return page.url_path or HOME_PATH


KNOWN_PATHS: dict[str, str] = {}  # page id (hash of the url path) -> url path, for every page
for _menu in [*MENUS.values(), GATED_MENU]:
    for _pages in _menu.values():
        for _page in _pages:
            KNOWN_PATHS[calc_hash(_path(_page))] = _path(_page)


def requested_path() -> str:
    """The url path this run asks for ("" for the home page), as Streamlit will resolve it."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return ""
    manager = ctx.pages_manager
    if manager.intended_page_script_hash:
        return KNOWN_PATHS.get(manager.intended_page_script_hash, "")
    name = manager.intended_page_name or ""
    return name.strip("/")


def _not_found(home: st.Page, message: str) -> Callable[[], None]:
    def render() -> None:
        st.title(message)
        st.write("您打开的地址在话术里没有对应的页面，或者当前账号不能访问。")
        st.page_link(home, label="返回首页", icon=":material/home:")

    return render


def _extra_page(path: str, available: set[str], home: st.Page, logged_in: bool) -> st.Page | None:
    """A hidden page for an address the navigation would not resolve (else Streamlit's English modal)."""
    if not path or path in available or "/" in path or path == HOME_PATH:
        return None
    if path in KNOWN_PATHS.values():
        message = "没有访问该页面的权限" if logged_in else "页面不存在"
    else:
        message = "页面不存在"
    return st.Page(_not_found(home, message), title=message, icon=":material/help:", url_path=path,
                   visibility="hidden")


def _login_pages() -> list[st.Page]:
    """The login form under every known address, so logging in lands where the user asked to go."""
    pages = [st.Page(login.render, title="登录", icon=":material/login:", url_path=HOME_PATH, default=True)]
    pages += [st.Page(login.render, title="登录", icon=":material/login:", url_path=path)
              for path in sorted(set(KNOWN_PATHS.values()) - {HOME_PATH})]
    return pages


@functools.cache
def app_icon() -> Image.Image:
    """The tab icon, drawn here: a Material icon would be fetched from Google's font servers."""
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((4, 6, 60, 46), radius=12, fill=(22, 119, 255, 255))
    draw.polygon([(16, 44), (30, 44), (14, 58)], fill=(22, 119, 255, 255))
    for x in (18, 32, 46):
        draw.ellipse((x - 4, 22, x + 4, 30), fill=(255, 255, 255, 255))
    return icon


def draw_shell() -> None:
    """Log in or resume the login, draw the role's menu and run the page asked for."""
    st.set_page_config(page_title="话术 Huashu", page_icon=app_icon(), layout="wide")
    st.html(chinese_chrome_css(get_settings().upload_limit_mb))
    user = current_user()
    script = cookie_script()
    if script:
        st.html(script, unsafe_allow_javascript=True)  # server-made random code only
    path = requested_path()
    if user is None:
        pages = _login_pages()
        extra = _extra_page(path, {_path(p) for p in pages}, pages[0], logged_in=False)
        navigation = st.navigation([*pages, *([extra] if extra else [])], position="hidden")
    else:
        with st.sidebar:
            st.caption(f"{md_escape(user.display_name)}（{role_label(user.role)}）")
            if st.button("退出登录", key="logout"):
                log_out()
                st.rerun()
        sections = menu(user)
        available = {_path(p) for pages in sections.values() for p in pages}
        home = next(p for pages in sections.values() for p in pages if _path(p) == HOME_PATH)
        extra = _extra_page(path, available, home, logged_in=True)
        if extra is not None:
            sections = {**sections, "": [*sections.get("", []), extra]}
        navigation = st.navigation(sections, expanded=True)
    navigation.run()
