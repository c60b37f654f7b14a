"""`huashu backup` / `huashu restore`: a consistent snapshot that comes back whole, and refusals
that leave the database untouched (another schema revision, a non-empty target, a bad file)."""

from __future__ import annotations

import json
import sqlite3
import threading
import zipfile
from pathlib import Path

import pytest
from exam_world import demo_people, publish, sit
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, col, func, select

from scripts_bank.cli.main import main
from training.auth.accounts import create_user
from training.core.db import make_engine
from training.models import Answer, Attempt, AuditLog, Cohort, EmbeddingCache, Role, User, utcnow
from training.ops.backup import read_backup

REPLY = "亲，16点前付款当天发货哦 😊 <b>不是标签</b>"


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in SQLModel.metadata.sorted_tables}


def _world(session: Session) -> int:
    """Demo people, a published paper and a submitted attempt; returns the attempt id."""
    people = demo_people(session)
    paper_id = publish(session, people.trainer, "备份考试", scenario=True, objective=2)
    session.add(EmbeddingCache(model_id="m", text_hash="h" * 64, dim=2, vector=bytes(range(8))))
    session.commit()
    return sit(session, people.newhire, paper_id, reply=REPLY)


def _wipe(url: str) -> None:
    """Throw the database away: delete the SQLite file, or drop PostgreSQL's schema."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.mark.parametrize("portable", [False, True], ids=["native", "portable"])
def test_backup_and_restore_into_a_fresh_database(
    db_url: str, engine: Engine, session: Session, tmp_path: Path, portable: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    attempt_id = _world(session)
    before = _counts(engine)
    attempt = session.get(Attempt, attempt_id)
    assert attempt is not None
    answers = session.exec(select(Answer.item_id, Answer.text, Answer.choice, Answer.auto_score)
                           .where(Answer.attempt_id == attempt_id).order_by(col(Answer.item_id))).all()
    newhire = session.exec(select(User).where(User.username == "newhire")).one()
    file = tmp_path / "huashu.backup"
    assert main(["backup", str(file)] + (["--portable"] if portable else [])) == 0
    summary = read_backup(file)
    with capsys.disabled():
        print(f"\n{make_url(db_url).get_backend_name()} {summary.kind} backup: {summary.total_rows} rows "
              f"in {len(summary.rows)} tables, {file.stat().st_size} bytes")
    assert summary.rows == before and summary.total_rows > 50
    assert summary.kind == ("sqlite" if engine.dialect.name == "sqlite" and not portable else "archive")

    session.close()
    engine.dispose()
    _wipe(db_url)
    assert main(["restore", str(file)]) == 0
    assert "已从" in capsys.readouterr().err

    fresh = make_engine(db_url)
    try:
        assert _counts(fresh) == before
        with Session(fresh) as check:
            restored = check.get(Attempt, attempt_id)
            assert restored is not None
            assert (restored.deadline_at, restored.submitted_at, restored.status, restored.questions) == (
                attempt.deadline_at, attempt.submitted_at, attempt.status, attempt.questions)
            assert check.exec(select(Answer.item_id, Answer.text, Answer.choice, Answer.auto_score)
                              .where(Answer.attempt_id == attempt_id)
                              .order_by(col(Answer.item_id))).all() == answers
            assert REPLY in [a[1] for a in answers]
            assert check.exec(select(User.password_hash).where(User.id == newhire.id)).one() == \
                newhire.password_hash
            cached = check.exec(select(EmbeddingCache)).one()
            assert cached.vector == bytes(range(8)) and cached.created_at.tzinfo is not None
            # New rows get fresh ids after the restore (PostgreSQL's sequences were moved on).
            admin = check.exec(select(User).where(User.role == Role.ADMIN.value)).first()
            late = create_user(session=check, actor=admin, username="after_restore", display_name="恢复后",
                               role=Role.AGENT, password="after-restore-1")
            assert (late.id or 0) > max(u for u in check.exec(select(User.id).where(
                User.username != "after_restore")).all() if u is not None)
    finally:
        fresh.dispose()


def test_restore_refuses_a_non_empty_target_unless_forced(
    db_url: str, engine: Engine, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _world(session)
    file = tmp_path / "huashu.backup"
    assert main(["backup", str(file)]) == 0
    before = _counts(engine)
    session.add(Cohort(name="备份之后新建的班级"))
    session.commit()
    capsys.readouterr()
    assert main(["restore", str(file)]) == 2
    assert "目标数据库不是空的" in capsys.readouterr().err
    assert _counts(engine)["cohort"] == before["cohort"] + 1
    session.close()
    engine.dispose()
    assert main(["restore", str(file), "--force"]) == 0
    assert _counts(engine) == before


def _other_revision(file: Path, out: Path) -> None:
    """A copy of ``file`` that claims the first schema revision."""
    if file.read_bytes().startswith(b"SQLite"):
        out.write_bytes(file.read_bytes())
        with sqlite3.connect(out) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0001'")
        return
    with zipfile.ZipFile(file) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                manifest["revision"] = "0001"
                data = json.dumps(manifest).encode()
            dst.writestr(name, data)


def test_bad_files_are_refused_and_change_nothing(
    db_url: str, engine: Engine, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _world(session)
    file = tmp_path / "huashu.backup"
    assert main(["backup", str(file)]) == 0
    before = _counts(engine)
    raw = file.read_bytes()
    middle = len(raw) // 2 // 4096 * 4096
    bad = {
        "truncated": (raw[: len(raw) // 2], "损坏或不完整"),
        # A block of garbage at a page boundary: SQLite's page checks or the zip's CRC-32 catch it.
        "garbled": (raw[:middle] + b"\xff" * 4096 + raw[middle + 4096:], "损坏"),
        "not-a-backup": ("订单号,问题\n1,什么时候发货\n".encode("gbk"), "不是 Huashu 备份文件"),
        "empty": (b"", "不是 Huashu 备份文件"),
    }
    _other_revision(file, tmp_path / "old.backup")
    cases = {name: (tmp_path / f"{name}.backup", msg) for name, (data, msg) in bad.items()}
    for path, (data, _) in zip((p for p, _ in cases.values()), bad.values(), strict=True):
        path.write_bytes(data)
    cases["other-revision"] = (tmp_path / "old.backup", "数据库版本（0001）")
    cases["missing"] = (tmp_path / "nowhere.backup", "无法读取备份文件")
    session.close()
    for name, (path, message) in cases.items():
        capsys.readouterr()
        assert main(["restore", str(path), "--force"]) == 2, name
        err = capsys.readouterr().err
        with capsys.disabled():
            print(f"\n{name}: {err.strip()}")
        assert message in err and "Traceback" not in err, (name, err)
        assert _counts(engine) == before, name
    with Session(engine) as check:
        assert check.exec(select(func.count()).select_from(Answer).where(Answer.text == REPLY)).one() == 1


def _backup_rows(file: Path, table: str) -> list[dict[str, object]]:
    """The rows of one table as stored in a backup file (either kind)."""
    if file.read_bytes().startswith(b"SQLite"):
        with sqlite3.connect(file) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}"')]
    with zipfile.ZipFile(file) as archive:
        return [json.loads(line) for line in archive.read(f"tables/{table}.jsonl").splitlines()]


def test_backup_is_one_consistent_snapshot_while_the_app_writes(
    db_url: str, engine: Engine, session: Session, tmp_path: Path,
) -> None:
    """A writer adds a cohort and its audit entry in one transaction, non-stop, during the backup."""
    _world(session)
    stop = threading.Event()
    written = [0]
    errors: list[BaseException] = []

    def write_pairs() -> None:
        try:
            while not stop.is_set():
                with Session(engine) as own:
                    name = f"并发班级-{written[0]}"
                    own.add(Cohort(name=name))
                    own.add(AuditLog(action="pair.cohort", target=name, at=utcnow()))
                    own.commit()
                written[0] += 1
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    file = tmp_path / "live.backup"
    writer = threading.Thread(target=write_pairs)
    writer.start()
    try:
        while written[0] < 20 and writer.is_alive():
            stop.wait(0.01)
        started = written[0]
        assert main(["backup", str(file)]) == 0
        during = written[0] - started
    finally:
        stop.set()
        writer.join(30)
    assert errors == []
    cohorts = {str(r["name"]) for r in _backup_rows(file, "cohort") if str(r["name"]).startswith("并发班级-")}
    audits = {str(r["target"]) for r in _backup_rows(file, "auditlog") if r["action"] == "pair.cohort"}
    print(f"pairs committed while the backup ran: {during}; pairs in the backup: cohorts {len(cohorts)}, "
          f"audit entries {len(audits)}; pairs in the database afterwards: {written[0]}")
    assert cohorts == audits and len(cohorts) >= started
    assert during > 0
