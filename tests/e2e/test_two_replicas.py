"""Two real `streamlit run` replicas and one `huashu worker` on one PostgreSQL behave as one system.

A trainer on replica A approves a script and starts releasing a paper's results (a job); an agent
on replica B finds the script by paraphrase; a trainer on replica B sees the release's progress.
The worker is SIGKILLed while the job runs and started again: the job is taken over after its
lease and completes exactly once (one release in the audit log, every attempt released once).

Runs in the PostgreSQL lane of CI (`HUASHU_TEST_DATABASE_URL`, `-m db`); skipped on SQLite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from e2e.browser import Flow, login
from e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from training.core.db import make_engine
from training.models import Attempt, AuditLog, ExamAssignment, Job, Role, User

pytestmark = [pytest.mark.e2e, pytest.mark.db]

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("HUASHU_TEST_DATABASE_URL")
QUESTION = "洗碗机可以嵌入橱柜安装吗"
SCRIPT = "亲，这款洗碗机支持嵌入式安装，橱柜开孔宽 60 厘米、深 58 厘米即可，安装师傅上门免费装哦"
PARAPHRASE = "洗碗机能不能装进柜子里"
CANDIDATES = 3


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "HUASHU_DATABASE_URL": url, "HUASHU_ADMIN_PASSWORD": "admin-e2e-password",
            "HUASHU_JOB_WORKER": "external", "HUASHU_JOB_LEASE_SECONDS": "4"}


_logs: list[Any] = []


def _serve(url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    out = log.open("w")
    _logs.append(out)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1"], cwd=ROOT, env=_env(url), stdout=out, stderr=out)
    address = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            urllib.request.urlopen(address + "_stcore/health", timeout=2)  # noqa: S310 - loopback
            return process, address
        except OSError:
            time.sleep(0.5)
    process.kill()
    process.wait(10)
    while _logs:
        _logs.pop().close()
    pytest.fail("streamlit did not start: " + log.read_text())


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("a")
    _logs.append(out)
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "huashu"), "worker", "--poll", "0.5"], cwd=ROOT,
                            env=_env(url), stdout=out, stderr=out)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The CI PostgreSQL, reset and seeded with the demo and a paper sat by three candidates."""
    if not PG_URL:
        pytest.skip("two replicas share a PostgreSQL server: runs in the PostgreSQL lane")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    subprocess.run([sys.executable, "-m", "training.ops.bootstrap", "--demo"], cwd=ROOT, env=_env(PG_URL),
                   check=True, capture_output=True)
    from exam_world import more_candidates, publish, sit

    with Session(engine, expire_on_commit=False) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        admin = session.exec(select(User).where(User.role == Role.ADMIN.value).order_by(col(User.id))).first()
        assert admin is not None
        paper_id = publish(session, trainer, "售后情景考", scenario=True, objective=1)
        for person in more_candidates(session, admin, CANDIDATES):
            sit(session, person, paper_id, reply="亲，16点前付款当天发货，默认中通快递哦")
    yield {"engine": engine, "paper_id": paper_id}
    engine.dispose()


def _job(engine: Any) -> Job | None:
    with Session(engine) as session:
        return session.exec(select(Job).where(Job.kind == "release").order_by(col(Job.id).desc())).first()


def test_two_replicas_and_a_worker_killed_mid_job(world: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert PG_URL is not None
    engine, paper_id = world["engine"], world["paper_id"]
    replica_a, url_a = _serve(PG_URL, tmp_path / "replica-a.log")
    replica_b, url_b = _serve(PG_URL, tmp_path / "replica-b.log")
    worker = _worker(PG_URL, tmp_path / "worker.log")
    processes = [replica_a, replica_b, worker]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            pages = {}
            for who in ("trainer_a", "agent_b", "trainer_b"):
                pages[who] = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                pages[who].set_default_timeout(90_000)
            (tmp_path / "a").mkdir()
            (tmp_path / "b").mkdir()
            flow_a, flow_b = Flow(pages["trainer_a"], tmp_path / "a"), Flow(pages["agent_b"], tmp_path / "b")
            page = pages["trainer_a"]

            with flow_a.step("话术库（副本 A）", "approved"):
                login(page, url_a, "trainer", "trainer-demo-2026")
                page.get_by_text("你好，").first.wait_for()
                page.get_by_role("link", name="话术库").click()
                page.get_by_role("tab", name="新增与导入导出").click()
                page.get_by_label("顾客问题").fill(QUESTION)
                page.get_by_label("最佳话术（可用占位符 {客户称呼} {订单号} 等）").fill(SCRIPT)
                page.get_by_role("button", name="保存并审定").click()
                page.get_by_text(f"已加入话术库：「{QUESTION}」").wait_for()

            with flow_a.step("考试与认证（副本 A）", "release-started"):
                page.get_by_role("link", name="考试与认证").click()
                page.get_by_role("button", name="发布成绩").click()
                page.get_by_role("button", name=f"确认发布 {CANDIDATES} 份成绩").click()
                page.get_by_text("发布成绩：").first.wait_for()

            # The worker has the job: kill it while it runs (loading the encoder, or scoring).
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                job = _job(engine)
                if job is not None and job.status == "running":
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the worker never started the job: " + (tmp_path / "worker.log").read_text())
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
            job = _job(engine)
            assert job is not None and job.status == "running" and job.attempt == 1, "killed mid-job"

            with flow_b.step("话术查询（副本 B）", "found"):
                agent = pages["agent_b"]
                login(agent, url_b, "agent", "agent-demo-2026")
                agent.get_by_text("你好，李客服").wait_for()
                agent.get_by_role("link", name="话术查询").click()
                query = agent.get_by_label("顾客说了什么？")
                query.fill(PARAPHRASE)
                query.press("Enter")
                agent.get_by_test_id("stCode").filter(has_text="嵌入式安装").first.wait_for(timeout=240_000)
                assert agent.get_by_test_id("stCode").first.inner_text().strip() == SCRIPT

            watcher = pages["trainer_b"]
            with flow_b.step("考试与认证（副本 B）", "progress"):
                login(watcher, url_b, "trainer", "trainer-demo-2026")
                watcher.get_by_text("你好，").first.wait_for()
                watcher.get_by_role("link", name="考试与认证").click()
                watcher.get_by_text("发布成绩：").first.wait_for()  # the job A started, shown on B

            worker = _worker(PG_URL, tmp_path / "worker.log")
            processes.append(worker)
            with flow_b.step("考试与认证（副本 B）", "released"):
                watcher.get_by_text(f"已发布 {CANDIDATES} 份成绩。").wait_for(timeout=300_000)
            browser.close()
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        while _logs:
            _logs.pop().close()

    job = _job(engine)
    log = (tmp_path / "worker.log").read_text()
    assert job is not None and (job.status, job.attempt) == ("done", 2), (job, log)
    assert job.result == {"released": CANDIDATES, "paper_id": paper_id}
    with Session(engine) as session:
        releases = session.exec(select(AuditLog).where(AuditLog.action == "results.release",
                                                       AuditLog.target == str(paper_id))).all()
        released = session.exec(select(Attempt).join(ExamAssignment).where(
            ExamAssignment.paper_id == paper_id, col(Attempt.released_at).is_not(None))).all()
    assert len(releases) == 1, "the results were released once"
    assert len(released) == CANDIDATES and len({a.released_at for a in released}) == 1
