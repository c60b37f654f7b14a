"""AppTest of 模拟接待管理 (trainer builds and assigns a drill) and 模拟接待 (a new hire completes it,
reloading in the middle; the transcript shows every turn scored with its response time)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest
from test_drills import DEMO_LOG, RICE_COOKER, PromptHashingEncoder

import pages.ui.common
from training.chats.importer import import_chat_log
from training.core.db import get_engine
from training.drills import runs
from training.models import ChatMessage, Cohort, Drill, DrillAssignment, DrillRun, DrillTurn, Role, User
from training.nlp.embeddings import Embedder
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")
REPLIES = ["亲，是IH电磁加热的哦，受热更均匀", "内胆是食品级不粘涂层，安全的亲",
           "可以煮粥，有防溢设计不会溢出", "16点前付款当天发货哦"]


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Demo store and chat log; pauses of 0 s and a stand-in encoder, so the page runs fast."""
    monkeypatch.setattr(runs, "DEFAULT_PAUSE", 0.0)
    fake = Embedder(PromptHashingEncoder())
    monkeypatch.setattr(pages.ui.common, "embedder", lambda: fake)
    with Session(get_engine()) as session:
        seed_demo(session=session)
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
        import_chat_log(session=session, actor=trainer, raw=DEMO_LOG.read_bytes(), file_name="chatlog.tsv")
        newhire = session.exec(select(User).where(User.role == Role.NEW_HIRE.value)).one()
        cohort = session.exec(select(Cohort)).one()
        return {"trainer": trainer.id or 0, "newhire": newhire.id or 0, "cohort": cohort.id or 0}


def _app(user_id: int, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = user_id
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _build(world: dict[str, int]) -> None:
    at = _app(world["trainer"], "pages/drill_builder.py")
    with Session(get_engine()) as session:
        key = session.exec(select(ChatMessage.session_key).where(
            col(ChatMessage.session_key).startswith(RICE_COOKER))).first()
    at.selectbox(key="dbld_session").set_value(f"1|{key}").run()
    assert not at.exception
    assert any("电饭煲是IH的吗" in m.value for m in at.markdown)
    at.text_input(key=f"dbld_title_1_{key}").set_value("电饭煲咨询").run()
    at.button(key="dbld_save_btn").click().run()
    assert any("已保存「电饭煲咨询」（4 轮）" in s.value for s in at.success), [e.value for e in at.error]
    at.multiselect(key="dbld_cohorts").set_value([world["cohort"]]).run()
    at.button(key="dbld_assign").click().run()
    assert any("已分配给所选班组" in s.value for s in at.success)
    with Session(get_engine()) as session:
        assert session.exec(select(DrillAssignment)).one().cohort_id == world["cohort"]


def test_trainer_builds_and_assigns_new_hire_completes_with_reload(world: dict[str, int]) -> None:
    _build(world)
    at = _app(world["newhire"], "pages/drills.py")
    with Session(get_engine()) as session:
        drill = session.exec(select(Drill)).one()
    at.button(key=f"drill_start_{drill.id}_1").click().run()
    assert not at.exception
    for i, reply in enumerate(REPLIES):
        with Session(get_engine()) as session:
            run = session.exec(select(DrillRun)).one()
            assert run.current_index == i
        box = f"drill_reply_{run.id}_{i}"
        at.text_area(key=box).set_value(reply).run()  # typed, not sent yet: autosaved
        if i == 2:  # reload: a new browser session resumes the same turn with the typed reply
            at = _app(world["newhire"], "pages/drills.py")
            assert len(at.chat_message) == 5  # three customer messages and two replies
            assert at.text_area(key=box).value == reply
        at.button(key="drill_send_btn").click().run()
        assert not at.exception, at.exception
    with Session(get_engine()) as session:
        run = session.exec(select(DrillRun)).one()
        turns = session.exec(select(DrillTurn).where(DrillTurn.run_id == run.id)).all()
    assert run.finished_at is not None and len(turns) == 4
    assert all(t.score is not None and t.response_seconds is not None for t in turns)
    text = " ".join(m.value for m in at.markdown)
    assert text.count("回复用时") == 4 and "真实客服回复" in text
    assert all(reply in text for reply in REPLIES)
    # The trainer sees the result.
    board = _app(world["trainer"], "pages/drill_builder.py")
    assert not board.exception
    assert any("第 1 轮" in m.value or "最慢的轮次" in m.value for m in board.markdown)
