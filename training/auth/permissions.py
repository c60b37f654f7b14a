"""Role checks enforced in the service layer, whatever the page does."""

from __future__ import annotations

from training.core.errors import UserError
from training.models import Role, User


class PermissionDenied(UserError):
    """The acting user's role may not do this; the message is shown to the user.

    A ``UserError``, so callers catch one thing; catch it first where it needs its own handling.
    """


def require_role(actor: User | None, *roles: Role) -> User:
    """Return ``actor`` if it is an active user holding one of ``roles``, else raise."""
    if actor is None or not actor.is_active:
        raise PermissionDenied("请先登录。")
    if actor.role not in {r.value for r in roles}:
        raise PermissionDenied("当前账号无权执行此操作。")
    return actor


STAFF = (Role.ADMIN, Role.TRAINER)
EVERYONE = (Role.ADMIN, Role.TRAINER, Role.AGENT, Role.NEW_HIRE)
