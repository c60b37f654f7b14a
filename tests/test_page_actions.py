"""AppTest: forms keep what was typed when refused, actions show their result in the same run,
destructive actions ask first and name what they did (issue 16, points 5–7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from streamlit.testing.v1 import AppTest

from training.db import get_engine
from training.models import KnowledgeItem, Role, User
from training.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _user(role: Role) -> int:
    with Session(get_engine()) as session:
        found = session.exec(select(User).where(User.role == role.value)).first()
        assert found is not None and found.id is not None
        return found.id


@pytest.fixture
def demo_db(db_url: str) -> str:
    with Session(get_engine()) as session:
        seed_demo(session)
    return db_url


def _page(demo_db: str, role: Role, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = _user(role)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _submit(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


# -- 知识题库 -------------------------------------------------------------------------------------

def test_refused_knowledge_item_keeps_every_field_and_shows_why(demo_db: str) -> None:
    at = _page(demo_db, Role.TRAINER, "pages/knowledge_items.py")
    at.selectbox(key="ki_kind").select("single")
    at.text_area(key="ki_stem").input("破壁机的质保期是多久")
    at.text_area(key="ki_options").input("A. 6个月\nB. 12个月")
    at.text_area(key="ki_explanation").input("以说明书为准")
    at.text_input(key="ki_sku").input("PB-100")
    at.text_input(key="ki_tags").input("质保")
    _submit(at, "保存")  # no answer
    assert at.error, "the refusal is shown"
    assert at.text_area(key="ki_stem").value == "破壁机的质保期是多久"
    assert at.text_area(key="ki_options").value == "A. 6个月\nB. 12个月"
    assert at.text_area(key="ki_explanation").value == "以说明书为准"
    assert at.text_input(key="ki_sku").value == "PB-100"
    assert at.text_input(key="ki_tags").value == "质保"
    assert at.selectbox(key="ki_kind").value == "single"

    at.text_input(key="ki_answer").input("B")  # fix only the missing field
    _submit(at, "保存")
    assert not at.error
    with Session(get_engine()) as session:
        created = session.exec(select(KnowledgeItem).where(KnowledgeItem.stem == "破壁机的质保期是多久")).one()
        total = session.exec(select(func.count()).select_from(KnowledgeItem)).one()
    assert [s.value for s in at.success] == [f"已保存第 {created.id} 题。"]
    assert f"共 {total} 题" in _captions(at), "the count includes the new item in the same run"
    assert at.text_area(key="ki_stem").value == "", "cleared once saved"


def test_knowledge_edit_keeps_its_expander_open_and_shows_the_change(demo_db: str) -> None:
    at = _page(demo_db, Role.TRAINER, "pages/knowledge_items.py")
    with Session(get_engine()) as session:
        first = session.exec(select(KnowledgeItem).order_by(KnowledgeItem.id)).first()  # type: ignore[arg-type]
        assert first is not None and first.id is not None
    at.selectbox(key="ki_edit_pick").set_value(first.id).run()
    at.text_area(key=f"ki_e{first.id}_stem").input("改过的题干")
    _submit(at, "保存修改")
    assert [s.value for s in at.success] == [f"已保存第 {first.id} 题的修改。"]
    assert at.expander[0].proto.expanded
    assert "改过的题干" in at.dataframe[0].value["题干"].tolist()
