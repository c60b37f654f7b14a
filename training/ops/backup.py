"""Backup and restore of the whole database: a consistent snapshot and putting it back.

Two file kinds. A SQLite database is copied page by page with SQLite's online backup API (one
step, so one consistent state) into a plain SQLite file. PostgreSQL, or SQLite with
``portable=True``, is dumped inside one REPEATABLE READ transaction into a zip archive: a
manifest (format, Alembic revision, row counts) and one JSON-lines file per table, restorable
into either backend. Restores check the whole file before touching the target, refuse another
schema revision and a non-empty target (unless forced), and load in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection, make_url

from training.core.db import make_engine
from training.core.migrate import upgrade_database
from training.ops.backup_archive import (
    BackupError,
    BackupSummary,
    app_tables,
    head_revision,
    load_archive,
    read_archive,
    schema_revision,
    write_archive,
)

__all__ = ["BackupError", "BackupSummary", "backup_database", "read_backup", "restore_database"]

SQLITE_MAGIC = b"SQLite format 3\x00"
ZIP_MAGIC = b"PK\x03\x04"


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, None for other backends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("内存数据库无法备份或恢复。")
    return Path(parsed.database)


@contextmanager
def _atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_copy(source: Path, target: Path, *, journal_mode: str) -> None:
    """Copy a whole SQLite database in one backup-API step (a consistent snapshot)."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
        dst.execute(f"PRAGMA journal_mode={journal_mode}")
    finally:
        dst.close()
        src.close()


def backup_database(url: str, target: Path, *, portable: bool = False) -> BackupSummary:
    """Write a consistent snapshot of the database at ``url`` to ``target`` (replaced atomically).

    SQLite becomes a SQLite file unless ``portable``; PostgreSQL always becomes a zip archive.
    """
    db_file = _sqlite_file(url)
    if db_file is not None and not db_file.is_file():
        raise BackupError(f"数据库文件不存在：{db_file}")
    with _atomic_file(target) as partial:
        if db_file is not None and not portable:
            _sqlite_copy(db_file, partial, journal_mode="DELETE")
            summary = read_backup(partial)
        elif db_file is not None:
            with tempfile.TemporaryDirectory() as folder:
                snapshot = Path(folder) / "snapshot.db"
                _sqlite_copy(db_file, snapshot, journal_mode="DELETE")
                summary = _archive_of(f"sqlite:///{snapshot}", partial, "sqlite")
        else:
            summary = _archive_of(url, partial, "postgresql")
    return replace(summary, path=target)


def _archive_of(url: str, out: Path, backend: str) -> BackupSummary:
    engine = make_engine(url)
    try:
        return write_archive(engine, out, backend)
    finally:
        engine.dispose()


def _kind(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"无法读取备份文件（{exc.strerror}）。") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(ZIP_MAGIC):
        return "archive"
    raise BackupError("这不是 Huashu 备份文件（既不是 SQLite 数据库，也不是备份压缩包）。")


def _read_sqlite_backup(path: Path) -> BackupSummary:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise BackupError(f"备份文件已损坏或不完整（完整性检查：{check[0][0]}）。")
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" not in names:
                raise BackupError("备份文件里没有数据库版本信息，不是 Huashu 备份。")
            version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            rows = {t.name: int(conn.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0])
                    for t in app_tables() if t.name in names}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"备份文件已损坏或不完整（{exc}）。") from exc
    return BackupSummary(path, "sqlite", str(version[0]) if version else "", rows)


def read_backup(path: Path) -> BackupSummary:
    """Check a backup file through and describe it; raises BackupError if it is unusable."""
    return _read_sqlite_backup(path) if _kind(path) == "sqlite" else read_archive(path)


def _existing_rows(conn: Connection) -> int:
    present = set(inspect(conn).get_table_names())
    return sum(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
               for t in app_tables() if t.name in present)


def restore_database(url: str, source: Path, *, force: bool = False) -> BackupSummary:
    """Replace the database at ``url`` with the backup in ``source``.

    The file is checked completely first; another schema revision, or a target that already
    holds rows (unless ``force``), is refused before anything is written.
    """
    summary = read_backup(source)
    head = head_revision()
    if summary.revision != head:
        raise BackupError(f"备份文件的数据库版本（{summary.revision or '未知'}）与当前程序（{head}）不一致，"
                          "不能恢复；请用同一版本的程序恢复。")
    db_file = _sqlite_file(url)
    if summary.kind == "sqlite" and db_file is None:
        raise BackupError("SQLite 备份文件只能恢复到 SQLite 数据库；迁往 PostgreSQL 请用 "
                          "huashu backup --portable 生成可移植备份。")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = schema_revision(conn)
            existing = _existing_rows(conn) if current is not None else 0
        if current is not None and current != head:
            raise BackupError(f"目标数据库版本（{current}）与当前程序（{head}）不一致，请先升级数据库。")
        if existing and not force:
            raise BackupError(f"目标数据库不是空的（已有 {existing} 行数据）；确认覆盖请加 --force。")
        if summary.kind == "archive":
            if current is None:
                upgrade_database(url)
            load_archive(engine, source)
        else:
            engine.dispose()
            assert db_file is not None
            _sqlite_copy(source, db_file, journal_mode="WAL")
    finally:
        engine.dispose()
    return summary
