"""The portable backup archive: a manifest and one JSON-lines file per table, in a zip.

Values are written by column type (datetimes as ISO 8601, binary as base64, JSON as JSON), so an
archive made from PostgreSQL restores into SQLite and the other way round.
"""

from __future__ import annotations

import base64
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Column, Date, DateTime, LargeBinary, Table, TypeDecorator, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import training.models  # noqa: F401  (registers every table on SQLModel.metadata)
from training.core.errors import UserError
from training.core.migrate import alembic_config
from training.models import utcnow

ARCHIVE_FORMAT = "huashu-backup"
ARCHIVE_VERSION = 1
BATCH_ROWS = 1000


class BackupError(UserError):
    """A backup or restore that cannot go ahead; the message says why."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup file holds: its kind, schema revision and rows per table."""

    path: Path
    kind: str  # "sqlite" (a database file) or "archive" (portable JSON-lines zip)
    revision: str
    rows: dict[str, int]

    @property
    def total_rows(self) -> int:
        """Rows over all tables."""
        return sum(self.rows.values())


def head_revision() -> str:
    """The newest schema revision this program knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return str(head)


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at (None if it was never migrated)."""
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(conn).get_current_revision()
    return str(current) if current else None


def app_tables() -> list[Table]:
    """The app's tables, parents before children (the order rows are restored in)."""
    return list(SQLModel.metadata.sorted_tables)


def _codec(column: Column[Any]) -> str:
    """How a column's values are written as JSON: by the storage type under any decorator."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, LargeBinary):
        return "bytes"
    if isinstance(kind, DateTime):
        return "datetime"
    return "date" if isinstance(kind, Date) else "plain"


def _encode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    codec = _codec(column)
    if codec == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value.isoformat() if codec in ("datetime", "date") else value


def _decode(table: Table, row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise BackupError(f"数据表 {table.name} 中有一行不是对象。")
    unknown = set(row) - set(table.columns.keys())
    if unknown:
        raise BackupError(f"数据表 {table.name} 含有未知字段 {sorted(unknown)}：备份来自另一版本的数据库。")
    decoded = {}
    for name, value in row.items():
        codec = _codec(table.columns[name])
        if value is not None and codec == "bytes":
            value = base64.b64decode(value, validate=True)
        elif value is not None and codec == "datetime":
            value = datetime.fromisoformat(value)
        elif value is not None and codec == "date":
            value = date.fromisoformat(value)
        decoded[name] = value
    return decoded


def write_archive(engine: Engine, out: Path, backend: str) -> BackupSummary:
    """Dump every table inside one repeatable-read transaction into a zip of JSON lines."""
    rows: dict[str, int] = {}
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            revision = schema_revision(conn)
            if revision is None:
                raise BackupError("数据库尚未初始化（没有迁移版本），没有可备份的内容。")
            if revision != head_revision():
                raise BackupError(f"数据库版本（{revision}）与程序（{head_revision()}）不一致，"
                                  "请先升级数据库再做可移植备份。")
            known = {t.name for t in app_tables()} | {"alembic_version"}
            unknown = set(inspect(conn).get_table_names()) - known
            if unknown:
                raise BackupError(f"数据库中有程序不认识的数据表 {sorted(unknown)}，可移植备份会漏掉它们。")
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for table in app_tables():
                    rows[table.name] = _dump_table(conn, table, archive)
                manifest = {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, "revision": revision,
                            "backend": backend, "created_at": utcnow().isoformat(), "tables": rows}
                archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    return BackupSummary(out, "archive", revision, rows)


def _dump_table(conn: Connection, table: Table, archive: zipfile.ZipFile) -> int:
    count = 0
    columns = list(table.columns)
    with archive.open(f"tables/{table.name}.jsonl", "w") as handle:
        result = conn.execute(select(table), execution_options={"yield_per": BATCH_ROWS})
        for row in result:
            record = {c.name: _encode(c, v) for c, v in zip(columns, row, strict=True)}
            handle.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
            count += 1
    return count


def _archive_lines(archive: zipfile.ZipFile, table: Table) -> Iterator[dict[str, Any]]:
    handle: IO[bytes]
    with archive.open(f"tables/{table.name}.jsonl") as handle:
        for line in handle:
            yield _decode(table, json.loads(line))


def read_archive(path: Path) -> BackupSummary:
    """Read the whole archive once: CRCs, JSON, fields and row counts must all be right."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
                raise BackupError("这不是 Huashu 备份文件（清单格式不对）。")
            if manifest.get("version") != ARCHIVE_VERSION:
                raise BackupError(f"不支持的备份格式版本：{manifest.get('version')}。")
            expected = manifest.get("tables") or {}
            rows = {}
            for table in app_tables():
                if table.name not in expected:
                    raise BackupError(f"备份文件缺少数据表 {table.name}：备份来自另一版本的数据库。")
                rows[table.name] = sum(1 for _ in _archive_lines(archive, table))
                if rows[table.name] != expected[table.name]:
                    raise BackupError(f"备份文件不完整：数据表 {table.name} 应有 {expected[table.name]} 行，"
                                      f"实有 {rows[table.name]} 行。")
    except BackupError:
        raise
    except (zipfile.BadZipFile, zlib.error, KeyError, EOFError, ValueError, TypeError, OSError) as exc:
        raise BackupError(f"备份文件已损坏或不完整（{exc}）。") from exc
    return BackupSummary(path, "archive", str(manifest.get("revision", "")), rows)


def _clear(conn: Connection, tables: list[Table]) -> None:
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    for table in reversed(tables):
        conn.execute(table.delete())


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """Point each serial id sequence past the restored rows (PostgreSQL only)."""
    quote = conn.dialect.identifier_preparer
    for table in tables:
        id_column = table.columns.get("id")
        if id_column is None or not id_column.primary_key:
            continue
        name = quote.format_table(table)
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence(:t, 'id'), COALESCE(MAX(id), 1), "
                          f"MAX(id) IS NOT NULL) FROM {name}"), {"t": name})


def load_archive(engine: Engine, path: Path) -> None:
    """Replace every table's rows with the archive's, in one transaction."""
    tables = app_tables()
    with zipfile.ZipFile(path) as archive, engine.begin() as conn:
        _clear(conn, tables)
        for table in tables:
            batch: list[dict[str, Any]] = []
            for row in _archive_lines(archive, table):
                batch.append(row)
                if len(batch) >= BATCH_ROWS:
                    conn.execute(table.insert(), batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
        if conn.dialect.name == "postgresql":
            _reset_sequences(conn, tables)


