"""AppTest: a trainer imports the demo chat log and mines it into the question bank."""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_world import run_jobs
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from training.core.db import get_engine
from training.models import ChatImport, ChatMessage, MinedQuestion, Role, User
from training.ops.demo.seed import seed_demo

ROOT = Path(__file__).resolve().parents[1]
DEMO_LOG = ROOT / "data" / "demo" / "chatlog.tsv"


@pytest.fixture
def trainer_at(db_url: str) -> AppTest:
    with Session(get_engine()) as session:
        seed_demo(session=session)
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).one()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["user_id"] = trainer.id
    at.run()
    at.switch_page("pages/chat_import.py")
    at.run()
    return at


@pytest.mark.encoder
def test_import_then_mine_the_demo_log(trainer_at: AppTest, real_encoder: object) -> None:
    at = trainer_at
    at.file_uploader(key="ci_upload").set_value(("chatlog.tsv", DEMO_LOG.read_bytes(), "text/plain"))
    at.run()
    at.button(key="ci_import").click()
    at.run()
    assert not at.exception
    assert at.success[0].value.replace("\\", "").startswith("已导入「chatlog.tsv」：60 个会话、420 条消息")
    assert "[手机号] 4 处" in at.info[0].value
    with Session(get_engine()) as session:
        texts = " ".join(m.text for m in session.exec(select(ChatMessage)).all())
    assert "13812345678" not in texts and "chenyu_demo@example.com" not in texts
    with Session(get_engine()) as session:
        imported = session.exec(select(ChatImport)).one()
    assert at.selectbox(key="ci_mine_target").value == imported.id, "the new import is offered for mining"
    at.button(key="ci_mine").click()
    at.run()
    assert not at.exception
    assert run_jobs() == 1  # mining is a background job (a worker runs it)
    at.run()
    assert not at.exception
    assert at.success[0].value.startswith("挖掘出 ")
    # The same run shows what mining did: the count in the list, and no 开始挖掘 for a mined import.
    assert at.dataframe[0].value["已挖掘问题"].tolist()[0] > 0
    assert not [b for b in at.button if b.key == "ci_mine"]
    with Session(get_engine()) as session:
        clusters = session.exec(select(MinedQuestion)).all()
        assert clusters and max(c.frequency for c in clusters) > 1
        assert session.exec(select(ChatImport)).one().question_count == sum(c.frequency for c in clusters)


def test_duplicate_and_garbage_uploads_are_refused_with_a_message(trainer_at: AppTest) -> None:
    at = trainer_at
    at.file_uploader(key="ci_upload").set_value(("chatlog.tsv", DEMO_LOG.read_bytes(), "text/plain"))
    at.run()
    at.button(key="ci_import").click()
    at.run()
    at.button(key="ci_import").click()
    at.run()
    assert "已导入过" in at.error[0].value or "重复" in at.error[0].value
    at.file_uploader(key="ci_upload").set_value(("broken.xlsx", b"PK\x03\x04garbage", "application/zip"))
    at.run()
    assert not at.exception
    assert at.error, "a broken workbook must produce a Chinese error, not a traceback"
    with Session(get_engine()) as session:
        assert len(session.exec(select(ChatImport)).all()) == 1
