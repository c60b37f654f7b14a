"""In a real browser: a login that survives refreshes, deep links and new tabs, logout that reaches
every tab, a Chinese page for unknown addresses, no developer chrome and no request off the machine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from e2e.browser import snapper
from e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

TRAINER = ("trainer", "trainer-demo-2026")


@pytest.fixture
def browser_context():  # type: ignore[no-untyped-def]
    """A headless Chromium context (one cookie jar shared by its tabs)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(60_000)
        yield context
        browser.close()


def _fill_login(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def _heading(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("heading", name=title).first.wait_for()


def test_login_survives_refresh_deep_links_and_new_tabs(server: str, browser_context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_context.new_page()
    snap = snapper(page, tmp_path)
    page.goto(server + "lookup", wait_until="networkidle")  # a bookmark, not logged in yet
    page.get_by_label("用户名").wait_for()
    assert page.get_by_text("Page not found").count() == 0
    _fill_login(page, *TRAINER)
    _heading(page, "话术查询")  # lands on the page asked for, not on 首页
    assert urlsplit(page.url).path == "/lookup"
    snap("deep-link")

    cookie = next(c for c in browser_context.cookies() if c["name"] == "huashu_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "huashu_session" not in page.evaluate("document.cookie")  # page scripts cannot read it
    assert cookie["value"] not in page.url

    page.reload(wait_until="networkidle")
    _heading(page, "话术查询")
    assert page.get_by_label("用户名").count() == 0
    snap("refreshed")

    other = browser_context.new_page()  # a new tab on another page
    other.goto(server + "papers", wait_until="networkidle")
    _heading(other, "组卷")
    assert other.get_by_label("用户名").count() == 0

    other.goto(server + "no-such-page", wait_until="networkidle")
    other.get_by_text("页面不存在").first.wait_for()
    assert other.get_by_text("Page not found").count() == 0
    other.get_by_role("link", name="返回首页").click()
    other.get_by_text("你好，").first.wait_for()
    snap("not-found")


def test_logout_in_one_tab_ends_the_other(server: str, browser_context) -> None:  # type: ignore[no-untyped-def]
    first = browser_context.new_page()
    first.goto(server, wait_until="networkidle")
    _fill_login(first, *TRAINER)
    first.get_by_text("你好，").first.wait_for()
    second = browser_context.new_page()
    second.goto(server + "bank", wait_until="networkidle")
    _heading(second, "话术库")

    first.get_by_role("button", name="退出登录").click()
    first.get_by_label("用户名").wait_for()
    # The open tab is logged out at its next action, a refreshed one at once.
    second.get_by_role("link", name="话术查询").click()
    second.get_by_label("用户名").wait_for()
    second.reload(wait_until="networkidle")
    second.get_by_label("用户名").wait_for()
    assert not any(c["name"] == "huashu_session" for c in browser_context.cookies())


def test_no_developer_chrome_and_no_request_off_the_machine(  # type: ignore[no-untyped-def]
        server: str, browser_context, tmp_path: Path) -> None:
    page = browser_context.new_page()
    snap = snapper(page, tmp_path)
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(server, wait_until="networkidle")
    _fill_login(page, *TRAINER)
    page.get_by_text("你好，").first.wait_for()
    # Every entry of the trainer's menu is listed (no "View more"), and each page opens.
    for title in ["聊天记录导入", "问题库", "知识题库", "组卷", "逐题评阅", "考试与认证", "训练看板",
                  "话术库", "话术查询", "话术分析", "模型训练与切换", "我的账号"]:
        page.get_by_role("link", name=title).click()
        _heading(page, title)
        page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="话术查询").click()
    box = page.get_by_role("textbox").first
    box.fill("什么时候发货")
    box.press("Enter")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(2000)
    snap("lookup")

    body = page.inner_text("body")
    for english in ("Deploy", "View more", "View less", "Clear cache", "Rerun"):
        assert english not in body, english
    menu = page.get_by_test_id("stMainMenu")
    if menu.count():
        menu.first.click()
        page.wait_for_timeout(500)
        snap("menu")
        menu_text = page.inner_text("body")
        assert "Clear cache" not in menu_text and "Deploy" not in menu_text
        page.keyboard.press("Escape")

    host = urlsplit(server).netloc
    off_machine = sorted({url for url in requests if urlsplit(url).netloc not in (host, "")
                          and not url.startswith(("data:", "blob:"))})
    assert not off_machine, off_machine
    assert not [url for url in failed if urlsplit(url).netloc != host], failed
