"""`huashu` batch CLI (see shared/CONTRACT.md): parse JSONL, call the domain, write JSONL."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts_bank.index_store import cached_index
from scripts_bank.lookup import BankEntry
from training.auth.permissions import PermissionDenied
from training.core.config import get_settings
from training.core.errors import UserError
from training.core.jsonl import InputError, atomic_output, read_objects, require_str, write_line
from training.nlp.embeddings import DiskEmbeddingStore, Embedder
from training.nlp.similarity import similarity_scores
from training.ranking.rank import ChatTurn, RankGroup, RankWeights, rank_answers

#: The CLI is for batch jobs on the trainer's own files: a far larger cap than web uploads.
CLI_FILE_LIMIT = 2 * 1024**3


def _embedder(model: str | None) -> Embedder:
    from training.nlp.encoder.encoder import load_encoder  # deferred: torch loads only when needed

    settings = get_settings()
    store = DiskEmbeddingStore(settings.cache_dir / "cli-embeddings.sqlite")
    return Embedder(load_encoder(model or settings.model), store)


def _id(obj: dict[str, Any], path: Path, line: int, seen: dict[str, int]) -> str:
    value = require_str(obj, "id", path, line)
    assert value is not None
    if value in seen:
        raise InputError(path, line, f"id \"{value}\" 与第 {seen[value]} 行重复")
    seen[value] = line
    return value


def _text(obj: dict[str, Any], key: str, path: Path, line: int) -> str:
    value = require_str(obj, key, path, line)
    assert value is not None
    return value


def _parse_pairs(path: Path) -> list[tuple[str, tuple[str, str]]]:
    seen: dict[str, int] = {}
    return [(_id(o, path, n, seen), (_text(o, "a", path, n), _text(o, "b", path, n)))
            for n, o in read_objects(path)]


def _parse_context(value: Any, path: Path, line: int) -> list[ChatTurn]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(path, line, "字段 \"context\" 应为数组")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str):
            raise InputError(path, line, f"context[{i}] 应为含字符串 \"text\" 的对象")
        role = turn.get("role", "customer")
        if not isinstance(role, str):
            raise InputError(path, line, f"context[{i}].role 应为字符串")
        turns.append(ChatTurn(role=role, text=turn["text"]))
    return turns


def _parse_reviews(value: Any, n_answers: int, path: Path, line: int) -> list[list[float] | None] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n_answers:
        raise InputError(path, line, f"字段 \"reviews\" 应为与 answers 等长（{n_answers}）的数组")
    reviews: list[list[float] | None] = []
    for i, scores in enumerate(value):
        if scores is None:
            reviews.append(None)
            continue
        if not isinstance(scores, list) or not all(
            isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s <= 1 for s in scores
        ):
            raise InputError(path, line, f"reviews[{i}] 应为 null 或 [0, 1] 之间的数字数组")
        reviews.append([float(s) for s in scores])
    return reviews


def _parse_groups(path: Path) -> list[tuple[str, RankGroup]]:
    seen: dict[str, int] = {}
    groups = []
    for n, obj in read_objects(path):
        gid = _id(obj, path, n, seen)
        answers = obj.get("answers")
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise InputError(path, n, "字段 \"answers\" 应为字符串数组")
        groups.append((gid, RankGroup(
            question=_text(obj, "question", path, n),
            answers=answers,
            context=_parse_context(obj.get("context"), path, n),
            reference=require_str(obj, "reference", path, n, optional=True),
            reviews=_parse_reviews(obj.get("reviews"), len(answers), path, n),
        )))
    return groups


def _parse_bank(path: Path) -> list[BankEntry]:
    seen: dict[str, int] = {}
    return [BankEntry(_id(o, path, n, seen), _text(o, "question", path, n),
                      require_str(o, "answer", path, n, optional=True) or "")
            for n, o in read_objects(path)]


def _parse_queries(path: Path) -> list[tuple[str, str]]:
    seen: dict[str, int] = {}
    return [(_id(o, path, n, seen), _text(o, "query", path, n)) for n, o in read_objects(path)]


def cmd_similarity(args: argparse.Namespace) -> None:
    """Score pairs of texts."""
    pairs = _parse_pairs(args.input)
    scores = similarity_scores([p for _, p in pairs], embedder=_embedder(args.model),
                               show_progress=True)
    with atomic_output(args.output) as out:
        for (pid, _), score in zip(pairs, scores, strict=True):
            write_line(out, {"id": pid, "score": round(score, 6)})


def cmd_rank(args: argparse.Namespace) -> None:
    """Score every answer of every group."""
    groups = _parse_groups(args.input)
    ranked = rank_answers([g for _, g in groups], embedder=_embedder(args.model),
                          weights=RankWeights.from_settings(get_settings()), show_progress=True)
    with atomic_output(args.output) as out:
        for (gid, _), scores in zip(groups, ranked, strict=True):
            write_line(out, {"id": gid, "scores": [round(s.score, 6) for s in scores]})


def cmd_lookup(args: argparse.Namespace) -> None:
    """Search the bank for each query."""
    if args.k < 1:
        raise InputError(args.input, None, "--k 必须是正整数")
    bank = _parse_bank(args.bank)
    queries = _parse_queries(args.input)
    # A large bank's index (vectors, keyword postings, partitions) is kept under the data dir's
    # cache like the embeddings: a second run over the same bank loads it instead of rebuilding.
    index = cached_index(bank, embedder=_embedder(args.model), cache_dir=get_settings().cache_dir,
                         semantic_weight=get_settings().lookup_semantic_weight, show_progress=True)
    hits = index.search([q for _, q in queries], k=args.k, show_progress=True)
    with atomic_output(args.output) as out:
        for (qid, _), found in zip(queries, hits, strict=True):
            write_line(out, {"id": qid, "hits": [h.id for h in found]})


def cmd_mine_questions(args: argparse.Namespace) -> None:
    """Mine the customer questions of a chat-log file (reads no database)."""
    from training.chats.importer import stderr_progress
    from training.chats.parsers import parse_chat_log
    from training.mining.mine import mine_questions

    raw = _read_bytes(args.input)
    try:
        with stderr_progress("读取聊天记录") as progress:
            log = parse_chat_log(raw, file_name=args.input.name, file_format=args.format,
                                 progress=progress, limit_bytes=CLI_FILE_LIMIT)
    except UserError as exc:
        raise InputError(args.input, None, str(exc)) from exc
    embedder = _embedder(args.model)
    with stderr_progress("挖掘问题") as progress:
        clusters = mine_questions(log.lines, embedder=embedder, progress=progress)
    with atomic_output(args.output) as out:
        for number, cluster in enumerate(clusters, start=1):
            write_line(out, {"id": f"c{number}", "question": cluster.question,
                             "frequency": cluster.frequency, "category": cluster.category,
                             "examples": cluster.examples, "context": cluster.context,
                             "agent_replies": cluster.agent_replies})


def cmd_import_chats(args: argparse.Namespace) -> None:
    """Import a chat-log file into the configured database as a trainer or admin."""
    from sqlmodel import select

    from training.chats.importer import import_chat_log, stderr_progress
    from training.core.db import get_engine, session_scope
    from training.models import User

    raw = _read_bytes(args.file)
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


def cmd_adapt(args: argparse.Namespace) -> None:
    """Fine-tune the app's encoder on the database's own data as a trainer or admin."""
    from sqlmodel import select

    from training.core.db import get_engine, session_scope
    from training.models import User
    from training.nlp.model_versions import activate_version
    from training.ops.adapt_platform import adapt_from_platform

    where = Path(f"--as {args.as_user}")
    with session_scope(get_engine()) as session:
        actor = session.exec(select(User).where(User.username == args.as_user)).first()
        if actor is None:
            raise InputError(where, None, f"用户「{args.as_user}」不存在（--as）")
        try:
            version = adapt_from_platform(session=session, actor=actor, base_model=args.model,
                                          budget_seconds=args.budget_minutes * 60)
            if args.activate:
                activate_version(session=session, actor=actor, version_id=version.id)
        except (UserError, PermissionDenied) as exc:
            raise InputError(where, None, str(exc)) from exc
        report = version.report or {}
    print(json.dumps({"version": version.name, "path": version.path, "active": bool(args.activate),
                      "before": report.get("before"), "after": report.get("after"),
                      "training": report.get("training"), "sources": report.get("sources")},
                     ensure_ascii=False))


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


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"无法读取文件（{exc.strerror}）") from exc


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
    formats = ["auto", "jddc", "csv", "tsv", "xlsx", "jsonl"]
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``huashu`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
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
