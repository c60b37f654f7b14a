"""Upgrading a database that holds data: first revision → head one step at a time, then back and up.

The database goes back to base, up to the first revision and is filled with plain SQL in that
revision's shapes (users, a cohort, a chat import with messages, a mined question, a knowledge
item, a script with its version, a paper with items, an assignment, an attempt with answers and a
review, a certification with a certificate, an embedding, an audit entry). Every later revision
(whatever ``migrations/versions`` holds, found with Alembic's ScriptDirectory) is applied alone;
after each one the rows are all there with unchanged values and every added column holds its
server default. Then the chain is walked down to the first revision and up again.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from training.chats.importer import list_imports
from training.core.db import make_engine
from training.core.migrate import alembic_config
from training.models import ChatImport, User

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]
#: (revision, table, column) of every column dropped while it held data; each needs its own test
#: that the data moved: certification.paper_id → certificationpaper (see the test below).
DROPPED_WITH_DATA = {("0003", "certification", "paper_id")}
T0 = "2026-01-05 09:00:00"
T1 = "2026-01-05 10:30:00"


def revision_chain() -> list[str]:
    """Every revision from the first to the single head, in upgrade order."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, f"several heads: {scripts.get_heads()}"
    return [rev.revision for rev in reversed(list(scripts.walk_revisions()))]


def insert(conn: sa.Connection, table: str, **values: Any) -> int:
    """Insert one row with plain SQL; returns its id (0 for tables keyed otherwise)."""
    names = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join(f":{name}" for name in values)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    if table == "embeddingcache":
        conn.execute(sa.text(sql), values)
        return 0
    return int(conn.execute(sa.text(sql + " RETURNING id"), values).scalar_one())


def seed_first_revision(engine: Engine) -> dict[str, int]:
    """Representative rows of every table the first revision has."""
    with engine.begin() as c:
        ids: dict[str, int] = {}
        ids["cohort"] = insert(c, "cohort", name="2026年1月新人班", description="", created_at=T0)
        for role in ("admin", "trainer", "new_hire"):
            ids[role] = insert(c, "user", username=role, display_name=f"{role}名", role=role,
                               cohort_id=ids["cohort"] if role == "new_hire" else None,
                               password_hash="$argon2id$x", is_active=True, failed_logins=0,
                               locked_until=None, created_at=T0, joined_at=T0)
        ids["import"] = insert(c, "chatimport", file_name="chatlog.tsv", file_sha256="a" * 64,
                               file_format="jddc", imported_by=ids["trainer"], imported_at=T0,
                               session_count=1, message_count=2, question_count=1)
        chat = [("customer", "什么时候发货？"), ("agent", "亲，48小时内发货哦")]
        for seq, (role, text) in enumerate(chat, start=1):
            insert(c, "chatmessage", import_id=ids["import"], session_key="s1", seq=seq, role=role,
                   text=text, text_clean=text, sent_at=T0)
        ids["mined"] = insert(c, "minedquestion", import_id=ids["import"], question="什么时候发货？",
                              frequency=3, category="物流配送", examples='["啥时候发货"]',
                              context='[{"role": "customer", "text": "在吗"}]',
                              agent_replies='["48小时内"]', hidden=False, in_question_bank=True,
                              covered_by_script_id=None, created_at=T0)
        ids["item"] = insert(c, "knowledgeitem", kind="single", stem="质保多久？",
                             options='["A. 12个月", "B. 6个月"]', answer="A", explanation="", sku="QH-1",
                             tags='["质保"]', created_by=ids["trainer"], created_at=T0)
        ids["script"] = insert(c, "script", question="什么时候发货？", category="物流配送", tags='["发货"]',
                               status="approved", current_version=1, created_by=ids["trainer"],
                               created_at=T0, updated_at=T0)
        insert(c, "scriptversion", script_id=ids["script"], version=1, question="什么时候发货？",
               answer="亲，付款后48小时内发货哦", source_answer_id=None, editor_id=ids["trainer"], note="",
               created_at=T0)
        ids["paper"] = insert(c, "exampaper", title="新人考试", description="", status="published",
                              time_limit_minutes=30, pass_mark=0.6, created_by=ids["trainer"],
                              created_at=T0, published_at=T0)
        ids["scenario"] = insert(c, "examitem", paper_id=ids["paper"], position=1, kind="scenario",
                                 mined_question_id=ids["mined"], knowledge_item_id=None,
                                 prompt="什么时候发货？", context="[]", points=1.0)
        ids["choice"] = insert(c, "examitem", paper_id=ids["paper"], position=2, kind="knowledge",
                               mined_question_id=None, knowledge_item_id=ids["item"], prompt="质保多久？",
                               context="[]", points=1.0)
        ids["assignment"] = insert(c, "examassignment", paper_id=ids["paper"], cohort_id=ids["cohort"],
                                   user_id=None, opens_at=T0, closes_at=None, max_attempts=1, created_at=T0)
        ids["attempt"] = insert(c, "attempt", assignment_id=ids["assignment"], user_id=ids["new_hire"],
                                started_at=T0, deadline_at=T1, submitted_at=T1, status="submitted", score=0.8)
        ids["answer"] = insert(c, "answer", attempt_id=ids["attempt"], item_id=ids["scenario"],
                               text="亲，付款后两天内发货", choice="", saved_at=T1, time_spent_seconds=42.5,
                               chars_per_minute=30.0, auto_score=0.7)
        insert(c, "answer", attempt_id=ids["attempt"], item_id=ids["choice"], text="", choice="A",
               saved_at=T1, time_spent_seconds=5.0, chars_per_minute=None, auto_score=1.0)
        insert(c, "review", answer_id=ids["answer"], reviewer_id=ids["trainer"], score=0.9,
               rubric='{"礼貌": 1}', comment="很好", created_at=T1)
        ids["certification"] = insert(c, "certification", name="上岗认证", description="",
                                      paper_id=ids["paper"], pass_mark=0.6, valid_days=180,
                                      required_for_duty=True)
        insert(c, "certificate", certification_id=ids["certification"], user_id=ids["new_hire"],
               attempt_id=ids["attempt"], issued_at=T1, expires_at="2026-07-04 10:30:00", revoked_at=None)
        insert(c, "embeddingcache", model_id="embedded", text_hash="b" * 64, dim=2,
               vector=b"\x00\x00\x80?\x00\x00\x00\x00", created_at=T0)
        insert(c, "auditlog", at=T1, actor_id=ids["trainer"], action="chat.import", target="chatlog.tsv",
               detail='{"messages": 2}')
    return ids


def snapshot(engine: Engine, tables: set[str]) -> Snapshot:
    """Every row of ``tables`` (that still exist) by primary key, read through reflection."""
    found = set(sa.inspect(engine).get_table_names()) & tables
    shot: Snapshot = {}
    with engine.connect() as conn:
        for name in sorted(found):
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            keys = [c.name for c in table.primary_key.columns]
            shot[name] = {tuple(row[k] for k in keys): dict(row)
                          for row in conn.execute(sa.select(table)).mappings()}
    return shot


def _norm(value: Any) -> str:
    text = str(value).strip().lower()
    return {"0": "false", "f": "false", "1": "true", "t": "true"}.get(text, text)


def server_defaults(engine: Engine, table: str) -> dict[str, str | None]:
    """Each column's server default as plain text ("'x'::character varying" → "x")."""
    out: dict[str, str | None] = {}
    for column in sa.inspect(engine).get_columns(table):
        default = column.get("default")
        if default is not None:
            default = re.sub(r"::[\w .]+$", "", str(default)).strip("()").strip("'")
        out[column["name"]] = default
    return out


def check_step(
    engine: Engine, revision: str, before: Snapshot, after: Snapshot,
) -> set[tuple[str, str, str]]:
    """Assert rows and values survived one upgrade and added columns hold their defaults.

    Returns:
        (revision, table, column) of each dropped column that held data.
    """
    lost: set[tuple[str, str, str]] = set()
    for table, rows in before.items():
        assert table in after, f"{revision} dropped table {table} with {len(rows)} rows"
        assert after[table].keys() == rows.keys(), f"{revision} changed the rows of {table}"
        defaults = server_defaults(engine, table)
        for key, old in rows.items():
            new = after[table][key]
            kept = {c: v for c, v in old.items() if c in new}
            assert {c: new[c] for c in kept} == kept, f"{revision} changed {table} row {key}"
            lost |= {(revision, table, c) for c, v in old.items() if c not in new and v is not None}
            for column in new.keys() - old.keys():
                default = defaults[column]
                expected = None if default is None else _norm(default)
                actual = None if new[column] is None else _norm(new[column])
                assert actual == expected, \
                    f"{revision}: {table}.{column} is {new[column]!r}, server default {default!r}"
    return lost


def test_upgrade_from_the_first_revision_keeps_the_data_and_round_trips(db_url: str) -> None:
    chain = revision_chain()
    config = alembic_config(db_url)
    engine = make_engine(db_url)
    command.downgrade(config, "base")
    command.upgrade(config, chain[0])
    ids = seed_first_revision(engine)
    tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    first = snapshot(engine, tables)
    assert all(first[t] for t in tables), "every table of the first revision holds a row"

    shots, lost = [first], set()
    for revision in chain[1:]:
        try:
            command.upgrade(config, revision)
        except sa.exc.DBAPIError as exc:
            pytest.fail(f"upgrade to {revision} fails on a database with data: {exc.orig}")
        shots.append(snapshot(engine, tables))
        lost |= check_step(engine, revision, shots[-2], shots[-1])
    assert lost == DROPPED_WITH_DATA
    print(f"upgraded {len(chain)} revisions {chain[0]}→{chain[-1]} with "
          f"{sum(len(r) for r in first.values())} rows in {len(tables)} tables")

    with Session(engine) as session:  # today's models read every old row; new rows get fresh ids
        for mapper in SQLModel._sa_registry.mappers:
            name = str(getattr(mapper.local_table, "name", ""))
            if name in tables:
                assert len(session.exec(select(mapper.class_)).all()) == len(first[name]), name
        admin = session.get(User, ids["admin"])
        listed = list_imports(session=session, actor=admin)
        assert [(i.id, i.imported_by, i.message_count) for i in listed] == [
            (ids["import"], "trainer名（trainer）", 2)]
        session.add(ChatImport(file_name="new.tsv", file_sha256="c" * 64, file_format="jddc"))
        session.commit()
        assert len(session.exec(select(ChatImport)).all()) == 2

    gone = {(table, column) for _, table, column in lost}  # comes back empty on downgrade
    for revision in reversed(chain[:-1]):  # down one step at a time: the first revision's rows stay
        command.downgrade(config, revision)
        now = snapshot(engine, tables)
        for table, rows in first.items():
            assert rows.keys() <= now[table].keys(), f"down to {revision}: rows of {table} lost"
            for key, old in rows.items():
                kept = {c: v for c, v in old.items() if (table, c) not in gone}
                assert {c: now[table][key][c] for c in kept} == kept, f"down to {revision}: {table} {key}"
    command.upgrade(config, "head")
    again = snapshot(engine, tables)
    again["chatimport"] = {k: v for k, v in again["chatimport"].items() if k in shots[-1]["chatimport"]}
    assert again == shots[-1]
    engine.dispose()


def test_certification_papers_survive_the_upgrade(db_url: str) -> None:
    config = alembic_config(db_url)
    engine = make_engine(db_url)
    command.downgrade(config, "base")
    command.upgrade(config, revision_chain()[0])
    ids = seed_first_revision(engine)
    command.upgrade(config, "head")
    with engine.connect() as conn:
        links = conn.execute(sa.text("SELECT certification_id, paper_id FROM certificationpaper")).all()
    engine.dispose()
    assert [tuple(link) for link in links] == [(ids["certification"], ids["paper"])]
