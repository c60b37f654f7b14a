"""A real `streamlit run` server is SIGKILLed mid-exam; after a restart on the same SQLite file
the candidate logs in again and finds every autosaved answer and the same server-side deadline."""

from __future__ import annotations

import re
import signal
from datetime import datetime
from pathlib import Path

import pytest
from e2e.browser import login, snapper
from e2e.conftest import browser_page  # noqa: F401 - the shared headless Chromium fixture
from e2e.server import bootstrap_demo, start_server
from exam_world import knowledge, publish
from sqlmodel import Session, create_engine, select

from training.models import Answer, Attempt, Role, User, utcnow

pytestmark = pytest.mark.e2e

REPLY = "亲，16点前付款当天就能发货哦，默认中通快递，偏远地区3-5天送达"


def _prepare(db_file: Path) -> str:
    """A trainer has published a two-question paper; returns the right option's text."""
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        publish(session, trainer, "断电续考", scenario=True, objective=1)
        item = knowledge(session, 1)[0]
        option = next(o for o in item.options or [] if o.startswith(item.answer))
    engine.dispose()
    return option


def _stored(db_file: Path) -> tuple[Attempt, dict[int, tuple[str, str]]]:
    """The only attempt and its answers, read straight from the database file."""
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine, expire_on_commit=False) as session:
        attempt = session.exec(select(Attempt)).one()
        answers = {a.item_id: (a.text, a.choice)
                   for a in session.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()}
    engine.dispose()
    return attempt, answers


def _seconds_shown(page) -> int:  # type: ignore[no-untyped-def]
    shown = page.get_by_text(re.compile(r"^\d{2}:\d{2}$")).first.inner_text()
    minutes, seconds = shown.split(":")
    return int(minutes) * 60 + int(seconds)


def test_sigkill_mid_exam_then_resume(browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    db_file = tmp_path / "crash.db"
    bootstrap_demo(db_file)
    option = _prepare(db_file)
    page = browser_page
    snap = snapper(page, tmp_path)
    log = tmp_path / "streamlit.log"

    first = start_server(db_file, log)
    try:
        login(page, first.url, "newhire", "newhire-demo-2026")
        page.get_by_role("link", name="我的考试").click()
        page.get_by_role("button", name="开始考试").click()
        box = page.get_by_role("textbox", name="你的回复")
        box.wait_for()
        box.fill(REPLY)
        page.get_by_text("剩余时间").click()  # leaving the box commits the text: autosave
        page.get_by_text("已自动保存").first.wait_for()
        page.get_by_role("button", name="下一题").click()
        page.get_by_text("第 2 题", exact=True).wait_for()
        page.get_by_text(option, exact=True).click()
        page.get_by_role("button", name="2✓").wait_for()  # the navigator ticks a saved answer
        snap("before-kill")
        before, saved = _stored(db_file)
        wal = Path(f"{db_file}-wal")
        wal_bytes = wal.stat().st_size if wal.exists() else 0
    finally:
        code = first.kill() if first.process.poll() is None else first.process.returncode
    assert code == -signal.SIGKILL
    assert before.status == "in_progress"
    assert sorted(saved.values()) == sorted([(REPLY, ""), ("", option[0])])

    second = start_server(db_file, log)
    try:
        # The Streamlit session died with the server; the login lives in the database and the
        # browser's cookie, so the candidate is still logged in.
        page.goto(second.url, wait_until="networkidle")
        page.get_by_role("link", name="我的考试").wait_for()
        assert page.get_by_label("用户名").count() == 0
        page.get_by_role("link", name="我的考试").click()
        page.get_by_text("作答中").first.wait_for()
        page.get_by_role("button", name="继续作答").click()
        box = page.get_by_role("textbox", name="你的回复")
        box.wait_for()
        assert box.input_value() == REPLY
        page.get_by_role("button", name="2✓").wait_for()
        left = _seconds_shown(page)
        expected = (before.deadline_at - utcnow()).total_seconds()
        snap("resumed")
        after, resumed = _stored(db_file)
        assert resumed == saved
        assert (after.id, after.deadline_at, after.started_at, after.status) == (
            before.id, before.deadline_at, before.started_at, "in_progress")
        assert abs(left - expected) <= 5, (left, expected)  # the countdown runs on the stored deadline

        page.get_by_role("button", name="2✓").click()
        page.get_by_text("第 2 题", exact=True).wait_for()
        page.get_by_text("确认交卷").click()
        page.get_by_role("button", name="交卷", exact=True).click()
        page.get_by_text("试卷已提交").first.wait_for()
        snap("submitted")
        final, kept = _stored(db_file)
    finally:
        second.stop()
    assert final.status == "submitted" and kept == saved and isinstance(final.submitted_at, datetime)
    print(f"\nautosaved before SIGKILL: {len(saved)} answers (WAL {wal_bytes} bytes, not checkpointed); "
          f"after restart: {len(resumed)} present, deadline {before.deadline_at:%H:%M:%S} unchanged, "
          f"countdown {left}s vs {expected:.0f}s from the stored deadline; then submitted")
