"""AppTest: 训练看板 (staff) and 学习进度 (learners), on the demo history and without any results."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from pages.ui.chart_blocks import day_calendar, people_table, wrapped_axis
from training.models import Certificate, Certification, Cohort, User
from training.ops.demo.history import HISTORY_COHORT, seed_demo_history

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
    seed_demo_history(session=session)
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
    seed_demo_history(session=session)
    at = _page(demo.agent, PROGRESS)
    assert at.title[0].value == "学习进度"
    assert _chart_titles(at) == ["我的考试成绩", "我的打字速度（情景题回答）", "每周错题练习次数"]
    assert len(at.get("download_button")) == 8  # three charts and the certificate table
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["待巩固的错题"]) > 0 and int(metrics["其中已练习过"]) > 0
    assert any(i.value.startswith("最先到期：") for i in at.info)
    certificates = at.dataframe[0].value
    assert len(certificates) >= 1 and "证书编号" in certificates.columns
    charts = _charts(at)
    _assert_charts_read_right(charts)
    weeks = [date.fromisoformat(w) for w in charts["每周错题练习次数"][1]["周"]]
    assert weeks == [weeks[0] + timedelta(weeks=n) for n in range(len(weeks))]  # no week skipped


def test_my_progress_without_results(demo: Demo) -> None:
    at = _page(demo.newhire, PROGRESS)
    assert _chart_titles(at) == []
    assert len(at.info) == 4  # scores, typing speed, practice, certificates: each says there is nothing yet
    assert {m.label: m.value for m in at.metric}["待巩固的错题"] == "0"


def _charts(at: AppTest) -> dict[str, tuple[dict[str, Any], pd.DataFrame]]:
    """Each chart on the page by title: its Vega-Lite spec and the data it draws."""
    charts = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
        charts[spec["title"]] = (spec, pd.concat(frames) if frames else pd.DataFrame())
    return charts


def _encodings(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every channel of a spec drawn with an axis or a legend, layers included."""
    for name, channel in (spec.get("encoding") or {}).items():
        if isinstance(channel, dict) and name in {"x", "y", "color"}:
            yield channel
    for layer in spec.get("layer", []):
        yield from _encodings(layer)


COUNTS = {"场次", "人数", "出现次数", "练习次数", "证书数", "入职第几周"}


def _assert_charts_read_right(charts: dict[str, tuple[dict[str, Any], pd.DataFrame]]) -> None:
    for title, (spec, _) in charts.items():
        for channel in _encodings(spec):
            field = channel.get("field")
            if field in COUNTS and channel.get("type") == "quantitative":
                guide = channel.get("axis", channel.get("legend"))
                assert guide and guide["format"] == "d" and guide["tickMinStep"] == 1, (title, field)
            if field in {"试卷", "认证项目", "问题"} and channel.get("type") == "nominal":
                guide = channel.get("axis", channel.get("legend"))
                assert guide and guide["labelLimit"] == 0, (title, field)  # full labels, never "…"


def test_dashboard_charts_read_right_on_demo_history(session: Session, demo: Demo) -> None:
    seed_demo_history(session=session)
    at = _page(demo.trainer, DASHBOARD)
    charts = _charts(at)
    _assert_charts_read_right(charts)
    assert not any(word in c.value for c in at.caption for word in ("皮尔逊", "点二列", "相关系数"))
    spec, bins = charts["各试卷成绩分布"]
    assert spec["encoding"]["color"]["legend"]["labelLimit"] == 0
    per_paper = bins.groupby("试卷")["分数段"].nunique()
    assert set(per_paper) == {10} and (bins["场次"] == 0).any()  # empty bands kept, at 0
    _, calendar = charts["证书到期日历"]
    days = [date.fromisoformat(d) for d in calendar["到期日"]]
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]  # no day, no week skipped
    assert days[0].weekday() == 0 and len(days) % 7 == 0
    flagged = at.dataframe[0]
    table = flagged.value
    assert pd.api.types.is_integer_dtype(table["难度（平均得分率）"])  # 44, shown as 44%
    assert all(v == round(v, 2) and not (v == 0 and math.copysign(1, v) < 0) for v in table["区分度"])
    formats = json.loads(flagged.proto.columns)
    assert formats["难度（平均得分率）"]["type_config"]["format"] == "%d%%"
    assert formats["区分度"]["type_config"]["format"] == "%.2f"


def test_expiry_calendar_keeps_empty_weeks(session: Session, demo: Demo) -> None:
    programme = Certification(name="12月新人上岗认证（破壁机与电热水壶产品线）", valid_days=180)
    session.add(programme)
    session.commit()
    soon = datetime.now(UTC) + timedelta(days=3)
    for user, weeks in ((demo.agent, 0), (demo.newhire, 5)):  # four empty weeks between the two
        session.add(Certificate(certification_id=programme.id or 0, user_id=user.id or 0,
                                issued_at=soon - timedelta(days=170),
                                expires_at=soon + timedelta(weeks=weeks)))
    session.commit()
    at = _page(demo.trainer, DASHBOARD)
    charts = _charts(at)
    _assert_charts_read_right(charts)
    spec, calendar = charts["证书到期日历"]
    assert calendar["周"].nunique() == 6 and len(calendar) == 42 and calendar["证书数"].sum() == 2
    assert spec["encoding"]["color"]["legend"]["format"] == "d"
    assert spec["encoding"]["x"]["sort"] == list(dict.fromkeys(calendar["周"]))
    status, counts = charts["认证状态（每人最新证书）"]
    assert status["encoding"]["x"]["axis"]["labelLimit"] == 0
    assert "12月新人上岗认证（破壁机与电热水壶产品线）" in set(counts["认证项目"])


def test_calendar_weeks_and_labels_helpers() -> None:
    frame = day_calendar({date(2026, 12, 30): 2, date(2027, 1, 20): 1}, value="n",
                         weekdays=list("一二三四五六日"))
    assert frame["周"].tolist()[::7] == ["2026-12-28", "2027-01-04", "2027-01-11", "2027-01-18"]
    assert frame["n"].sum() == 3 and len(frame) == 28
    expression = wrapped_axis(width=8, lines=3).to_dict()["labelExpr"]
    assert expression.startswith("length(datum.label) <= 8 ? [substring(datum.label, 0)]")
    assert "substring(datum.label, 16)]" in expression  # the last line takes the rest: nothing cut
    table, formats = people_table(pd.DataFrame({"率": [0.4444, 1.0], "r": [-0.0001, 0.125]}),
                                  percent=["率"], decimals=["r"])
    assert table["率"].tolist() == [44, 100] and table["r"].tolist() == [0.0, 0.12]
    assert str(table["r"].iloc[0]) == "0.0" and set(formats) == {"率", "r"}
