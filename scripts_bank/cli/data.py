"""The database file commands: import-chats (as a trainer or admin), backup and restore (operator)."""

from __future__ import annotations

import argparse
import sys

from scripts_bank.cli.common import read_bytes
from training.auth.permissions import PermissionDenied
from training.core.config import get_settings
from training.core.errors import UserError
from training.core.jsonl import InputError
from training.core.progress import stderr_progress


def cmd_import_chats(args: argparse.Namespace) -> None:
    """Import a chat-log file into the configured database as a trainer or admin."""
    from sqlmodel import select

    from training.chats.importer import import_chat_log
    from training.core.db import get_engine, session_scope
    from training.models import User

    raw = read_bytes(args.file)
    with session_scope(get_engine()) as session:
        actor = session.exec(select(User).where(User.username == args.as_user)).first()
        if actor is None:
            raise InputError(args.file, None, f"用户「{args.as_user}」不存在（--as）")
        try:
            with stderr_progress() as progress:
                result = import_chat_log(session=session, actor=actor, raw=raw,
                                         file_name=args.file.name, file_format=args.format,
                                         progress=progress)
        except (UserError, PermissionDenied) as exc:
            raise InputError(args.file, None, str(exc)) from exc
    print(f"已导入 #{result.import_id}：{result.session_count} 个会话，{result.message_count} 条消息；"
          f"脱敏 {sum(result.masked.values())} 处", file=sys.stderr)


def cmd_backup(args: argparse.Namespace) -> None:
    """Snapshot the configured database into one file (an operator command: no login)."""
    from training.ops.backup import BackupError, backup_database

    try:
        summary = backup_database(get_settings().resolved_database_url, args.file, portable=args.portable)
    except BackupError as exc:
        raise InputError(args.file, None, str(exc)) from exc
    print(f"已备份到 {args.file}：{len(summary.rows)} 张表，{summary.total_rows} 行"
          f"（数据库版本 {summary.revision}）", file=sys.stderr)


def cmd_restore(args: argparse.Namespace) -> None:
    """Replace the configured database with a backup file (an operator command: no login)."""
    from training.ops.backup import BackupError, restore_database

    try:
        summary = restore_database(get_settings().resolved_database_url, args.file, force=args.force)
    except BackupError as exc:
        raise InputError(args.file, None, str(exc)) from exc
    print(f"已从 {args.file} 恢复：{len(summary.rows)} 张表，{summary.total_rows} 行"
          f"（数据库版本 {summary.revision}）", file=sys.stderr)
