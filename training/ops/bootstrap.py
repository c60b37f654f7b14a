"""Start-up: migrate, make sure an admin exists, optionally seed the demo (``python -m``)."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from training.auth.accounts import ensure_admin
from training.core.config import get_settings
from training.core.db import get_engine, session_scope
from training.core.migrate import upgrade_database
from training.models import ROLE_LABELS
from training.ops.demo.constants import DEMO_USERS
from training.ops.demo.seed import seed_demo


def demo_summary(added: dict[str, int]) -> str:
    """What seeding the demo added, in words (not a dict)."""
    names = {"users": "个账号", "knowledge_items": "道知识题", "scripts": "条话术", "attempts": "份历史答卷",
             "certificates": "张证书", "practice": "次练习", "reviews": "条评阅"}
    parts = [f"{count} {names.get(key, key)}" for key, count in added.items()]
    return "已写入演示数据：" + "、".join(parts) + "。"


def ready_line(url: str) -> str:
    """The one line ``make run`` prints: where to open the app and the demo accounts."""
    accounts = "，".join(f"{demo.username} / {demo.password}（{ROLE_LABELS[demo.role]}）"
                        for demo in DEMO_USERS)
    return f"话术已启动：请用浏览器打开 {url} ；演示账号：{accounts}"


def bootstrap(*, demo: bool, history: bool = False) -> None:
    """Bring the configured database up to date and ready to log in (``history``: months of demo use)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    with session_scope(get_engine()) as session:
        generated = ensure_admin(session=session, password=settings.admin_password)
        if generated:
            # Printed once, on the console of whoever started the server; never logged or stored.
            print(f"已创建管理员账号 admin，初始密码：{generated}（仅显示这一次，请登录后修改）",
                  file=sys.stderr)
        if demo:
            added = seed_demo(session=session, history=history)
            if added:
                print(demo_summary(added), file=sys.stderr)


def main() -> None:
    """CLI entry: ``python -m training.ops.bootstrap [--demo [--history]]``."""
    parser = argparse.ArgumentParser(description="迁移数据库、创建管理员、写入演示数据")
    parser.add_argument("--demo", action="store_true", help="空库时写入演示数据")
    parser.add_argument("--history", action="store_true",
                        help="演示数据附带几个月的考试、评阅与认证记录（看板有数据可看）")
    parser.add_argument("--url", help="启动完成后提示用户打开的地址（make run 使用）")
    args = parser.parse_args()
    try:
        get_settings()
    except ValidationError as exc:  # e.g. HUASHU_TIMEZONE=Asia/Beijing: one line, not a traceback
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise SystemExit(f"配置有误，未启动：{reasons}") from None
    bootstrap(demo=args.demo, history=args.history)
    if args.url:
        print(ready_line(args.url), file=sys.stderr)


if __name__ == "__main__":
    main()
