"""Bootstrap: migrations, first admin, demo data with documented passwords."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from training.accounts import authenticate
from training.bootstrap import bootstrap
from training.db import get_engine
from training.models import KnowledgeItem, Role, Script, User
from training.seed import DEMO_USERS


def test_bootstrap_seeds_demo_once_and_prints_admin_password(
    db_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    bootstrap(demo=True)
    err = capsys.readouterr().err
    assert "初始密码" in err
    password = err.split("初始密码：")[1].split("（")[0]
    with Session(get_engine()) as session:
        assert authenticate(session=session, username="admin", password=password)
        for demo in DEMO_USERS:
            user = authenticate(session=session, username=demo.username, password=demo.password)
            assert user.role == demo.role.value
        scripts = len(session.exec(select(Script)).all())
        items = session.exec(select(KnowledgeItem)).all()
        assert scripts >= 10 and len(items) >= 15
        assert all(i.kind in {"single", "multiple", "truefalse"} for i in items)
    bootstrap(demo=True)
    assert "初始密码" not in capsys.readouterr().err
    with Session(get_engine()) as session:
        assert len(session.exec(select(Script)).all()) == scripts
        admins = session.exec(select(User).where(User.role == Role.ADMIN.value)).all()
        assert {a.username for a in admins} == {"admin", "demo_admin"}


def test_admin_password_from_environment(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from training.config import get_settings

    monkeypatch.setenv("HUASHU_ADMIN_PASSWORD", "from-env-password")
    get_settings.cache_clear()
    bootstrap(demo=False)
    assert "初始密码" not in capsys.readouterr().err
    with Session(get_engine()) as session:
        assert authenticate(session=session, username="admin", password="from-env-password")
        assert session.exec(select(Script)).first() is None


def test_make_run_prints_words_not_dicts() -> None:
    from training.bootstrap import demo_summary, ready_line

    summary = demo_summary({"users": 4, "knowledge_items": 22, "scripts": 16, "reviews": 188})
    assert summary == "已写入演示数据：4 个账号、22 道知识题、16 条话术、188 条评阅。"
    line = ready_line("http://localhost:8501")
    assert "\n" not in line and "http://localhost:8501" in line and "{" not in line
    assert all(f"{name} / " in line for name in ("demo_admin", "trainer", "agent", "newhire"))
