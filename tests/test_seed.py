"""Bootstrap: migrations, first admin, demo data with documented passwords."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from training.auth.accounts import authenticate
from training.certification.duty import duty_status
from training.core.db import get_engine
from training.exams.attempts import my_exams
from training.models import Certificate, KnowledgeItem, Role, Script, User
from training.ops.bootstrap import bootstrap
from training.ops.demo.constants import DEMO_USERS
from training.ops.demo.seed import seed_demo

README = Path(__file__).resolve().parents[1] / "README.md"


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
    from training.core.config import get_settings

    monkeypatch.setenv("HUASHU_ADMIN_PASSWORD", "from-env-password")
    get_settings.cache_clear()
    bootstrap(demo=False)
    assert "初始密码" not in capsys.readouterr().err
    with Session(get_engine()) as session:
        assert authenticate(session=session, username="admin", password="from-env-password")
        assert session.exec(select(Script)).first() is None


def test_make_run_prints_words_not_dicts() -> None:
    from training.ops.bootstrap import demo_summary, ready_line

    summary = demo_summary({"users": 4, "knowledge_items": 22, "scripts": 16, "reviews": 188})
    assert summary == "已写入演示数据：4 个账号、22 道知识题、16 条话术、188 条评阅。"
    line = ready_line("http://localhost:8501")
    assert "\n" not in line and "http://localhost:8501" in line and "{" not in line
    assert all(f"{name} / " in line for name in ("demo_admin", "trainer", "agent", "newhire"))


def test_demo_newhire_meets_the_gate_with_the_required_exam_marked(session: Session) -> None:
    """The README's `newhire` has no 上岗认证 yet; other demo learners hold certificates."""
    counts = seed_demo(session=session, history=True)
    by_name = {u.username: u for u in session.exec(select(User)).all()}
    newhire = by_name["newhire"]
    gate = duty_status(session=session, actor=newhire)
    assert not gate.on_duty and [p.name for p in gate.missing] == ["上岗认证"]
    required = [e for e in my_exams(session=session, actor=newhire) if e.required_for_duty]
    assert [(e.title, e.state) for e in required] == [("上岗综合考试", "可参加")]
    assert duty_status(session=session, actor=by_name["agent"]).on_duty
    assert session.exec(select(Certificate).where(Certificate.user_id != newhire.id)).first() is not None
    readme = README.read_text(encoding="utf-8")
    assert "| `newhire` | `newhire-demo-2026` | 新人 |" in readme
    assert f"{counts['attempts']} released sittings" in readme
