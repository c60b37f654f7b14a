"""Imports and long jobs are all-or-nothing: a crash at any row leaves no trace and a re-run succeeds.

Each test crashes a real import part-way (an exception raised at the n-th row, or SIGKILL of a
``huashu import-chats`` process), checks through a fresh session that nothing of it was committed
(no import, message, item, script, cluster or audit row) and then imports the same bytes again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, func, select

from scripts_bank.authoring import import_scripts
from scripts_bank.io import ScriptRow, export_bytes, read_script_table, scripts_table
from training.chats import importer
from training.chats.importer import import_chat_log
from training.core.config import PROJECT_ROOT
from training.exams import knowledge
from training.mining.service import mine_import
from training.models import (
    AuditLog,
    ChatImport,
    ChatMessage,
    KnowledgeItem,
    MinedQuestion,
    Role,
    Script,
    ScriptVersion,
    User,
)
from training.nlp.embeddings import Embedder

DEMO_LOG = PROJECT_ROOT / "data" / "demo" / "chatlog.tsv"
DEMO_ITEMS = PROJECT_ROOT / "data" / "demo" / "knowledge_items.csv"
DEMO_MESSAGES = 420
HUASHU = Path(sys.executable).with_name("huashu")


class Crash(RuntimeError):
    """The simulated crash (power cut, OOM kill, dropped connection) raised inside an import."""


def committed(engine: Engine, model: type[SQLModel], *where: Any) -> int:
    """Rows of ``model`` another session sees, i.e. what was committed."""
    with Session(engine) as fresh:
        return fresh.exec(select(func.count()).select_from(model).where(*where)).one()


def audits(engine: Engine, action: str) -> int:
    return committed(engine, AuditLog, AuditLog.action == action)


@pytest.fixture
def trainer(session: Session) -> User:
    user = User(username="trainer", display_name="培训师", role=Role.TRAINER.value, password_hash="x")
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


@contextmanager
def crash_after_insert(model: type[SQLModel], nth: int) -> Iterator[list[int]]:
    """Raise Crash right after the n-th row of ``model`` is inserted.

    Yields a list that receives the row count of the table as the crashing transaction saw it,
    which proves rows had been written before the crash.
    """
    seen: list[int] = []
    calls = 0
    table = model.__table__  # type: ignore[attr-defined]

    def after_insert(_mapper: Any, connection: sa.Connection, _target: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == nth:
            seen.append(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            raise Crash(f"crash after row {nth} of {table.name}")

    event.listen(model, "after_insert", after_insert)
    try:
        yield seen
    finally:
        event.remove(model, "after_insert", after_insert)


# --- chat logs ------------------------------------------------------------------------------


@pytest.mark.parametrize("crash_row", [1, 151, DEMO_MESSAGES])
def test_chat_import_crashing_at_a_row_leaves_nothing_and_a_rerun_succeeds(
    session: Session, engine: Engine, trainer: User, monkeypatch: pytest.MonkeyPatch, crash_row: int,
) -> None:
    monkeypatch.setattr(importer, "INSERT_CHUNK", 50)
    real_clean = importer.clean_text  # type: ignore[attr-defined]
    in_transaction: list[int] = []
    calls = 0

    def clean_then_crash(text: str) -> str:  # called once per stored row
        nonlocal calls
        calls += 1
        if calls == crash_row:
            in_transaction.append(session.exec(select(func.count()).select_from(ChatMessage)).one())
            raise Crash(f"crash at row {crash_row}")
        return real_clean(text)

    monkeypatch.setattr(importer, "clean_text", clean_then_crash)
    with pytest.raises(Crash):
        import_chat_log(session=session, actor=trainer, raw=DEMO_LOG.read_bytes(), file_name="chatlog.tsv")
    assert in_transaction == [(crash_row - 1) // 50 * 50]  # whole chunks were already written
    assert (committed(engine, ChatImport), committed(engine, ChatMessage), audits(engine, "chat.import")) \
        == (0, 0, 0)

    monkeypatch.setattr(importer, "clean_text", real_clean)
    result = import_chat_log(session=session, actor=trainer, raw=DEMO_LOG.read_bytes(),
                             file_name="chatlog.tsv")
    assert result.message_count == DEMO_MESSAGES
    assert (committed(engine, ChatImport), committed(engine, ChatMessage)) == (1, DEMO_MESSAGES)


def write_big_log(path: Path, lines: int) -> None:
    """A JSON Lines chat log of ``lines`` messages, 10 per session, some with phone numbers."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            text = f"第{i}条：订单{i * 7919}什么时候发货？电话1380000{i % 10000:04d}" if i % 2 == 0 \
                else f"亲，订单{i * 7919}已安排，预计两天内发出哦"
            out.write(json.dumps({"session": f"s{i // 10}", "role": i % 2, "text": text},
                                 ensure_ascii=False) + "\n")


def test_sigkilled_cli_import_leaves_nothing_and_a_rerun_succeeds(
    db_url: str, engine: Engine, trainer: User, tmp_path: Path,
) -> None:
    lines = 60_000
    big = tmp_path / "big.jsonl"
    write_big_log(big, lines)
    env = {**os.environ, "HUASHU_DATABASE_URL": db_url}
    command = [str(HUASHU), "import-chats", str(big), "--as", trainer.username]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = b""
    percent = 0
    deadline = time.monotonic() + 600
    # Parsing fills the bar to 60 %; past that the rows are being written in one transaction.
    while percent < 65 and time.monotonic() < deadline:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        found = re.findall(rb"(\d+)%\|", seen[-400:])
        percent = int(found[-1]) if found else 0
    assert proc.poll() is None, f"import ended before it could be killed: {seen[-300:]!r}"
    assert 65 <= percent < 100, seen[-300:]
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    proc.stderr.close()
    print(f"killed import-chats of {lines} lines at {percent} %")
    assert (committed(engine, ChatImport), committed(engine, ChatMessage), audits(engine, "chat.import")) \
        == (0, 0, 0)

    rerun = subprocess.run(command, env=env, capture_output=True, timeout=900, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()[-500:]
    assert (committed(engine, ChatImport), committed(engine, ChatMessage)) == (1, lines)


# --- knowledge items and the script bank ----------------------------------------------------


def test_knowledge_import_crashing_at_a_row_leaves_nothing_and_a_rerun_succeeds(
    session: Session, engine: Engine, trainer: User,
) -> None:
    raw = DEMO_ITEMS.read_bytes()
    with crash_after_insert(KnowledgeItem, 5) as seen, pytest.raises(Crash):
        knowledge.import_items(session=session, actor=trainer, raw=raw, file_name=DEMO_ITEMS.name,
                               limit_bytes=10**6)
    assert seen and seen[0] >= 5
    assert (committed(engine, KnowledgeItem), audits(engine, "knowledge.import")) == (0, 0)
    session.rollback()
    result = knowledge.import_items(session=session, actor=trainer, raw=raw, file_name=DEMO_ITEMS.name,
                                    limit_bytes=10**6)
    assert result.errors == [] and result.created >= 20
    assert committed(engine, KnowledgeItem) == result.created


def script_rows(count: int, marker: str = "") -> list[ScriptRow]:
    return [ScriptRow(f"{marker}第{i}个问题：订单多久发货？", f"亲，第{i}类订单付款后48小时内发货哦",
                      "物流配送", ["发货"]) for i in range(count)]


def test_script_import_crashing_at_a_row_leaves_nothing_and_a_rerun_succeeds(
    session: Session, engine: Engine, trainer: User,
) -> None:
    raw = export_bytes(scripts_table(script_rows(30)), "xlsx")
    rows = read_script_table(raw, file_name="话术库.xlsx")
    with crash_after_insert(ScriptVersion, 12) as seen, pytest.raises(Crash):
        import_scripts(session=session, actor=trainer, rows=rows)
    assert seen and seen[0] >= 12
    assert (committed(engine, Script), committed(engine, ScriptVersion), audits(engine, "scripts.import"),
            audits(engine, "script.approve")) == (0, 0, 0, 0)
    session.rollback()
    assert import_scripts(session=session, actor=trainer, rows=rows) == 30
    assert committed(engine, Script, Script.status == "approved") == 30
    assert committed(engine, ScriptVersion) == 30


# --- question mining ------------------------------------------------------------------------


class CharHashEncoder:
    """Hashed character bigrams: deterministic unit vectors for tests that need no semantics."""

    model_id = "test-char-hash"

    def __init__(self, fail_when: str | None = None) -> None:
        self.fail_when = fail_when

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
               ) -> np.ndarray:
        if self.fail_when is not None and any(self.fail_when in t for t in texts):
            raise Crash(f"encoder crashed on {self.fail_when!r}")
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for i, text in enumerate(texts):
            for a, b in zip(text, text[1:] + " ", strict=True):
                out[i, zlib.crc32((a + b).encode()) % 256] += 1.0
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return np.asarray(out / norms, dtype=np.float32)


@pytest.mark.parametrize("crash", ["embedding", "storing", "coverage"])
def test_mining_crashing_at_any_step_leaves_no_clusters_and_a_rerun_succeeds(
    session: Session, engine: Engine, trainer: User, crash: str,
) -> None:
    marker = "覆盖检查"
    import_scripts(session=session, actor=trainer, rows=script_rows(1, marker))  # an approved script
    import_id = import_chat_log(session=session, actor=trainer, raw=DEMO_LOG.read_bytes(),
                                file_name="chatlog.tsv").import_id
    # "embedding" fails while clustering, "coverage" while checking coverage: mining is one
    # transaction, so neither leaves a cluster (nor a committed-then-undone one) behind.
    failing = Embedder(CharHashEncoder(fail_when={"embedding": "", "coverage": marker}.get(crash)))
    with crash_after_insert(MinedQuestion, 3 if crash == "storing" else 0) as seen, pytest.raises(Crash):
        mine_import(session=session, actor=trainer, import_id=import_id, embedder=failing)
    assert (seen[0] >= 3) if crash == "storing" else seen == []
    session.rollback()
    assert committed(engine, MinedQuestion) == 0
    assert committed(engine, ChatImport, ChatImport.question_count == 0) == 1

    working = Embedder(CharHashEncoder())
    rows = mine_import(session=session, actor=trainer, import_id=import_id, embedder=working).clusters
    assert rows and committed(engine, MinedQuestion) == len(rows)
    stored = session.get(ChatImport, import_id)
    assert stored is not None and stored.question_count == sum(r.frequency for r in rows) > 0
    assert audits(engine, "questions.mine") == 1
