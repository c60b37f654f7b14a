"""Changes reach every replica: each cached state is keyed by a database change counter.

Two engines on one database stand for two app processes (replicas). What one writes — an approved
script, a model switch, a lint phrase, a rubric — raises the counter in the same transaction, and
the other process's next read (within ``MAX_AGE``) sees it: the lookup index is rebuilt, the active
model is the new one, the lint rules and the rubric are the edited ones. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from exam_world import demo_people
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_lookup import HashingEncoder

from scripts_bank import authoring
from scripts_bank.service import lookup_scripts
from training.core import generations
from training.core.config import get_settings
from training.core.db import make_engine
from training.exams.rubrics import Criterion, save_rubric
from training.models import EncoderVersion, Script, User
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import activate_version, active_model
from training.ranking.lint_rules import PHRASE_KINDS, lint_rules, save_phrase

pytestmark = pytest.mark.db
KIND = next(iter(PHRASE_KINDS))


@pytest.fixture
def replica_b(db_url: str) -> Iterator[Engine]:
    """A second engine on the same database: another app process."""
    other = make_engine(db_url)
    yield other
    other.dispose()


@pytest.fixture(autouse=True)
def _fresh_reads() -> Iterator[None]:
    generations.forget()
    yield
    generations.forget()


def _trainer(session: Session) -> User:
    return demo_people(session).trainer


def test_a_write_raises_its_counter_once_per_transaction_and_a_rollback_raises_nothing(
        session: Session, engine: Engine) -> None:
    trainer = _trainer(session)

    def now(name: str) -> int:
        return generations.read(engine, name, max_age=0)

    lint_rules(session=session)  # the default phrases are seeded on first use
    scripts, lint, rubrics = now(generations.SCRIPTS), now(generations.LINT), now(generations.RUBRICS)
    script = authoring.create_script(session=session, actor=trainer, question="开发票吗",
                                     answer="亲，可以开的", category="发票", approve=False)
    assert now(generations.SCRIPTS) == scripts + 1  # a script and its version: one transaction, +1
    save_phrase(session=session, actor=trainer, phrase="不知道", kind=KIND, reason="推诿")
    assert (now(generations.SCRIPTS), now(generations.LINT)) == (scripts + 1, lint + 1)
    save_rubric(session=session, actor=trainer, name="售后评分表", criteria=[Criterion("准确解决", 1.0, "")],
                auto_fail=[])
    assert now(generations.RUBRICS) == rubrics + 1
    row = session.get(Script, script.id)
    assert row is not None
    row.question = "能开发票吗"
    session.add(row)
    session.flush()
    session.rollback()
    assert now(generations.SCRIPTS) == scripts + 1


def test_a_process_sees_its_own_change_at_once_and_others_within_max_age(
        session: Session, engine: Engine, replica_b: Engine) -> None:
    trainer = _trainer(session)
    seen_b = generations.read(replica_b, generations.SCRIPTS)  # B caches what it read
    authoring.create_script(session=session, actor=trainer, question="包邮吗", answer="亲，满 99 包邮",
                            category="物流配送")
    assert generations.read(replica_b, generations.SCRIPTS, max_age=60) == seen_b  # within its cache
    assert generations.read(replica_b, generations.SCRIPTS, max_age=0) == seen_b + 1


def test_a_script_approved_on_one_replica_is_found_by_a_lookup_on_the_other(
        session: Session, replica_b: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generations, "MAX_AGE", 0.0)
    trainer = _trainer(session)
    agent = session.exec(select(User).where(User.username == "agent")).one()
    embedder = Embedder(HashingEncoder())
    with Session(replica_b, expire_on_commit=False) as on_b:
        first = lookup_scripts(session=on_b, actor=agent, query="洗碗机能装在橱柜里吗", embedder=embedder,
                               semantic_weight=0.7)
    assert all("洗碗机" not in hit.script.question for hit in first)
    authoring.create_script(session=session, actor=trainer, question="洗碗机能嵌入橱柜吗",
                            answer="亲，这款洗碗机支持嵌入式安装，橱柜开孔 60 厘米即可", category="售前咨询")
    with Session(replica_b, expire_on_commit=False) as on_b:
        hits = lookup_scripts(session=on_b, actor=agent, query="洗碗机能装在橱柜里吗", embedder=embedder,
                              semantic_weight=0.7)
    assert hits and hits[0].script.question == "洗碗机能嵌入橱柜吗"


def test_a_model_switch_and_a_lint_edit_on_one_replica_reach_the_other(
        session: Session, replica_b: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUASHU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    (tmp_path / "models" / "test").mkdir(parents=True)
    trainer = _trainer(session)
    model = generations.read(replica_b, generations.MODEL, max_age=0)
    version = EncoderVersion(name="本店训练版-测试", path="models/test", base_model="embedded")
    session.add(version)
    session.commit()
    activate_version(session=session, actor=trainer, version_id=version.id)
    assert generations.read(replica_b, generations.MODEL, max_age=0) > model
    with Session(replica_b) as on_b:
        assert active_model(session=on_b).endswith("models/test")
        save_phrase(session=session, actor=trainer, phrase="自己看", kind=KIND, reason="推诿")
        assert "自己看" in {rule.phrase for rule in lint_rules(session=on_b)}
