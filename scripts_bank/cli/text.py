"""The JSONL commands: similarity, rank, lookup and mine-questions (they read no database)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scripts_bank.cli.common import CLI_FILE_LIMIT, embedder, read_bytes, text, unique_id
from scripts_bank.index_store import cached_index
from scripts_bank.lookup import BankEntry
from training.core.config import get_settings
from training.core.errors import UserError
from training.core.jsonl import InputError, atomic_output, read_objects, require_str, write_line
from training.core.progress import stderr_progress
from training.nlp.similarity import similarity_scores
from training.ranking.rank import ChatTurn, RankGroup, RankWeights
from training.ranking.scoring import score_answers


def _parse_pairs(path: Path) -> list[tuple[str, tuple[str, str]]]:
    seen: dict[str, int] = {}
    return [(unique_id(o, path, n, seen), (text(o, "a", path, n), text(o, "b", path, n)))
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
        gid = unique_id(obj, path, n, seen)
        answers = obj.get("answers")
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise InputError(path, n, "字段 \"answers\" 应为字符串数组")
        groups.append((gid, RankGroup(
            question=text(obj, "question", path, n),
            answers=answers,
            context=_parse_context(obj.get("context"), path, n),
            reference=require_str(obj, "reference", path, n, optional=True),
            reviews=_parse_reviews(obj.get("reviews"), len(answers), path, n),
        )))
    return groups


def _parse_bank(path: Path) -> list[BankEntry]:
    seen: dict[str, int] = {}
    return [BankEntry(unique_id(o, path, n, seen), text(o, "question", path, n),
                      require_str(o, "answer", path, n, optional=True) or "")
            for n, o in read_objects(path)]


def _parse_queries(path: Path) -> list[tuple[str, str]]:
    seen: dict[str, int] = {}
    return [(unique_id(o, path, n, seen), text(o, "query", path, n)) for n, o in read_objects(path)]


def cmd_similarity(args: argparse.Namespace) -> None:
    """Score pairs of texts."""
    pairs = _parse_pairs(args.input)
    scores = similarity_scores([p for _, p in pairs], embedder=embedder(args.model),
                               show_progress=True)
    with atomic_output(args.output) as out:
        for (pid, _), score in zip(pairs, scores, strict=True):
            write_line(out, {"id": pid, "score": round(score, 6)})


def cmd_rank(args: argparse.Namespace) -> None:
    """Score every answer of every group (absolute where a group has a reference or reviews)."""
    groups = _parse_groups(args.input)
    ranked = score_answers([g for _, g in groups], embedder=embedder(args.model),
                           weights=RankWeights.from_settings(get_settings()), show_progress=True).scores
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
    index = cached_index(bank, embedder=embedder(args.model), cache_dir=get_settings().cache_dir,
                         semantic_weight=get_settings().lookup_semantic_weight, show_progress=True)
    hits = index.search([q for _, q in queries], k=args.k, show_progress=True)
    with atomic_output(args.output) as out:
        for (qid, _), found in zip(queries, hits, strict=True):
            write_line(out, {"id": qid, "hits": [h.id for h in found]})


def cmd_mine_questions(args: argparse.Namespace) -> None:
    """Mine the customer questions of a chat-log file (reads no database)."""
    from training.chats.parsers import parse_chat_log
    from training.mining.mine import mine_questions

    raw = read_bytes(args.input)
    try:
        with stderr_progress("读取聊天记录") as progress:
            log = parse_chat_log(raw, file_name=args.input.name, file_format=args.format,
                                 progress=progress, limit_bytes=CLI_FILE_LIMIT)
    except UserError as exc:
        raise InputError(args.input, None, str(exc)) from exc
    encoder = embedder(args.model)
    with stderr_progress("挖掘问题") as progress:
        clusters = mine_questions(log.lines, embedder=encoder, progress=progress)
    with atomic_output(args.output) as out:
        for number, cluster in enumerate(clusters, start=1):
            write_line(out, {"id": f"c{number}", "question": cluster.question,
                             "frequency": cluster.frequency, "category": cluster.category,
                             "examples": cluster.examples, "context": cluster.context,
                             "agent_replies": cluster.agent_replies})
