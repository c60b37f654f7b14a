"""The database exchange commands: questions and scripts in and out of other tools' formats, and init.

``huashu questions import|export``, ``huashu scripts import|export`` and ``huashu init`` use the
configured database (``HUASHU_DATABASE_URL``, else the SQLite file in the data dir) and call the same
functions as the pages. They act as the user named by ``--as`` (a trainer or admin); without it,
as the first active administrator — whoever can run them can already read and write the database.
``--dry-run`` reads the file only: nothing is stored and no database is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlmodel import Session

from scripts_bank.cli.common import read_bytes
from training.auth.permissions import PermissionDenied
from training.core.errors import UserError
from training.core.jsonl import InputError
from training.models import Role, User

QUESTION_FORMATS = ("auto", "moodle-xml", "gift", "xlsx")
SCRIPT_IMPORT_FORMATS = ("auto", "qianniu", "csv", "xlsx")
SCRIPT_EXPORT_FORMATS = ("qianniu", "csv", "xlsx", "zammad")


@contextmanager
def _acting(args: argparse.Namespace, where: Path) -> Iterator[tuple[Session, User]]:
    """A session on the configured database and the ``--as`` user (InputError if unknown)."""
    from sqlmodel import col, select

    from training.core.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        if args.as_user:
            actor = session.exec(select(User).where(User.username == args.as_user)).first()
            if actor is None:
                raise InputError(where, None, f"用户「{args.as_user}」不存在（--as）")
        else:
            actor = session.exec(select(User).where(col(User.role) == Role.ADMIN.value,
                                                    col(User.is_active).is_(True)).order_by(col(User.id))).first()
            if actor is None:
                raise InputError(where, None,
                                 "数据库里没有可用的管理员账号：请先运行 huashu init，或用 --as 指定账号")
        try:
            yield session, actor
        except (UserError, PermissionDenied) as exc:
            raise InputError(where, None, str(exc)) from exc


def cmd_init(args: argparse.Namespace) -> None:
    """Apply the migrations to the configured database, make sure admin exists, optionally seed the demo."""
    from sqlalchemy.engine import make_url

    from training.core.config import get_settings
    from training.ops.bootstrap import bootstrap

    bootstrap(demo=args.demo)
    url = make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)
    print(f"数据库已就绪：{url}", file=sys.stderr)


def cmd_questions_import(args: argparse.Namespace) -> None:
    """Import knowledge items and scenario questions (or, with --dry-run, print what the file holds)."""
    from training.exams.interchange.service import import_questions, read_questions

    raw = read_bytes(args.file)
    try:
        parsed = read_questions(raw, file_name=args.file.name, file_format=args.format,
                                limit_bytes=CLI_LIMIT)
    except UserError as exc:
        raise InputError(args.file, None, str(exc)) from exc
    if args.dry_run:
        for record in parsed.records:
            print(json.dumps(record.as_json(), ensure_ascii=False))
        for skipped in parsed.skipped:
            print(f"已跳过：{skipped.describe()}", file=sys.stderr)
        for error in parsed.errors:
            print(f"有错误：{error.describe()}", file=sys.stderr)
        if parsed.errors:
            raise InputError(args.file, None, f"{len(parsed.errors)} 道题有错误，导入时整个文件会被拒绝")
        return
    with _acting(args, args.file) as (session, actor):
        plan = import_questions(session=session, actor=actor, parsed=parsed, file_name=args.file.name)
    for line in plan.lines():
        print(line, file=sys.stderr)
    print(f"已导入：知识题 {plan.created_items} 道，情景题 {plan.created_scenarios} 道。", file=sys.stderr)


def cmd_questions_export(args: argparse.Namespace) -> None:
    """Write the knowledge items in use and the bank's scenario questions in one exchange format."""
    from training.exams.interchange.service import export_questions

    with _acting(args, args.output) as (session, actor):
        data, count = export_questions(session=session, actor=actor, file_format=args.format,
                                       tag=args.tag, scenarios=not args.no_scenarios)
    _write(args.output, data)
    print(f"已导出 {count} 道题到 {args.output}", file=sys.stderr)


def _script_format(raw: bytes, file_name: str, wanted: str) -> str:
    if wanted != "auto":
        return wanted
    from scripts_bank.qianniu_import import looks_like_qianniu

    if looks_like_qianniu(raw, file_name):
        return "qianniu"
    return "xlsx" if file_name.lower().endswith((".xlsx", ".xlsm")) else "csv"


def cmd_scripts_import(args: argparse.Namespace) -> None:
    """Import scripts: 千牛 phrases as drafts, Huashu's own CSV/XLSX as approved scripts."""
    from scripts_bank.authoring import import_scripts
    from scripts_bank.io import read_script_table
    from scripts_bank.qianniu_import import draft_row, import_qianniu, read_qianniu_phrases

    raw = read_bytes(args.file)
    fmt = _script_format(raw, args.file.name, args.format)
    try:
        if fmt == "qianniu":
            phrases = read_qianniu_phrases(raw, file_name=args.file.name, limit_bytes=CLI_LIMIT)
            rows, status = [draft_row(p) for p in phrases], "draft"
        else:
            rows = read_script_table(raw, file_name=args.file.name, limit_bytes=CLI_LIMIT)
            status = "approved"
    except UserError as exc:
        raise InputError(args.file, None, str(exc)) from exc
    if args.dry_run:
        for row in rows:
            print(json.dumps({"question": row.question, "answer": row.answer, "category": row.category,
                              "tags": row.tags, "product": row.product, "status": status},
                             ensure_ascii=False))
        return
    with _acting(args, args.file) as (session, actor):
        if fmt == "qianniu":
            plan = import_qianniu(session=session, actor=actor, phrases=phrases, file_name=args.file.name)
            for line in plan.lines():
                print(line, file=sys.stderr)
            print(f"已导入 {plan.created} 条草稿话术（待审核）。", file=sys.stderr)
        else:
            count = import_scripts(session=session, actor=actor, rows=rows)
            print(f"已导入 {count} 条已审核话术。", file=sys.stderr)


def cmd_scripts_export(args: argparse.Namespace) -> None:
    """Write the approved bank as a 千牛 快捷短语 CSV, Huashu's CSV/XLSX or a Zammad text-module CSV."""
    from scripts_bank.authoring import export_scripts
    from scripts_bank.io import export_bytes, scripts_table
    from scripts_bank.qianniu import export_qianniu
    from scripts_bank.zammad import zammad_csv

    with _acting(args, args.output) as (session, actor):
        if args.format == "qianniu":
            exported = export_qianniu(session=session, actor=actor, category=args.category,
                                      tag=args.tag, encoding=args.encoding)
            for line in exported.report.lines():
                print(line, file=sys.stderr)
            data, count = exported.data, exported.report.rows
        else:
            rows = [r for r in export_scripts(session=session, actor=actor)
                    if (not args.category or r.category == args.category)
                    and (not args.tag or args.tag in r.tags)]
            data = (zammad_csv(rows) if args.format == "zammad"
                    else export_bytes(scripts_table(rows), args.format))
            count = len(rows)
    _write(args.output, data)
    print(f"已导出 {count} 条话术到 {args.output}", file=sys.stderr)


def _write(path: Path, data: bytes) -> None:
    """Write the whole file at once (a temporary file renamed), so no partial file looks complete."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(path, None, f"无法写出文件（{exc.strerror}）") from exc


#: The CLI reads the trainer's own files: the same generous cap as the batch commands.
CLI_LIMIT = 2 * 1024**3


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``questions``, ``scripts`` and ``init`` on the ``huashu`` parser."""
    acting = "以哪个培训师或管理员账号执行（默认：第一个管理员账号）"
    init = sub.add_parser("init", help="为配置的数据库执行迁移并创建管理员账号（可选写入演示数据）")
    init.add_argument("--demo", action="store_true", help="空库时写入演示数据")
    init.set_defaults(func=cmd_init)

    questions = sub.add_parser("questions",
                               help="知识题与情景题的导入导出（Moodle XML、GIFT、考试系统 Excel）")
    qsub = questions.add_subparsers(dest="action", required=True)
    qin = qsub.add_parser("import", help="导入题目文件")
    qin.add_argument("file", type=Path)
    qin.add_argument("--format", choices=QUESTION_FORMATS, default="auto")
    qin.add_argument("--dry-run", action="store_true",
                     help="只读取文件：每道题一行 JSON 输出到标准输出，跳过的题输出到标准错误，不写数据库")
    qin.add_argument("--as", dest="as_user", help=acting)
    qin.set_defaults(func=cmd_questions_import)
    qout = qsub.add_parser("export", help="导出在用的知识题和问题库中的情景题")
    qout.add_argument("--format", choices=QUESTION_FORMATS[1:], required=True)
    qout.add_argument("--output", type=Path, required=True)
    qout.add_argument("--tag", help="只导出带此标签的知识题（情景题按分类）")
    qout.add_argument("--no-scenarios", action="store_true", help="不导出情景题")
    qout.add_argument("--as", dest="as_user", help=acting)
    qout.set_defaults(func=cmd_questions_export)

    scripts = sub.add_parser("scripts", help="话术库的导入导出（千牛快捷短语、CSV、Excel、Zammad）")
    ssub = scripts.add_subparsers(dest="action", required=True)
    sin = ssub.add_parser("import", help="导入话术文件（千牛快捷短语导入为待审核草稿）")
    sin.add_argument("file", type=Path)
    sin.add_argument("--format", choices=SCRIPT_IMPORT_FORMATS, default="auto")
    sin.add_argument("--dry-run", action="store_true", help="只读取文件：每条话术一行 JSON，不写数据库")
    sin.add_argument("--as", dest="as_user", help=acting)
    sin.set_defaults(func=cmd_scripts_import)
    sout = ssub.add_parser("export", help="导出已审核的话术")
    sout.add_argument("--format", choices=SCRIPT_EXPORT_FORMATS, required=True)
    sout.add_argument("--encoding", choices=("gbk", "utf-8-sig"), default="utf-8-sig",
                      help="千牛快捷短语文件的编码（默认带 BOM 的 UTF-8；Windows 客户端常用 gbk）")
    sout.add_argument("--output", type=Path, required=True)
    sout.add_argument("--category", help="只导出这个分类")
    sout.add_argument("--tag", help="只导出带此标签的话术")
    sout.add_argument("--as", dest="as_user", help=acting)
    sout.set_defaults(func=cmd_scripts_export)
