"""Accounts: users, roles and cohorts (role-checked); login and password rules are re-exported."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.login import LOCKOUT as LOCKOUT
from training.auth.login import MAX_FAILED_LOGINS as MAX_FAILED_LOGINS
from training.auth.login import authenticate as authenticate
from training.auth.login import clear_failures
from training.auth.passwords import MIN_PASSWORD_LENGTH as MIN_PASSWORD_LENGTH
from training.auth.passwords import AccountError as AccountError
from training.auth.passwords import check_password
from training.auth.passwords import generate_password as generate_password
from training.auth.passwords import hash_password as hash_password
from training.auth.passwords import verify_password as verify_password
from training.auth.permissions import EVERYONE, require_role
from training.auth.sessions import END_DISABLED, revoke_logins
from training.core.tables import read_table, use_headers
from training.models import ROLE_LABELS, Cohort, Role, User, UserPublic, utcnow

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
#: The longest 姓名 and 班组 name the columns hold.
NAME_MAX = 100


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"未知角色「{role}」，可选：admin、trainer、agent、new_hire。") from None


def public(user: User) -> UserPublic:
    """The page-safe view of a user."""
    return UserPublic.model_validate(user, from_attributes=True)


def ensure_admin(*, session: Session, password: str | None) -> str | None:
    """Create the first admin if none exists; return the generated password, if one was made."""
    if session.exec(select(User).where(User.role == Role.ADMIN.value)).first() is not None:
        return None
    generated = None if password else generate_password()
    chosen = password or generated
    assert chosen is not None
    check_password(chosen, username="admin")
    admin = User(username="admin", display_name="管理员", role=Role.ADMIN.value,
                 password_hash=hash_password(chosen))
    session.add(admin)
    audit.record(session=session, actor=None, action="user.create_admin", target="admin")
    session.commit()
    return generated


def create_user(
    *, session: Session, actor: User | None, username: str, display_name: str, role: str,
    password: str, cohort_id: int | None = None,
) -> User:
    """Create a user (admin only)."""
    require_role(actor, Role.ADMIN)
    username = username.strip()
    if not username:
        raise AccountError("请填写用户名。")
    if not USERNAME_RE.match(username):
        raise AccountError("用户名只能包含字母、数字、下划线、点和短横线，长度 2–64。")
    if not display_name.strip():
        raise AccountError("请填写姓名。")
    _check_role(role)
    check_password(password, username=username)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise AccountError(f"用户名「{username}」已存在。")
    if cohort_id is not None and session.get(Cohort, cohort_id) is None:
        raise AccountError("所选班组不存在。")
    user = User(username=username, display_name=display_name.strip(), role=role,
                password_hash=hash_password(password), cohort_id=cohort_id)
    session.add(user)
    audit.record(session=session, actor=actor, action="user.create", target=username,
                 detail={"role": role})
    session.commit()
    session.refresh(user)
    return user


def list_users(*, session: Session, actor: User | None) -> list[UserPublic]:
    """All users, without password hashes (admin and trainers)."""
    require_role(actor, Role.ADMIN, Role.TRAINER)
    users = session.exec(select(User).order_by(col(User.id))).all()
    return [public(u) for u in users]


def _target(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("用户不存在。")
    return user


def set_user_active(*, session: Session, actor: User | None, user_id: int, active: bool) -> User:
    """Enable or disable an account (admin only; an admin cannot disable themself)."""
    admin = require_role(actor, Role.ADMIN)
    user = _target(session, user_id)
    if user.id == admin.id and not active:
        raise AccountError("不能停用当前登录的管理员账号。")
    user.is_active = active
    session.add(user)
    if not active:
        revoke_logins(session=session, user_id=user.id or 0, reason=END_DISABLED)
    audit.record(session=session, actor=actor, action="user.enable" if active else "user.disable",
                 target=user.username)
    session.commit()
    session.refresh(user)
    return user


def reset_password(
    *, session: Session, actor: User | None, user_id: int, new_password: str | None = None,
) -> str:
    """Set a new password (admin only): lifts any lockout, logs the user out everywhere; returns it."""
    require_role(actor, Role.ADMIN)
    user = _target(session, user_id)
    password = new_password or generate_password()
    check_password(password, username=user.username)
    _set_password(user, password)
    revoke_logins(session=session, user_id=user.id or 0)
    clear_failures(session=session, user=user)
    session.add(user)
    audit.record(session=session, actor=actor, action="user.reset_password", target=user.username)
    session.commit()
    return password


def _set_password(user: User, password: str) -> None:
    """Store the new hash and end every session logged in with the old password."""
    user.password_hash = hash_password(password)
    user.session_version += 1
    user.password_changed_at = utcnow()


def change_own_password(*, session: Session, actor: User | None, old: str, new: str) -> User:
    """Let any logged-in user change their own password; other sessions of theirs are logged out.

    Returns the updated user, whose ``session_version`` the caller's own session adopts.
    """
    user = _target(session, require_role(actor, *EVERYONE).id or 0)
    if not verify_password(user.password_hash, old):
        raise AccountError("原密码不正确。")
    if new == old:
        raise AccountError("新密码不能与原密码相同。")
    check_password(new, username=user.username)
    _set_password(user, new)
    revoke_logins(session=session, user_id=user.id or 0)
    session.add(user)
    audit.record(session=session, actor=user, action="user.change_password", target=user.username)
    session.commit()
    session.refresh(user)
    return user


def set_role(*, session: Session, actor: User | None, user_id: int, role: str) -> User:
    """Change a user's role (admin only; an admin cannot demote themself)."""
    admin = require_role(actor, Role.ADMIN)
    user = _target(session, user_id)
    new_role = _check_role(role)
    if user.id == admin.id and new_role != Role.ADMIN:
        raise AccountError("不能修改当前登录的管理员自己的角色。")
    previous = user.role
    user.role = new_role.value
    session.add(user)
    audit.record(session=session, actor=admin, action="user.set_role", target=user.username,
                 detail={"role": new_role.value, "previous": previous})
    session.commit()
    session.refresh(user)
    return user


# --- cohorts ------------------------------------------------------------------------------


def list_cohorts(*, session: Session, actor: User | None) -> list[Cohort]:
    """All cohorts (admin and trainers)."""
    require_role(actor, Role.ADMIN, Role.TRAINER)
    return list(session.exec(select(Cohort).order_by(col(Cohort.name))).all())


def create_cohort(*, session: Session, actor: User | None, name: str, description: str = "") -> Cohort:
    """Create a cohort (admin only)."""
    require_role(actor, Role.ADMIN)
    name = name.strip()
    if not name:
        raise AccountError("请填写班组名称。")
    if session.exec(select(Cohort).where(Cohort.name == name)).first() is not None:
        raise AccountError(f"班组「{name}」已存在。")
    cohort = Cohort(name=name, description=description.strip())
    session.add(cohort)
    audit.record(session=session, actor=actor, action="cohort.create", target=name)
    session.commit()
    session.refresh(cohort)
    return cohort


def assign_cohort(
    *, session: Session, actor: User | None, user_id: int, cohort_id: int | None,
) -> User:
    """Move a user into a cohort, or out of any (admin only)."""
    require_role(actor, Role.ADMIN)
    user = _target(session, user_id)
    if cohort_id is not None and session.get(Cohort, cohort_id) is None:
        raise AccountError("所选班组不存在。")
    user.cohort_id = cohort_id
    session.add(user)
    audit.record(session=session, actor=actor, action="user.assign_cohort", target=user.username,
                 detail={"cohort_id": cohort_id})
    session.commit()
    session.refresh(user)
    return user


# --- bulk creation ------------------------------------------------------------------------

#: Bulk-import columns: internal name -> the Chinese header of the template (班组 is optional).
BULK_HEADERS = {"username": "用户名", "display_name": "姓名", "role": "角色", "cohort": "班组"}
BULK_COLUMNS = list(BULK_HEADERS)


@dataclass
class BulkResult:
    """Outcome of a bulk import: created accounts with their one-time passwords, or errors."""

    created: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _bulk_row_error(row: dict[str, str], known: set[str], role_codes: dict[str, str]) -> str | None:
    """What is wrong with one row of the bulk import (None if nothing); ``known``: usernames taken."""
    username, name, cohort = row["username"], row["display_name"], row.get("cohort", "")
    if not USERNAME_RE.match(username):
        return f"用户名「{username}」不合法。"
    if username in known:
        return f"用户名「{username}」已存在。"
    if row["role"] not in role_codes:
        return f"未知角色「{row['role']}」（应为管理员、培训师、客服或新人）。"
    if not name:
        return "姓名为空。"
    if len(name) > NAME_MAX or len(cohort) > NAME_MAX:  # the columns' length
        return f"{'姓名' if len(name) > NAME_MAX else '班组'}超过 {NAME_MAX} 个字。"
    return None


def bulk_create_users(
    *, session: Session, actor: User | None, raw: bytes, file_name: str,
) -> BulkResult:
    """Create users from a CSV/XLSX file; all rows or none (errors name the row).

    The file passes the upload gate (``training.core.uploads``) like every import: the settings'
    size limit, the zip-bomb check and UTF-8/GBK detection; a refusal is a TableError.
    """
    require_role(actor, Role.ADMIN)
    frame = read_table(raw, file_name=file_name)
    frame = use_headers(frame, BULK_HEADERS, BULK_COLUMNS[:3], file_name=file_name)
    # 角色 as people write it (客服) or as stored (agent).
    role_codes = {**{label: r.value for r, label in ROLE_LABELS.items()}, **{r.value: r.value for r in Role}}
    result = BulkResult()
    known = set(session.exec(select(User.username)).all())
    rows: list[dict[str, str]] = []
    for line, record in enumerate(frame.to_dict("records"), start=2):  # header is row 1 in the sheet
        row = {str(key): str(value) for key, value in record.items()}
        error = _bulk_row_error(row, known, role_codes)
        if error is not None:
            result.errors.append(f"第 {line} 行：{error}")
            continue
        known.add(row["username"])
        rows.append(row)
    if result.errors or not rows:
        if not rows and not result.errors:
            result.errors.append(f"文件「{file_name}」没有数据行。")
        session.rollback()
        return result
    cohorts = {c.name: c for c in session.exec(select(Cohort)).all()}
    for name in dict.fromkeys(row.get("cohort", "") for row in rows):
        if name and name not in cohorts:
            cohorts[name] = Cohort(name=name)
            session.add(cohorts[name])
    session.flush()  # gives new cohorts their ids
    for row in rows:  # passwords are hashed (slow) only once every row is valid
        cohort = cohorts.get(row.get("cohort", ""))
        password = generate_password()
        session.add(User(username=row["username"], display_name=row["display_name"],
                         role=role_codes[row["role"]], password_hash=hash_password(password),
                         cohort_id=cohort.id if cohort is not None else None))
        result.created.append((row["username"], password))
    audit.record(session=session, actor=actor, action="user.bulk_create", target=file_name,
                 detail={"count": len(rows)})
    session.commit()
    return result
