"""Encoder versions: who may manage them, switching and its audit, calibration, adaptation end to end."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from exam_world import Demo, demo_people, more_candidates, publish, sit
from sqlmodel import Session, col, select

from scripts_bank.authoring import create_script
from training.auth.permissions import PermissionDenied
from training.core.config import get_settings
from training.core.errors import UserError
from training.models import Answer, AuditLog, EncoderVersion, MinedQuestion, Review, User
from training.nlp.adapt.data import RankExample
from training.nlp.adapt.finetune import TrainConfig
from training.nlp.encoder.embedded import embedded_model_dir
from training.nlp.encoder.load import load_encoder
from training.nlp.encoder.model_ids import MODEL_CARD, local_model_id
from training.nlp.model_versions import (
    SHIPPED_NAME,
    activate_version,
    active_model,
    active_version,
    list_versions,
    model_folder,
    model_threshold,
    read_card,
    register_version,
)
from training.ops.adapt_platform import MIN_ITEMS, adapt_from_platform, platform_data

CLUSTERS = {
    "什么时候发货": ["几天能发货", "今天能发出吗", "下单后多久发货", "什么时候寄出"],
    "可以开发票吗": ["能开专票吗", "发票怎么开", "需要发票怎么办", "开票抬头写公司可以吗"],
    "怎么申请退货": ["不想要了怎么退", "退货流程是什么", "七天无理由怎么退", "退货要自己寄吗"],
}


@pytest.fixture
def shipped_folder() -> Path:
    """The shipped encoder's rebuilt folder, under the normal cache (set up before ``data_dir``)."""
    return embedded_model_dir(get_settings().cache_dir)


@pytest.fixture
def data_dir(db_url: str, shipped_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[Path]:
    """A fresh data dir for saved model versions (the database stays the test database)."""
    folder = tmp_path / "data"
    monkeypatch.setenv("HUASHU_DATA_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def demo(session: Session, data_dir: Path) -> Demo:
    return demo_people(session)


def _fake_version_folder(data_dir: Path, name: str, card: dict[str, object] | None = None) -> Path:
    folder = data_dir / "models" / name
    folder.mkdir(parents=True)
    (folder / MODEL_CARD).write_text(json.dumps(card or {"id": name}), encoding="utf-8")
    return folder


def _register(session: Session, demo: Demo, data_dir: Path, name: str) -> EncoderVersion:
    return register_version(session=session, actor=demo.trainer, name=name, base_model="embedded",
                            folder=_fake_version_folder(data_dir, name), report={"before": {}, "after": {}})


def _audit(session: Session, action: str) -> list[AuditLog]:
    query = select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    return list(session.exec(query).all())


@pytest.mark.parametrize("role", ["agent", "newhire"])
def test_agents_and_new_hires_cannot_manage_versions(
    session: Session, demo: Demo, data_dir: Path, role: str,
) -> None:
    actor = getattr(demo, role)
    with pytest.raises(PermissionDenied):
        list_versions(session=session, actor=actor)
    with pytest.raises(PermissionDenied):  # the approved scripts and reviewed answers it reads
        platform_data(session=session, actor=actor)
    with pytest.raises(PermissionDenied):
        register_version(session=session, actor=actor, name="sneaky", base_model="embedded",
                         folder=_fake_version_folder(data_dir, "sneaky"), report={})
    version = _register(session, demo, data_dir, "v1")
    for target in (version.id, None):
        with pytest.raises(PermissionDenied):
            activate_version(session=session, actor=actor, version_id=target)
    with pytest.raises(PermissionDenied):
        adapt_from_platform(session=session, actor=actor, budget_seconds=1)
    assert [v.name for v in list_versions(session=session, actor=demo.trainer)] == ["v1"]
    assert active_version(session=session) is None
    assert _audit(session, "encoder.activate") == []
    assert [a.actor_id for a in _audit(session, "encoder.register")] == [demo.trainer.id]
    assert sorted(p.name for p in (data_dir / "models").iterdir()) == ["sneaky", "v1"]  # only the fixtures


def test_switching_versions_and_back_to_shipped_is_audited(
    session: Session, demo: Demo, data_dir: Path,
) -> None:
    first = _register(session, demo, data_dir, "v1")
    second = _register(session, demo, data_dir, "v2")
    model = activate_version(session=session, actor=demo.trainer, version_id=first.id)
    assert Path(model).resolve() == (data_dir / "models" / "v1").resolve()
    activate_version(session=session, actor=demo.trainer, version_id=second.id)
    active = session.exec(select(EncoderVersion).where(col(EncoderVersion.active).is_(True))).all()
    assert [v.name for v in active] == ["v2"]
    assert Path(active_model(session=session)).resolve() == (data_dir / "models" / "v2").resolve()

    assert activate_version(session=session, actor=demo.trainer, version_id=None) == get_settings().model
    assert active_version(session=session) is None
    rows = _audit(session, "encoder.activate")
    assert [(r.target, r.detail) for r in rows] == [
        (f"encoder:{first.id}", {"previous": SHIPPED_NAME, "now": "v1"}),
        (f"encoder:{second.id}", {"previous": "v1", "now": "v2"}),
        ("encoder:shipped", {"previous": "v2", "now": SHIPPED_NAME}),
    ]
    assert {r.actor_id for r in rows} == {demo.trainer.id}
    with pytest.raises(UserError, match="找不到"):
        activate_version(session=session, actor=demo.trainer, version_id=9999)


def test_active_model_falls_back_to_the_setting_when_the_folder_is_gone(
    session: Session, demo: Demo, data_dir: Path,
) -> None:
    version = _register(session, demo, data_dir, "v1")
    activate_version(session=session, actor=demo.trainer, version_id=version.id)
    assert active_model(session=session) != get_settings().model
    shutil.rmtree(model_folder(version))
    assert active_model(session=session) == get_settings().model
    with pytest.raises(UserError, match="模型文件夹不存在"):
        activate_version(session=session, actor=demo.trainer, version_id=version.id)


def test_model_threshold_maps_through_the_card_calibration(data_dir: Path) -> None:
    calibrated = _fake_version_folder(data_dir, "calibrated", {
        "id": "cal-1",
        "calibration": {"base_quantiles": [-0.2, 0.8, 0.92, 1.0], "model_quantiles": [-0.5, 0.3, 0.6, 1.0]}})
    model_id = local_model_id(str(calibrated))
    assert model_id.endswith("@cal-1")
    assert model_threshold(model_id, 0.92) == pytest.approx(0.6)
    assert model_threshold(model_id, 0.86) == pytest.approx(0.45)
    plain = local_model_id(str(_fake_version_folder(data_dir, "plain", {"id": "plain-1"})))
    assert model_threshold(plain, 0.92) == 0.92
    assert model_threshold("embedded", 0.9) == 0.9


def _small_world(session: Session, demo: Demo) -> None:
    """The demo bank plus three mined clusters with paraphrases, two of them answered by a script."""
    for i, (question, examples) in enumerate(CLUSTERS.items()):
        cluster = MinedQuestion(question=question, examples=examples, frequency=len(examples))
        session.add(cluster)
        session.commit()
        if i < 2:
            create_script(session=session, actor=demo.trainer, question=question, approve=True,
                          answer=f"亲，关于“{question}”：请您放心，我们会尽快为您处理哦", category="其他",
                          mined_question_id=cluster.id)


@pytest.mark.encoder
def test_adapt_from_platform_registers_a_loadable_version_with_figures(
    session: Session, demo: Demo, data_dir: Path, shipped_folder: Path, real_encoder: object,
) -> None:
    _small_world(session, demo)
    data, counts = platform_data(session=session, actor=demo.trainer)
    assert len(data) >= MIN_ITEMS and counts["clusters"] == 12
    seen: list[float] = []
    version = adapt_from_platform(session=session, actor=demo.trainer, budget_seconds=3,
                                  base_model=str(shipped_folder),
                                  config=TrainConfig(batch_size=8, max_seq_length=32),
                                  progress=lambda fraction, _message: seen.append(fraction))
    assert version.name.startswith("adapted-") and not version.active
    assert seen[-1] == 1.0 and seen == sorted(seen)
    folder = model_folder(version)
    assert folder.resolve().parent == (data_dir / "models").resolve()
    card = read_card(folder)
    for side in ("before", "after"):
        assert 0 < card[side]["rank_r1"] <= card[side]["rank_mrr"] <= 1
    assert card["training"]["steps"] >= 1 and card["sources"] == counts
    assert len(card["calibration"]["base_quantiles"]) == len(card["calibration"]["model_quantiles"]) > 2
    assert version.report is not None and "calibration" not in version.report
    assert version.report["after"] == card["after"]
    assert [a.target for a in _audit(session, "encoder.register")] == [f"encoder:{version.id}"]

    # The saved folder is a model the app can load (skipping the process-wide cache: it is temporary).
    encoder = load_encoder.__wrapped__(str(folder), "torch")
    assert encoder.model_id == f"{folder.resolve()}@{version.name}"
    texts = ["几天能发货", "发票怎么开"]
    adapted, shipped = encoder.encode(texts), real_encoder.encode(texts)  # type: ignore[attr-defined]
    assert adapted.shape == shipped.shape
    assert np.allclose(np.linalg.norm(adapted, axis=1), 1.0, atol=1e-4)
    assert np.abs(adapted - shipped).max() > 1e-4  # the weights did change


def test_too_little_data_is_refused_in_chinese(session: Session, demo: Demo, data_dir: Path) -> None:
    data, _ = platform_data(session=session, actor=demo.trainer)
    assert len(data) < MIN_ITEMS
    with pytest.raises(UserError, match=f"太少：目前只有 {len(data)} 条"):
        adapt_from_platform(session=session, actor=demo.trainer, budget_seconds=1)
    assert session.exec(select(EncoderVersion)).all() == []
    assert not (data_dir / "models").exists()


def test_model_id_of_matches_the_loaded_ids_without_loading(tmp_path: Path) -> None:
    import json

    from training.nlp.encoder.embedded import embedded_model_id
    from training.nlp.encoder.model_ids import MODEL_CARD
    from training.nlp.model_versions import model_id_of

    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / MODEL_CARD).write_text(json.dumps({"id": "v1-card"}), encoding="utf-8")
    assert model_id_of("embedded") == embedded_model_id()
    assert model_id_of(str(folder)) == f"{folder.resolve()}@v1-card"
    assert model_id_of("some/hub-name") == "some/hub-name"


def test_reviewed_answers_become_scored_pairs_and_a_best_vs_worst_example(
    session: Session, demo: Demo,
) -> None:
    admin = session.exec(select(User).where(User.role == "admin")).one()
    paper_id = publish(session, demo.trainer, "评阅样本", scenario=True, objective=0, prompt="什么时候发货")
    people = [demo.agent, *more_candidates(session, admin, 2)]
    replies = ["亲，今天下单明天就发货哦", "不知道", "明天发"]
    attempt_ids = [sit(session, person, paper_id, reply=reply)
                   for person, reply in zip(people, replies, strict=True)]
    marks = {replies[0]: [1.0, 0.8], replies[1]: [0.2], replies[2]: None}  # the third stays unreviewed
    for attempt_id in attempt_ids:
        answer = session.exec(select(Answer).where(Answer.attempt_id == attempt_id)).one()
        for i, score in enumerate(marks[answer.text] or []):
            reviewer = (demo.trainer, admin)[i]
            session.add(Review(answer_id=answer.id or 0, reviewer_id=reviewer.id or 0, score=score))
    session.commit()
    data, counts = platform_data(session=session, actor=demo.trainer)
    assert counts["reviewed_answers"] == 2 and counts["best_vs_worst"] == 1
    turn = "在吗 什么时候发货"  # the customer's context line, then the question
    assert sorted((p.a, p.b, round(p.score, 3)) for p in data.pairs) == [
        (turn, replies[1], 0.2), (turn, replies[0], 0.9)]
    assert [e for e in data.examples if e.anchor == turn] == [
        RankExample(turn, replies[0], replies[1])]
