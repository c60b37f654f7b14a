"""The durable job queue: submit, claim, progress, failure, take-over after a dead worker, exactly once.

On SQLite and PostgreSQL (``-m db``). A worker that dies mid-job is a real process killed with
SIGKILL: its job is claimed again after the lease and completes once; the dead attempt's late
writes change nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from exam_world import Demo, demo_people
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from training.auth.permissions import PermissionDenied
from training.core.config import get_settings
from training.core.errors import UserError
from training.models import Job
from training.ops import jobs, worker

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    monkeypatch.setenv("HUASHU_JOB_LEASE_SECONDS", "1")
    get_settings.cache_clear()
    yield 1.0
    get_settings.cache_clear()


def _echo(context: jobs.Context) -> dict[str, object]:
    context.progress(0.5, "一半")
    if context.params.get("fail") == "user":
        raise UserError("参数不对")
    if context.params.get("fail") == "bug":
        raise RuntimeError("boom")
    return {"echo": context.params.get("value"), "attempt": context.attempt}


jobs.register("test_echo", _echo)


def test_submit_refuses_agents_and_a_second_start_of_the_same_work(session: Session, demo: Demo) -> None:
    with pytest.raises(PermissionDenied):
        jobs.submit(session=session, actor=demo.agent, kind="test_echo")
    first = jobs.submit(session=session, actor=demo.trainer, kind="test_echo", key="a", params={"value": 1})
    assert (first.status, first.created_by) == (jobs.QUEUED, demo.trainer.id)
    with pytest.raises(jobs.JobBusy):
        jobs.submit(session=session, actor=demo.trainer, kind="test_echo", key="a")
    other = jobs.submit(session=session, actor=demo.trainer, kind="test_echo", key="b")
    assert other.id != first.id
    assert jobs.latest_open(session=session, kind="test_echo", key="a") == first


LISTED: list[dict[str, object]] = [{"value": 7}, {"fail": "user"}, {"fail": "bug"}]


def test_a_worker_runs_jobs_in_order_and_records_results_and_failures(
        session: Session, engine: Engine, demo: Demo) -> None:
    ids = [jobs.submit(session=session, actor=demo.trainer, kind="test_echo", key=str(i), params=params).id
           for i, params in enumerate(LISTED)]
    assert worker.work(engine, stop=threading.Event(), once=True) == 3
    done, refused, broken = (jobs.get(session=session, job_id=i) for i in ids)
    assert done is not None and done.succeeded and done.result == {"echo": 7, "attempt": 1}
    assert done.fraction == 1.0 and done.finished_at is not None
    assert refused is not None and (refused.status, refused.error) == (jobs.FAILED, "参数不对")
    assert broken is not None and broken.status == jobs.FAILED
    assert broken.error == "内部错误：RuntimeError: boom"
    assert worker.work(engine, stop=threading.Event(), once=True) == 0  # nothing left


def test_two_workers_never_claim_the_same_job(session: Session, engine: Engine, demo: Demo) -> None:
    for i in range(6):
        jobs.submit(session=session, actor=demo.trainer, kind="test_echo", key=str(i))
    claims: list[worker.Claim] = []
    lock = threading.Lock()

    def take(name: str) -> None:
        while (claimed := worker.claim(engine, name)) is not None:
            with lock:
                claims.append(claimed)

    workers = [threading.Thread(target=take, args=(f"w{n}",)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(c.job_id for c in claims) == sorted({c.job_id for c in claims})
    assert len(claims) == 6


def test_a_dead_workers_job_is_taken_over_after_the_lease_and_ends_once(
        session: Session, engine: Engine, demo: Demo, short_lease: float) -> None:
    view = jobs.submit(session=session, actor=demo.trainer, kind="test_echo", params={"value": "x"})
    dead = worker.claim(engine, "dead-worker")  # claimed, then its process "died": no heartbeat
    assert dead is not None and dead.attempt == 1
    assert worker.claim(engine, "other") is None, "a fresh claim is not taken over"
    time.sleep(short_lease + 0.5)
    again = worker.claim(engine, "other")
    assert again is not None and (again.job_id, again.attempt) == (view.id, 2)
    worker.run_claimed(engine, again)
    # the dead attempt wakes up and tries to end the job: nothing changes
    assert not worker._write(engine, dead, status=jobs.DONE, result={"echo": "stale"})
    final = jobs.get(session=session, job_id=view.id)
    assert final is not None and final.result == {"echo": "x", "attempt": 2} and final.attempt == 2


def test_a_job_interrupted_too_often_fails_with_a_reason(
        session: Session, engine: Engine, demo: Demo, short_lease: float) -> None:
    view = jobs.submit(session=session, actor=demo.trainer, kind="test_echo")
    for _ in range(jobs.MAX_ATTEMPTS):
        assert worker.claim(engine, "crashy") is not None
        time.sleep(short_lease + 0.3)
    assert worker.claim(engine, "crashy") is None
    final = jobs.get(session=session, job_id=view.id)
    assert final is not None and final.status == jobs.FAILED and "中断" in (final.error or "")


WORKER = """
import sys, threading, time
from training.core.db import get_engine
from training.ops import jobs, worker

def slow(context):
    for step in range(200):
        context.progress(step / 200, f"第 {step} 步")
        time.sleep(0.05)
    return {"attempt": context.attempt}

jobs.register("test_slow", slow)
if sys.argv[1] == "once":  # until the dead worker's job is taken over and run
    deadline = time.monotonic() + 60
    while worker.work(get_engine(), stop=threading.Event(), once=True) == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
else:
    worker.work(get_engine(), stop=threading.Event(), poll_seconds=0.2)
"""


def test_a_sigkilled_worker_process_loses_nothing_and_the_job_completes_once(
        session: Session, engine: Engine, demo: Demo, short_lease: float, db_url: str) -> None:
    view = jobs.submit(session=session, actor=demo.trainer, kind="test_slow")
    env = {**os.environ, "HUASHU_DATABASE_URL": db_url, "HUASHU_JOB_LEASE_SECONDS": "1"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, "forever"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            session.expire_all()
            job = session.get(Job, view.id)
            if job is not None and job.status == jobs.RUNNING and job.fraction > 0.1:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the worker never got going")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        session.expire_all()
        job = session.get(Job, view.id)
        assert job is not None and job.status == jobs.RUNNING and job.finished_at is None  # not done
    finally:
        if worker.poll() is None:
            worker.kill()
    second = subprocess.run([sys.executable, "-c", WORKER, "once"], cwd=ROOT, env=env, timeout=120)
    assert second.returncode == 0
    session.expire_all()
    final = session.exec(select(Job).where(Job.id == view.id)).one()
    assert (final.status, final.attempt, final.result) == (jobs.DONE, 2, {"attempt": 2})
