"""AppTest: a table with no rows reads as a Chinese sentence, never Streamlit's English "empty" grid."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from training.core.db import get_engine
from training.models import Role, User
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.mark.parametrize(("role", "page", "search", "sentence"), [
    (Role.TRAINER, "pages/chat_import.py", None, "还没有导入记录。"),
    (Role.TRAINER, "pages/question_bank.py", None, "没有符合条件的问题。"),
    (Role.TRAINER, "pages/knowledge_items.py", ("ki_search", "没有这道题"), "没有符合条件的题目。"),
])
def test_an_empty_table_is_a_chinese_sentence(db_url: str, role: Role, page: str,
                                              search: tuple[str, str] | None, sentence: str) -> None:
    with Session(get_engine()) as session:
        # accounts, knowledge items and scripts; no chat imports, no mined questions
        seed_demo(session=session)
        user = session.exec(select(User).where(User.role == role.value)).first()
        assert user is not None
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = user.id
    at.run()
    at.switch_page(page)
    at.run()
    if search is not None:
        at.text_input(key=search[0]).input(search[1])
        at.run()
    assert not at.exception, at.exception
    assert any(c.value.startswith(sentence) for c in at.caption), [c.value for c in at.caption]
    assert not at.dataframe, "an empty frame must not be drawn as a grid"
