"""Steps every browser flow repeats: logging in, numbered screenshots and steps that name what failed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

# Playwright's call log names the locator it waited for: `waiting for get_by_role("button", name="批准")`.
_WAITED = re.compile(r"waiting for (?P<target>(?:get_by_|locator\().+)")
_CALL = re.compile(r'(?P<kind>get_by_\w+|locator|filter)\((?P<args>(?:[^()"]|"(?:[^"\\]|\\.)*")*)\)')
_ARG = re.compile(r'(?:(?P<key>\w+)=)?"(?P<value>(?:[^"\\]|\\.)*)"')
ROLE_NAMES = {"button": "按钮", "link": "菜单项", "textbox": "输入框", "spinbutton": "数字框",
              "heading": "标题", "checkbox": "复选框", "combobox": "下拉框", "tab": "标签页"}
KIND_NAMES = {"get_by_text": "文字", "get_by_label": "输入框", "get_by_placeholder": "输入框",
              "get_by_title": "元素", "get_by_test_id": "元素", "locator": "元素"}


def login(page: Any, server: str, username: str, password: str) -> None:
    """Open the app and log in through the form."""
    page.goto(server, wait_until="networkidle")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def logout(page: Any) -> None:
    """Log out through the sidebar button and wait for the login form."""
    page.get_by_role("button", name="退出登录").click()
    page.get_by_label("用户名").wait_for()


def snapper(page: Any, folder: Path) -> Callable[[str], None]:
    """A function that saves full-page screenshots as 01-name.png, 02-name.png, … in ``folder``."""
    count = 0

    def snap(name: str) -> None:
        nonlocal count
        count += 1
        page.screenshot(path=str(folder / f"{count:02d}-{name}.png"), full_page=True)

    return snap


def describe_failure(message: str) -> str:
    """The element a Playwright error was about, in Chinese (``找不到按钮「批准」``)."""
    waited = _WAITED.findall(message)
    if not waited:
        first = message.strip().splitlines()[0] if message.strip() else "未知错误"
        return f"浏览器操作失败：{first}"
    target = waited[-1].strip()
    element = ""
    for call in _CALL.finditer(target):  # the last get_by_… in a chain is the most specific
        kind = call["kind"]
        args = {m["key"] or "": m["value"].replace('\\"', '"') for m in _ARG.finditer(call["args"])}
        if kind == "get_by_role":
            element = f"{ROLE_NAMES.get(args.get('', ''), args.get('', ''))}「{args.get('name', '')}」"
        elif kind.startswith("get_by_") and "" in args:
            element = f"{KIND_NAMES.get(kind, '元素')}「{args['']}」"
        elif kind == "filter" and "has_text" in args:
            element = f"含「{args['has_text']}」的元素"
    element = element or f"元素 {target}"
    if "not enabled" in message:
        return f"{element}不可用"
    return f"找不到{element}"


class Flow:
    """A browser flow in numbered steps: a screenshot after each, a named failure in any."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.snap = snapper(page, folder)
        self.number = 0

    @contextmanager
    def step(self, page_name: str, shot: str) -> Iterator[None]:
        """Run one step on ``page_name``; save ``shot`` after it, or re-raise its failure as an assertion.

        Args:
            page_name: the page (menu title) the step works on, quoted in failures.
            shot: the screenshot's name, e.g. ``imported`` for ``03-imported.png``.
        """
        self.number += 1
        prefix = f"第 {self.number} 步（{page_name}）："
        try:
            yield
        except PlaywrightError as exc:
            self._failure_shot(shot)
            raise AssertionError(prefix + describe_failure(str(exc))) from exc
        except AssertionError as exc:
            self._failure_shot(shot)
            raise AssertionError(prefix + str(exc)) from exc
        self.snap(shot)

    def _failure_shot(self, shot: str) -> None:
        try:
            self.snap(f"{shot}-failed")
        except PlaywrightError:
            pass  # the page is gone: the failure message matters more than the picture


def pick_in_multiselect(page: Any, label: str, option: str, *, attempts: int = 5) -> None:
    """Choose ``option`` in the multiselect labelled ``label``, retrying while the page reruns."""
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text=label)
    for _ in range(attempts):
        page.wait_for_timeout(1500)
        try:
            box.locator("input").fill(option, timeout=10_000)
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            box.get_by_text(option).wait_for(timeout=5_000)
            return
        except PlaywrightError:
            continue
    box.get_by_text(option).wait_for(timeout=1_000)  # fails, naming the chip that never appeared


def fill_number(page: Any, label: str, value: int) -> None:
    """Type ``value`` into the number input labelled ``label`` and commit it with Enter."""
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(700)  # the rerun that stores the value
