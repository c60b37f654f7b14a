"""Script bank service: versions, role checks and live lookup on the demo bank."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from scripts_bank import authoring, service
from training.auth.permissions import PermissionDenied
from training.models import Role, ScriptVersion, User
from training.nlp.embeddings import DbEmbeddingStore, Embedder
from training.ops.demo.seed import seed_demo


def user(session: Session, role: Role) -> User:
    found = session.exec(select(User).where(User.role == role.value)).first()
    assert found is not None
    return found


@pytest.fixture
def demo(session: Session) -> Session:
    seed_demo(session=session)
    return session


def test_revisions_keep_every_version(demo: Session) -> None:
    trainer = user(demo, Role.TRAINER)
    created = authoring.create_script(session=demo, actor=trainer, question="能开专票吗",
                                    answer="亲，可以开具增值税专用发票", category="发票")
    revised = authoring.revise_script(session=demo, actor=trainer, script_id=created.id,
                                    answer="亲，可以开具专票，请提供开票资料", note="补充资料说明")
    assert revised.version == 2 and revised.answer.endswith("开票资料")
    history = authoring.script_history(session=demo, actor=trainer, script_id=created.id)
    assert [v.version for v in history] == [2, 1]
    assert history[1].answer == "亲，可以开具增值税专用发票"


@pytest.mark.parametrize("role", [Role.AGENT, Role.NEW_HIRE])
def test_agents_cannot_write_scripts(demo: Session, role: Role) -> None:
    actor = user(demo, role)
    before = len(demo.exec(select(ScriptVersion)).all())
    with pytest.raises(PermissionDenied):
        authoring.create_script(session=demo, actor=actor, question="q", answer="a", category="其他")
    with pytest.raises(PermissionDenied):
        authoring.revise_script(session=demo, actor=actor, script_id=1, answer="改掉")
    assert len(demo.exec(select(ScriptVersion)).all()) == before
    assert service.list_scripts(session=demo, actor=actor)  # but they may read


def test_script_validation(demo: Session) -> None:
    trainer = user(demo, Role.TRAINER)
    with pytest.raises(authoring.ScriptError):
        authoring.create_script(session=demo, actor=trainer, question=" ", answer="a", category="发票")
    with pytest.raises(authoring.ScriptError):
        authoring.create_script(session=demo, actor=trainer, question="q", answer="a", category="闲聊")


@pytest.mark.encoder
def test_lookup_finds_the_demo_script_for_a_paraphrase(
    demo: Session, engine: Engine, real_encoder: object,
) -> None:
    agent = user(demo, Role.AGENT)
    embedder = Embedder(real_encoder, DbEmbeddingStore(engine))  # type: ignore[arg-type]
    scripts = service.list_scripts(session=demo, actor=agent)
    target = next(s for s in scripts if "发票" in s.question)
    hits = service.lookup_scripts(session=demo, actor=agent, query="你们这能给开个发票不",
                                  embedder=embedder, semantic_weight=0.7, k=3)
    assert hits[0].script.id == target.id
    assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    with pytest.raises(PermissionDenied):
        service.lookup_scripts(session=demo, actor=None, query="发票", embedder=embedder,
                               semantic_weight=0.7)
