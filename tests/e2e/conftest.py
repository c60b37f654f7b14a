"""A real `streamlit run` server on a fresh database, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Bootstrap a demo database in tmp_path and serve the app on a free local port."""
    if os.environ.get("HUASHU_TEST_DATABASE_URL"):
        pytest.skip("browser flows run once, on SQLite")
    env = {**os.environ, "HUASHU_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
           "HUASHU_ADMIN_PASSWORD": "admin-e2e-password", "HUASHU_JOB_WORKER": "app"}
    subprocess.run([sys.executable, "-m", "training.ops.bootstrap", "--demo"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    port = _free_port()
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1"],  # the rest from .streamlit/config.toml, as in production
        cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "_stcore/health", timeout=2)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start: " + (tmp_path / "streamlit.log").read_text())
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.fixture
def browser_page(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A headless Chromium page; screenshots go to the test's tmp dir."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()
