"""AppTest: 训练看板 (staff) and 学习进度 (learners), on the demo history and without any results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from training.models import Cohort, User
from training.seed_history import HISTORY_COHORT, seed_demo_history

APP = str(Path(__file__).resolve().parents[1] / "app.py")
DASHBOARD, PROGRESS = "pages/team_dashboard.py", "pages/my_progress.py"
TEAM_CHARTS = ["各试卷通过率（按场次）", "各试卷成绩分布", "题目难度与区分度", "评阅一致性（按周）",
               "认证状态（每人最新证书）", "证书到期日历", "新人入职后的成绩与打字速度",
               "高频但尚无话术覆盖的客户问题"]
TABS = ["考试成绩", "题目分析", "评阅一致性", "认证与到期", "新人成长", "未覆盖问题"]


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _page(user: User, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user_id"] = user.id
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["title"] for c in at.get("vega_lite_chart")]


def test_dashboard_on_demo_history_shows_every_chart(session: Session, demo: Demo) -> None:
    seed_demo_history(session)
    at = _page(demo.trainer, DASHBOARD)
    assert at.title[0].value == "训练看板"
    assert [t.label for t in at.tabs] == TABS
    assert _chart_titles(at) == TEAM_CHARTS
    assert len(at.get("download_button")) == 2 * len(TEAM_CHARTS)  # CSV and Excel of each chart's data
    assert not at.info  # no empty state
    flagged = at.dataframe[0].value
    assert len(flagged) > 0 and set(flagged["需复查"]) == {"是"}

    early = session.exec(select(Cohort).where(Cohort.name == HISTORY_COHORT)).one()
    at.selectbox(key="td_cohort").set_value(early.id).run()
    at.selectbox(key="td_category").set_value("发票").run()
    assert not at.exception, at.exception
    # 月度复训 and 季度复训 ask the 发票 scenario (可以开专票吗); the early cohort sat both.
    assert "各试卷通过率（按场次）" in _chart_titles(at)
    at.selectbox(key="td_period").set_value("最近 4 周").run()
    assert not at.exception, at.exception


def test_dashboard_without_results_shows_empty_states(demo: Demo) -> None:
    at = _page(demo.trainer, DASHBOARD)
    assert _chart_titles(at) == []
    assert not at.get("download_button")
    assert len(at.info) == len(TEAM_CHARTS)
    assert any("暂无已发布成绩" in i.value for i in at.info)


def test_dashboard_refuses_learners(demo: Demo) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user_id"] = demo.agent.id
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(DASHBOARD)  # not in an agent's menu
    page = AppTest.from_file(str(Path(APP).parent / DASHBOARD), default_timeout=60)
    page.session_state["user_id"] = demo.agent.id
    page.run()
    assert not page.exception
    assert [e.value for e in page.error] == ["当前账号无权执行此操作。"]
    assert not page.get("vega_lite_chart") and not page.tabs


def test_my_progress_on_demo_history(session: Session, demo: Demo) -> None:
    seed_demo_history(session)
    at = _page(demo.agent, PROGRESS)
    assert at.title[0].value == "学习进度"
    assert _chart_titles(at) == ["我的考试成绩", "我的打字速度（情景题回答）", "每周错题练习次数"]
    assert len(at.get("download_button")) == 8  # three charts and the certificate table
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["待巩固的错题"]) > 0 and int(metrics["其中已练习过"]) > 0
    assert any(i.value.startswith("最先到期：") for i in at.info)
    certificates = at.dataframe[0].value
    assert len(certificates) >= 1 and "证书编号" in certificates.columns


def test_my_progress_without_results(demo: Demo) -> None:
    at = _page(demo.newhire, PROGRESS)
    assert _chart_titles(at) == []
    assert len(at.info) == 4  # scores, typing speed, practice, certificates: each says there is nothing yet
    assert {m.label: m.value for m in at.metric}["待巩固的错题"] == "0"
