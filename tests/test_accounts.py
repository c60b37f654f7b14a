"""Accounts: hashing, login and lockout, role checks in the service layer, bulk import."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlmodel import Session, select

from training.auth import accounts
from training.auth.accounts import AccountError
from training.auth.permissions import PermissionDenied
from training.models import AuditLog, Cohort, Role, User


def make(session: Session, username: str, role: Role, password: str = "secret-pass-1") -> User:
    user = User(username=username, display_name=username, role=role.value,
                password_hash=accounts.hash_password(password))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def test_password_is_stored_as_argon2_hash_only(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    created = accounts.create_user(session=session, actor=admin, username="zhang",
                                   display_name="张三", role="agent", password="zhang-pass-9")
    stored = session.get(User, created.id)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert "zhang-pass-9" not in stored.password_hash
    assert accounts.verify_password(stored.password_hash, "zhang-pass-9")
    assert not accounts.verify_password(stored.password_hash, "zhang-pass-8")
    assert "password_hash" not in accounts.public(stored).model_dump()


def test_login_success_failure_and_lockout(session: Session) -> None:
    make(session, "li", Role.AGENT, "right-password")
    assert accounts.authenticate(session=session, username="li", password="right-password").id
    with pytest.raises(AccountError, match="用户名或密码错误"):
        accounts.authenticate(session=session, username="nobody", password="x" * 8)
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(AccountError, match="用户名或密码错误"):
            accounts.authenticate(session=session, username="li", password="wrong-password")
    # Locked now: even the right password is refused until the lockout passes.
    with pytest.raises(AccountError, match="锁定"):
        accounts.authenticate(session=session, username="li", password="right-password")
    assert session.exec(select(AuditLog).where(AuditLog.action == "login.locked")).first()


def test_disabled_user_cannot_log_in(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    agent = make(session, "wang", Role.AGENT, "wang-password")
    assert agent.id is not None
    accounts.set_user_active(session=session, actor=admin, user_id=agent.id, active=False)
    with pytest.raises(AccountError, match="停用"):
        accounts.authenticate(session=session, username="wang", password="wang-password")
    with pytest.raises(AccountError):
        accounts.set_user_active(session=session, actor=admin, user_id=admin.id or 0, active=False)


def test_ensure_admin_generates_password_once(session: Session) -> None:
    generated = accounts.ensure_admin(session=session, password=None)
    assert generated and len(generated) >= 12
    assert accounts.authenticate(session=session, username="admin", password=generated)
    assert accounts.ensure_admin(session=session, password=None) is None


@pytest.mark.parametrize("role", [Role.TRAINER, Role.AGENT, Role.NEW_HIRE])
def test_non_admins_cannot_manage_users(session: Session, role: Role) -> None:
    actor = make(session, f"u_{role.value}", role)
    with pytest.raises(PermissionDenied):
        accounts.create_user(session=session, actor=actor, username="x1", display_name="x",
                             role="admin", password="12345678")
    with pytest.raises(PermissionDenied):
        accounts.reset_password(session=session, actor=actor, user_id=actor.id or 0)
    with pytest.raises(PermissionDenied):
        accounts.create_cohort(session=session, actor=actor, name="c")
    if role != Role.TRAINER:
        with pytest.raises(PermissionDenied):
            accounts.list_users(session=session, actor=actor)
    assert session.exec(select(User).where(User.username == "x1")).first() is None


def test_anonymous_and_disabled_actors_are_refused(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    with pytest.raises(PermissionDenied):
        accounts.list_users(session=session, actor=None)
    admin.is_active = False
    with pytest.raises(PermissionDenied):
        accounts.list_users(session=session, actor=admin)


def test_reset_password_and_change_own(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    agent = make(session, "zhao", Role.AGENT, "old-password")
    new = accounts.reset_password(session=session, actor=admin, user_id=agent.id or 0)
    user = accounts.authenticate(session=session, username="zhao", password=new)
    with pytest.raises(AccountError, match="原密码不正确"):
        accounts.change_own_password(session=session, actor=user, old="nope", new="new-password")
    with pytest.raises(AccountError, match="至少"):
        accounts.change_own_password(session=session, actor=user, old=new, new="short")
    accounts.change_own_password(session=session, actor=user, old=new, new="new-password")
    assert accounts.authenticate(session=session, username="zhao", password="new-password")


def test_create_user_validates_input(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    base = {"session": session, "actor": admin, "display_name": "x", "password": "okname-pass-1"}
    with pytest.raises(AccountError, match="用户名"):
        accounts.create_user(username="有空格 的名字", role="agent", **base)  # type: ignore[arg-type]
    with pytest.raises(AccountError, match="未知角色"):
        accounts.create_user(username="ok_name", role="boss", **base)  # type: ignore[arg-type]
    accounts.create_user(username="ok_name", role="agent", **base)  # type: ignore[arg-type]
    with pytest.raises(AccountError, match="已存在"):
        accounts.create_user(username="ok_name", role="agent", **base)  # type: ignore[arg-type]


def test_bulk_create_from_gbk_csv_creates_cohorts(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    csv = "username,display_name,role,cohort\nxw1,小王,new_hire,十一月新人班\nxl2,小李,agent,\n"
    result = accounts.bulk_create_users(session=session, actor=admin, raw=csv.encode("gbk"),
                                        file_name="users.csv")
    assert result.errors == []
    assert [u for u, _ in result.created] == ["xw1", "xl2"]
    cohort = session.exec(select(Cohort).where(Cohort.name == "十一月新人班")).one()
    xw1 = session.exec(select(User).where(User.username == "xw1")).one()
    assert xw1.cohort_id == cohort.id
    password = dict(result.created)["xw1"]
    assert accounts.authenticate(session=session, username="xw1", password=password)


def test_bulk_create_is_all_or_nothing_and_names_rows(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    frame = pd.DataFrame({"username": ["good1", "bad name", "good2", "good1"],
                          "display_name": ["a", "b", "c", "d"],
                          "role": ["agent", "agent", "wizard", "agent"], "cohort": ["", "", "", ""]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    result = accounts.bulk_create_users(session=session, actor=admin, raw=buffer.getvalue(),
                                        file_name="users.xlsx")
    assert result.created == []
    assert any("第 3 行" in e for e in result.errors)
    assert any("第 4 行" in e and "wizard" in e for e in result.errors)
    assert any("第 5 行" in e and "已存在" in e for e in result.errors)
    assert session.exec(select(User).where(User.username == "good1")).first() is None


def test_bulk_create_rejects_garbage_files(session: Session) -> None:
    admin = make(session, "root", Role.ADMIN)
    from training.core.tables import TableError

    with pytest.raises(TableError, match="Excel"):
        accounts.bulk_create_users(session=session, actor=admin, raw=b"PK\x03\x04garbage",
                                   file_name="users.xlsx")
    with pytest.raises(TableError, match="空"):
        accounts.bulk_create_users(session=session, actor=admin, raw=b"", file_name="u.csv")
    with pytest.raises(TableError, match="缺少列"):
        accounts.bulk_create_users(session=session, actor=admin, raw=b"name,x\na,b\n",
                                   file_name="u.csv")
