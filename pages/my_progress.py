"""学习进度: my scores and typing speed over time, my 错题本 progress, my certificates and the next expiry."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from pages.ui.chart_blocks import chart_block, count_axis, every_week
from pages.ui.common import current_user, db_session, run_action
from pages.ui.markdown import md_escape
from training.analytics.dashboards import Filters, learner_progress
from training.core.clock import fmt_date, fmt_datetime
from training.models import utcnow

user = current_user()
st.title("学习进度")
with db_session() as session:
    progress = run_action(lambda: learner_progress(session=session, actor=user, filters=Filters()))
if progress is None:
    st.stop()
now = utcnow()
#: Dates as month-day (Vega would print English month names).
DATES = alt.Axis(format="%m-%d", labelAngle=0)

scores = pd.DataFrame([{"交卷时间": fmt_datetime(s.submitted_at),
                        "试卷": s.paper_title, "得分率": s.score, "及格线": s.pass_mark,
                        "结果": "通过" if s.passed else "未通过"} for s in progress.scores])
chart = None if scores.empty else alt.Chart(scores).mark_line(point=alt.OverlayMarkDef(size=80)).encode(
    x=alt.X("交卷时间:T", title="交卷时间", axis=DATES),
    y=alt.Y("得分率:Q", title="得分率", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
    tooltip=["试卷", "交卷时间", alt.Tooltip("得分率:Q", format=".0%"), "结果"],
).properties(title="我的考试成绩")
chart_block("我的成绩", scores, chart, key="my_scores", empty="还没有已发布的考试成绩。")

speeds = pd.DataFrame([{"交卷时间": fmt_datetime(s.submitted_at),
                        "试卷": s.paper_title, "打字速度（字/分钟）": s.chars_per_minute,
                        "书面回答数": s.answers}
                       for s in progress.speeds])
chart = None if speeds.empty else alt.Chart(speeds).mark_line(point=True, color="#ff7f0e").encode(
    x=alt.X("交卷时间:T", title="交卷时间", axis=DATES), y=alt.Y("打字速度（字/分钟）:Q", title="字/分钟"),
    tooltip=["试卷", "交卷时间", alt.Tooltip("打字速度（字/分钟）:Q", format=".0f")],
).properties(title="我的打字速度（情景题回答）")
chart_block("打字速度", speeds, chart, key="my_typing_speed", empty="还没有情景题的书面回答。")

book = progress.mistakes
st.subheader("错题本进度")
left, middle, right = st.columns(3)
left.metric("待巩固的错题", book.open_total, help="已发布成绩中答错的知识题和得分偏低的情景题")
middle.metric("其中已练习过", book.practised_open)
right.metric("知识题 / 情景题", f"{book.open_objective} / {book.open_scenario}")
# Every week from the first practice on, weeks without practice at 0 (none skipped).
practice = every_week({w.week: w.answers for w in book.practice_weeks}, value="练习次数")
chart = None if practice.empty else alt.Chart(practice).mark_bar().encode(
    x=alt.X("周:O", title="周（周一）", axis=alt.Axis(labelAngle=0)),
    y=alt.Y("练习次数:Q", title="练习次数", axis=count_axis()),
    tooltip=["周", "练习次数"],
).properties(title="每周错题练习次数")
chart_block("错题练习", practice, chart, key="my_practice", empty="还没有练习记录：去「错题本」练一练吧。")

certs = progress.certificates
st.subheader("我的证书")
if certs.next_expiring is not None:
    days = certs.next_expiring.days_left(now)
    st.info(f"最先到期：{md_escape(certs.next_expiring.programme)}（{md_escape(certs.next_expiring.number)}），"
            f"{fmt_date(certs.next_expiring.expires_on)} 到期，还有 {days} 天。")
if certs.missing:
    st.warning("尚未取得的上岗必需认证：" + "、".join(md_escape(m) for m in certs.missing))
table = pd.DataFrame([{"证书编号": c.number, "认证项目": c.programme,
                       "发证日期": fmt_date(c.issued_on), "到期日期": fmt_date(c.expires_on),
                       "状态": ("待重新认证" if c.flagged else "有效") if c.valid else "已失效",
                       "剩余天数": max(0, c.days_left(now)) if c.valid else 0} for c in certs.certificates])
chart_block("证书一览", table, None, key="my_certificates", empty="还没有证书。")
if not table.empty:
    st.dataframe(table, hide_index=True)
