"""The demo's fixed facts: where its files are, its documented accounts and its new-hire cohort."""

from __future__ import annotations

from dataclasses import dataclass

from training.core.config import PROJECT_ROOT
from training.models import Role

DEMO_DIR = PROJECT_ROOT / "data" / "demo"


@dataclass(frozen=True)
class DemoUser:
    """A documented demo account (README lists the same)."""

    username: str
    display_name: str
    role: Role
    password: str


DEMO_USERS = (
    DemoUser("demo_admin", "演示管理员", Role.ADMIN, "admin-demo-2026"),
    DemoUser("trainer", "王培训", Role.TRAINER, "trainer-demo-2026"),
    DemoUser("agent", "李客服", Role.AGENT, "agent-demo-2026"),
    DemoUser("newhire", "张新人", Role.NEW_HIRE, "newhire-demo-2026"),
)
DEMO_COHORT = "2026年11月新人班"
