"""Starting, killing and restarting a real `streamlit run` server on a given SQLite file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-e2e-password"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(db_file: Path) -> dict[str, str]:
    """The environment that points the app (and its bootstrap) at ``db_file``."""
    return {**os.environ, "HUASHU_DATABASE_URL": f"sqlite:///{db_file}",
            "HUASHU_ADMIN_PASSWORD": ADMIN_PASSWORD, "HUASHU_JOB_WORKER": "app"}


def bootstrap_demo(db_file: Path) -> None:
    """Migrate ``db_file`` and seed the demo people, as the deployment's start-up does."""
    subprocess.run([sys.executable, "-m", "training.ops.bootstrap", "--demo"], cwd=ROOT,
                   env=app_env(db_file), check=True, capture_output=True)


@dataclass
class Server:
    """A running `streamlit run app.py` process and the URL it serves."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    log: IO[str]

    def kill(self) -> int:
        """SIGKILL: no shutdown hooks, no flush; returns the exit status (-9)."""
        self.process.kill()
        code = self.process.wait(30)
        self.log.close()
        return code

    def stop(self) -> None:
        """Terminate politely (SIGTERM), as the fixtures do when a test ends."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.log.close()


def start_server(db_file: Path, log_path: Path, *, timeout: float = 60.0) -> Server:
    """Serve the app on ``db_file`` on a free port; wait until its health check answers."""
    port = free_port()
    log = log_path.open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1"],  # the rest from .streamlit/config.toml
        cwd=ROOT, env=app_env(db_file), stdout=log, stderr=log)
    server = Server(process, f"http://127.0.0.1:{port}/", log_path, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(server.url + "_stcore/health", timeout=2)  # noqa: S310 - loopback
            return server
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    server.stop()
    raise RuntimeError("streamlit did not start: " + log_path.read_text())
