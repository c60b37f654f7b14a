"""训练看板: exam results, item analysis, reviewer agreement, certificates, ramp-up, uncovered questions."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from pages.ui.chart_blocks import (
    chart_block,
    count_axis,
    count_legend,
    day_calendar,
    full_legend,
    people_table,
    tidy_numbers,
    wrapped_axis,
)
from pages.ui.common import current_user, db_session, run_action, show_table
from training.analytics.dashboards import (
    CERT_STATUSES,
    AnalyticsError,
    Filters,
    TeamDashboard,
    team_dashboard,
)
from training.analytics.exams import LOW_DISCRIMINATION
from training.auth.accounts import list_cohorts
from training.core.clock import team_today
from training.exams.papers import SCENARIO
from training.models import Category

#: The 期间 choice that shows a date range picker.
CUSTOM = "自定义"
PERIODS: dict[str, int | None] = {"全部时间": None, "最近 4 周": 28, "最近 12 周": 84, "最近 26 周": 182,
                                  CUSTOM: None}
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
#: Chinese labels read horizontally; dates as month-day (Vega would print English month names).
FLAT = alt.Axis(labelAngle=0)
MONTH_DAY = alt.Axis(labelExpr="slice(datum.label, 5)", labelAngle=0)  # 2026-11-16 → 11-16


def _filters() -> Filters | None:
    """The filter widgets; None (with an error shown) when the user may not see the dashboard."""
    with db_session() as session:
        cohorts = run_action(lambda: list_cohorts(session=session, actor=user))
    if cohorts is None:
        return None
    names = {c.id: c.name for c in cohorts}
    left, middle, right = st.columns(3)
    cohort = left.selectbox("班组", [None, *names], key="td_cohort",
                            format_func=lambda c: "全部班组" if c is None else names[c])
    category = middle.selectbox("问题类别", [None, *[c.value for c in Category]], key="td_category",
                                format_func=lambda c: "全部类别" if c is None else c)
    period = right.selectbox("期间", list(PERIODS), key="td_period")
    today = team_today()
    start = end = None
    if period == CUSTOM:
        picked = st.date_input("起止日期", value=(today - timedelta(days=30), today), key="td_range")
        if isinstance(picked, tuple) and len(picked) == 2:
            start, end = picked
    elif (days := PERIODS[period]) is not None:
        start, end = today - timedelta(days=days), today
    st.caption("期间按考试交卷日期筛选；新人成长按入职日期，证书日历按到期日期，未覆盖问题按挖掘日期。"
               "问题类别只作用于情景题（及含此类情景题的试卷）。")
    try:
        return Filters(cohort_id=cohort, category=category, start=start, end=end)
    except AnalyticsError as exc:
        st.error(str(exc))
        return None


def _exam_tab(board: TeamDashboard) -> None:
    rates = tidy_numbers(pd.DataFrame([{"试卷": r.title, "场次": r.sittings, "通过": r.passed,
                                        "通过率": r.pass_rate, "平均得分率": r.mean_score,
                                        "及格线": r.pass_mark} for r in board.pass_rates]))
    chart = None if rates.empty else alt.Chart(rates).mark_bar().encode(
        x=alt.X("试卷:N", sort=None, title="试卷", axis=wrapped_axis()),
        y=alt.Y("通过率:Q", title="通过率", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=["试卷", "场次", "通过", alt.Tooltip("通过率:Q", format=".0%"),
                 alt.Tooltip("平均得分率:Q", format=".0%")],
    ).properties(title="各试卷通过率（按场次）")
    chart_block("通过率", rates, chart, key="pass_rates", empty="暂无已发布成绩的考试。")
    bins = pd.DataFrame([{"试卷": b.title, "分数段": b.label, "场次": b.sittings}
                         for b in board.score_bins])
    order = [f"{i * 10}–{i * 10 + 10}%" for i in range(10)]
    chart = None if bins.empty else alt.Chart(bins).mark_bar().encode(
        x=alt.X("分数段:N", sort=order, title="得分率区间", axis=FLAT), xOffset="试卷:N",
        y=alt.Y("场次:Q", title="场次", axis=count_axis()),
        color=alt.Color("试卷:N", title="试卷", legend=full_legend()),
        tooltip=["试卷", "分数段", "场次"],
    ).properties(title="各试卷成绩分布")
    chart_block("成绩分布", bins, chart, key="score_distribution",
                empty="暂无已发布成绩的考试。")


def _item_tab(board: TeamDashboard) -> None:
    items = pd.DataFrame([{"试卷": i.paper_title, "题号": i.position, "题目": i.prompt,
                           "题型": "情景题" if i.kind == SCENARIO else "知识题", "类别": i.category or "",
                           "作答数": i.answers, "难度（平均得分率）": i.difficulty,
                           "区分度": i.discrimination, "需复查": "是" if i.needs_review else "否"}
                          for i in board.items])
    plotted = items.dropna(subset=["区分度"]) if not items.empty else items
    chart = None if plotted.empty else (alt.Chart(plotted).mark_circle(size=90).encode(
        x=alt.X("难度（平均得分率）:Q", title="难度（平均得分率，越高越容易）",
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("区分度:Q", title="区分度（越高越能分出强弱考生）", scale=alt.Scale(domain=[-1, 1])),
        color=alt.Color("需复查:N", title="需复查",
                        scale=alt.Scale(domain=["是", "否"], range=["#d62728", "#1f77b4"])),
        tooltip=["试卷", "题号", "题目", "题型", "作答数", alt.Tooltip("难度（平均得分率）:Q", format=".0%"),
                 alt.Tooltip("区分度:Q", format=".2f")],
    ) + alt.Chart(pd.DataFrame({"y": [LOW_DISCRIMINATION]})).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
    ).properties(title="题目难度与区分度")
    chart_block("题目分析", items, chart, key="item_analysis", empty="暂无已发布成绩的作答。")
    if not items.empty:
        st.caption("区分度看一道题能否分出强弱考生：整份试卷考得好的人这道题也答得好，区分度就高（最高 1）。"
                   f"低于 {LOW_DISCRIMINATION} 的题目强弱考生答得差不多，建议修改；"
                   "少于 4 份作答或全部答对、全部答错时不计算。")
        needs_review = pd.Series([i.needs_review for i in board.items], index=items.index, dtype=bool)
        flagged, formats = people_table(items[needs_review], percent=["难度（平均得分率）"],
                                        decimals=["区分度"])
        show_table(flagged, empty="没有需要复查的题目。", hide_index=True, column_config=formats)


def _review_tab(board: TeamDashboard) -> None:
    weeks = tidy_numbers(pd.DataFrame([{"周": w.week.isoformat(), "双评答案数": w.answers,
                                        "评分数": w.reviews, "评阅一致性": w.alpha}
                                       for w in board.agreement]))
    chart = None if weeks.empty else alt.Chart(weeks).mark_line(point=True).encode(
        x=alt.X("周:O", title="交卷周（周一）", axis=MONTH_DAY),
        y=alt.Y("评阅一致性:Q", title="评阅一致性（1 为完全一致，0 与随机打分无异）"),
        tooltip=["周", "双评答案数", alt.Tooltip("评阅一致性:Q", format=".2f")],
    ).properties(title="评阅一致性（按周）")
    chart_block("评阅一致性", weeks, chart, key="reviewer_agreement",
                empty="暂无被两位及以上培训师评阅的答案。")


def _certificate_tab(board: TeamDashboard) -> None:
    counts = pd.DataFrame([{"认证项目": c.programme, "状态": c.status, "人数": c.people}
                           for c in board.certification])
    chart = None if counts.empty else alt.Chart(counts).mark_bar().encode(
        x=alt.X("认证项目:N", title="认证项目", axis=wrapped_axis()),
        y=alt.Y("人数:Q", title="人数", axis=count_axis()),
        color=alt.Color("状态:N", title="状态", sort=list(CERT_STATUSES),
                        scale=alt.Scale(domain=list(CERT_STATUSES)), legend=full_legend()),
        tooltip=["认证项目", "状态", "人数"],
    ).properties(title="认证状态（每人最新证书）")
    chart_block("认证状态", counts, chart, key="certification_status", empty="还没有认证项目。")
    days = pd.DataFrame([{"到期日": e.day.isoformat(), "认证项目": e.programme, "证书数": e.certificates}
                         for e in board.expiries])
    chart = None
    if not days.empty:
        totals: dict[date, int] = defaultdict(int)
        for e in board.expiries:
            totals[e.day] += e.certificates
        # Every week from the first expiry to the last, empty days at 0: no week is skipped.
        per_day = day_calendar(totals, value="证书数", weekdays=WEEKDAYS).rename(columns={"日期": "到期日"})
        chart = alt.Chart(per_day).mark_rect().encode(
            x=alt.X("周:O", title="到期周（周一）", sort=list(dict.fromkeys(per_day["周"])), axis=FLAT),
            y=alt.Y("星期:O", sort=WEEKDAYS, title=""),
            color=alt.Color("证书数:Q", title="到期证书数", scale=alt.Scale(scheme="oranges", domainMin=0),
                            legend=count_legend()),
            tooltip=["到期日", alt.Tooltip("证书数:Q", format="d")],
        ).properties(title="证书到期日历")
    chart_block("到期日历", days, chart, key="expiry_calendar", empty="所选期间没有将要到期的证书。")


def _ramp_tab(board: TeamDashboard) -> None:
    ramp = tidy_numbers(pd.DataFrame([{"入职第几周": w.week + 1, "人数": w.learners, "场次": w.sittings,
                                       "平均得分率": w.mean_score, "打字速度（字/分钟）": w.chars_per_minute}
                                      for w in board.ramp]))
    chart = None
    if not ramp.empty:
        # A number line of weeks: a week without sittings leaves a gap instead of vanishing.
        base = alt.Chart(ramp).encode(x=alt.X("入职第几周:Q", title="入职第几周",
                                              axis=count_axis(labelAngle=0), scale=alt.Scale(domainMin=1)))
        score = base.mark_line(point=True, color="#1f77b4").encode(
            y=alt.Y("平均得分率:Q", title="平均得分率（蓝）", axis=alt.Axis(format="%")),
            tooltip=["入职第几周", "人数", alt.Tooltip("平均得分率:Q", format=".0%")])
        speed = base.mark_line(point=True, color="#ff7f0e", strokeDash=[5, 3]).encode(
            y=alt.Y("打字速度（字/分钟）:Q", title="打字速度，字/分钟（橙）"),
            tooltip=["入职第几周", alt.Tooltip("打字速度（字/分钟）:Q", format=".0f")])
        chart = (alt.layer(score, speed).resolve_scale(y="independent")
                 .properties(title="新人入职后的成绩与打字速度"))
    chart_block("新人成长", ramp, chart, key="ramp_up", empty="所选期间入职的人还没有已发布的成绩。")


def _coverage_tab(board: TeamDashboard) -> None:
    questions = pd.DataFrame([{"问题": q.question, "类别": q.category, "出现次数": q.frequency}
                              for q in board.uncovered])
    chart = None if questions.empty else alt.Chart(questions).mark_bar().encode(
        y=alt.Y("问题:N", sort="-x", title="", axis=wrapped_axis(width=16, lines=3)),
        x=alt.X("出现次数:Q", title="出现次数", axis=count_axis()),
        color=alt.Color("类别:N", title="类别", legend=full_legend()), tooltip=["问题", "类别", "出现次数"],
    ).properties(title="高频但尚无话术覆盖的客户问题")
    chart_block("未覆盖问题", questions, chart, key="uncovered_questions",
                empty="所有挖掘出的高频问题都已有话术覆盖（或尚未导入聊天记录）。")


user = current_user()
st.title("训练看板")
chosen = _filters()
if chosen is None:
    st.stop()
filters: Filters = chosen
with db_session() as session:
    board = run_action(lambda: team_dashboard(session=session, actor=user, filters=filters))
if board is None:
    st.stop()
tabs = st.tabs(["考试成绩", "题目分析", "评阅一致性", "认证与到期", "新人成长", "未覆盖问题"])
for tab, render in zip(tabs, (_exam_tab, _item_tab, _review_tab, _certificate_tab, _ramp_tab, _coverage_tab),
                       strict=True):
    with tab:
        render(board)
