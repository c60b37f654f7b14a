"""Entry point of the ``huashu`` console script: the argument parser and the exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scripts_bank.cli.common import check_output
from scripts_bank.cli.data import cmd_backup, cmd_import_chats, cmd_restore
from scripts_bank.cli.exchange import add_commands
from scripts_bank.cli.model import cmd_adapt
from scripts_bank.cli.text import cmd_lookup, cmd_mine_questions, cmd_rank, cmd_similarity
from scripts_bank.cli.worker import add_command as add_worker
from training.chats.parsers import FORMATS
from training.core.jsonl import InputError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all subcommands."""
    parser = argparse.ArgumentParser(prog="huashu", description="话术 Huashu 批处理工具")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--input", type=Path, required=True)
        p.add_argument("--output", type=Path, required=True)
        p.add_argument("--model", default=None,
                       help="sentence-transformers 模型名称或本地路径（默认：内置模型）")
        return p

    add("similarity", "两段文本的语义相似度").set_defaults(func=cmd_similarity)
    add("rank", "对同一问题的多个回答打分").set_defaults(func=cmd_rank)
    lookup = add("lookup", "在话术库中检索")
    lookup.add_argument("--bank", type=Path, required=True)
    lookup.add_argument("--k", type=int, default=10)
    lookup.set_defaults(func=cmd_lookup)
    formats = ["auto", *FORMATS]
    mine = add("mine-questions", "从聊天记录中挖掘顾客问题")
    mine.add_argument("--format", choices=formats, default="auto")
    mine.set_defaults(func=cmd_mine_questions)
    chats = sub.add_parser("import-chats", help="把聊天记录导入数据库（需要培训师或管理员账号）")
    chats.add_argument("file", type=Path)
    chats.add_argument("--as", dest="as_user", required=True, help="以哪个用户的身份导入")
    chats.add_argument("--format", choices=formats, default="auto")
    chats.set_defaults(func=cmd_import_chats)
    adapt = sub.add_parser("adapt", help="用本店数据微调语义模型（需要培训师或管理员账号）")
    adapt.add_argument("--as", dest="as_user", required=True, help="以哪个用户的身份训练")
    adapt.add_argument("--budget-minutes", type=float, default=20.0, help="训练时间上限（分钟）")
    adapt.add_argument("--model", default=None, help="从哪个模型开始（默认：应用当前使用的模型）")
    adapt.add_argument("--activate", action="store_true", help="训练完成后立即设为应用的当前模型")
    adapt.add_argument("--method", choices=("adapter", "full"), default="adapter",
                       help="adapter（默认）：在缓存的向量上训练轻量调整层，几分钟；full：微调模型的每一层，慢得多")
    adapt.set_defaults(func=cmd_adapt)
    operator = ("运维命令：直接读写 HUASHU_DATABASE_URL 配置的数据库，不需要登录账号——"
                "能运行它的人本就能读到数据库；备份文件含全部数据（含密码哈希），请妥善保管。")
    backup = sub.add_parser("backup", help="把整个数据库备份到一个文件（运维命令，无需登录）",
                            description="一致性快照：SQLite 用在线备份接口复制为 SQLite 文件，"
                                        "PostgreSQL 导出为可移植压缩包（每表一个 JSON Lines 文件）。"
                                        + operator)
    backup.add_argument("file", type=Path, help="写到哪个备份文件（已存在则整体替换）")
    backup.add_argument("--portable", action="store_true",
                        help="SQLite 也导出为可移植压缩包（可恢复到 PostgreSQL）")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="用备份文件恢复整个数据库（运维命令，无需登录）",
                             description="先完整校验备份文件；数据库版本不一致或文件损坏时拒绝，"
                                         "目标数据库非空时需加 --force。恢复前请先停止应用。" + operator)
    restore.add_argument("file", type=Path, help="要恢复的备份文件")
    restore.add_argument("--force", action="store_true", help="目标数据库已有数据时仍然覆盖")
    restore.set_defaults(func=cmd_restore)
    add_commands(sub)
    add_worker(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``huashu`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "output", None) is not None:
            check_output(args.output)
        args.func(args)
    except InputError as exc:
        print(f"huashu {args.command}: 输入错误：{exc}".replace("\n", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("huashu: 已中断，未写出输出文件。", file=sys.stderr)
        return 130
    return 0



if __name__ == "__main__":
    sys.exit(main())
