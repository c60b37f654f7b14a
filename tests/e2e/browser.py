"""Steps every browser flow repeats: logging in and numbered screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def login(page: Any, server: str, username: str, password: str) -> None:
    """Open the app and log in through the form."""
    page.goto(server, wait_until="networkidle")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def snapper(page: Any, folder: Path) -> Callable[[str], None]:
    """A function that saves full-page screenshots as 01-name.png, 02-name.png, … in ``folder``."""
    count = 0

    def snap(name: str) -> None:
        nonlocal count
        count += 1
        page.screenshot(path=str(folder / f"{count:02d}-{name}.png"), full_page=True)

    return snap
