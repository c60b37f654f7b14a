"""话术分析 (trainers, admins): lookups per day, top/unused/outdated scripts, searches that found nothing."""

from __future__ import annotations

from datetime import datetime

import altair as alt
import pandas as pd
import streamlit as st

from pages.ui.actions import act, forget, note, show
from pages.ui.chart_blocks import count_axis, downloads, full_legend, people_table, wrapped_axis
from pages.ui.common import current_user, db_session, run_action
from scripts_bank.analytics import (
    ORDER_LABELS,
    BankAddition,
    ScriptStats,
    WeakQuery,
    add_to_question_bank,
    lookups_per_day,
    outdated_scripts,
    top_scripts,
    unused_scripts,
    weak_queries,
)
from scripts_bank.query_screen import not_a_question
from scripts_bank.service import facets
from scripts_bank.usage import WEAK_LOOKUP_COSINE
from training.core.clock import fmt_datetime
from training.models import Category, User
from training.nlp.model_versions import active_model_id, model_threshold

PERIODS: dict[int | None, str] = {7: "最近 7 天", 30: "最近 30 天", 90: "最近 90 天", None: "全部"}
ALL = "全部"
TOP_N = 20
PICKED = "sa_bank_pick"

user = current_user()
st.title("话术分析")


def _when(value: datetime | None) -> str:
    return fmt_datetime(value)  # team time, whatever the server's zone


def _downloads(frame: pd.DataFrame, name: str, key: str) -> None:
    """CSV and Excel of a chart's data (formula cells neutralised)."""
    downloads(frame, key=f"sa_{key}", sheet=name, file_name=name)


def _script_frame(stats: list[ScriptStats]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"话术": s.question, "分类": s.category, "商品": s.product, "首位命中": s.top_hits,
          "出现次数": s.shown, "有用": s.useful, "过时": s.outdated, "最近出现": _when(s.last_shown),
          "过时意见": "；".join(s.comments)} for s in stats],
        columns=["话术", "分类", "商品", "首位命中", "出现次数", "有用", "过时", "最近出现", "过时意见"],
    )


def _offer_label(query: str) -> str:
    """A weak query as offered for the bank: one that is not a question says so."""
    why = not_a_question(query)
    return query if why is None else f"{query}（不像顾客问题：{why}，不会加入）"


def _to_bank(chosen: list[WeakQuery]) -> None:
    """Callback of 加入问题库: only the queries the trainer chose; what is not a question is named."""

    def run(actor: User) -> BankAddition:
        with db_session() as session:
            return add_to_question_bank(session=session, actor=actor, queries=chosen)

    result = act("sa_to_bank", run)
    if result is None:
        return
    if result.added or result.already:
        note("sa_to_bank", f"已加入问题库 {result.added} 条"
             + (f"（{result.already} 条已在问题库中，不重复加入）" if result.already else "")
             + "，可在「问题库」「组卷」中使用。")
    if result.refused:
        note("sa_to_bank", "没有加入：" + "；".join(f"「{q[:40]}」{why}" for q, why in result.refused)
             + "。这些不是顾客问题。", "warning")
    forget(PICKED)


def _bar(frame: pd.DataFrame, label: str, measure: str, title: str) -> alt.Chart:
    """Horizontal bars of a count, longest first, each label in full (wrapped)."""
    chart: alt.Chart = alt.Chart(frame, title=title).mark_bar().encode(
        x=alt.X(f"{measure}:Q", title=measure, axis=count_axis()),
        y=alt.Y(f"{label}:N", sort="-x", title=None, axis=wrapped_axis(width=16, lines=3)),
        tooltip=[alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{measure}:Q")],
    )
    return chart


left, middle, right = st.columns(3)
days = left.selectbox("统计周期", list(PERIODS), index=1, format_func=PERIODS.__getitem__, key="sa_days")
category = middle.selectbox("分类", [ALL, *(c.value for c in Category)], key="sa_category")
with db_session() as session:
    products = (run_action(lambda: facets(session=session, actor=user)) or ([], []))[0]
product = right.selectbox("商品", [ALL, *products], key="sa_product")
chosen_category = None if category == ALL else category
chosen_product = None if product == ALL else product

st.subheader("每日查询量")
with db_session() as session:
    # The threshold was tuned on the shipped encoder; an adapted one has its own cosine scale.
    below = model_threshold(active_model_id(session=session), WEAK_LOOKUP_COSINE)
    daily = run_action(lambda: lookups_per_day(session=session, actor=user, days=days, below=below)) or []
if not daily:
    st.info("所选周期内还没有话术查询记录。")
else:
    frame = pd.DataFrame([{"日期": d.day.isoformat(), "查询次数": d.lookups, "未找到好答案": d.weak,
                           "查询人数": d.agents} for d in daily])
    long = frame.melt(id_vars="日期", value_vars=["查询次数", "未找到好答案"], var_name="类型",
                      value_name="次数")
    st.altair_chart(alt.Chart(long, title="每日话术查询").mark_line(point=True).encode(
        x=alt.X("日期:T", title="日期", axis=alt.Axis(format="%m-%d")),
        y=alt.Y("次数:Q", title="次数", axis=count_axis()),
        color=alt.Color("类型:N", title=None, legend=full_legend()), tooltip=["日期:T", "类型:N", "次数:Q"],
    ), width="stretch")
    _downloads(frame, "每日查询量", "daily")

st.subheader("最常用话术")
order = st.radio("排序依据", list(ORDER_LABELS), format_func=ORDER_LABELS.__getitem__, horizontal=True,
                 key="sa_order")
with db_session() as session:
    top = run_action(lambda: top_scripts(session=session, actor=user, days=days, category=chosen_category,
                                         product=chosen_product, order=order, limit=TOP_N)) or []
top_frame = _script_frame(top)
if top_frame.empty or int(top_frame[ORDER_LABELS[order]].sum()) == 0:
    st.info("所选范围内还没有话术被使用或评价。")
else:
    title = f"按{ORDER_LABELS[order]}排名前 {TOP_N} 的话术"
    st.altair_chart(_bar(top_frame, "话术", ORDER_LABELS[order], title), width="stretch")
    st.dataframe(top_frame, hide_index=True)
    _downloads(top_frame, "最常用话术", "top")

st.subheader("从未被查到的话术")
with db_session() as session:
    unused = run_action(lambda: unused_scripts(session=session, actor=user, days=days,
                                               category=chosen_category, product=chosen_product)) or []
if not unused:
    st.info("所选范围内每条已审定话术都被查到过。")
else:
    unused_frame = _script_frame(unused)[["话术", "分类", "商品"]]
    per_category = unused_frame.groupby("分类", as_index=False).size().rename(columns={"size": "话术数"})
    st.altair_chart(_bar(per_category, "分类", "话术数", f"从未被查到的话术：共 {len(unused)} 条"),
                    width="stretch")
    st.dataframe(unused_frame, hide_index=True)
    _downloads(unused_frame, "从未被查到的话术", "unused")

st.subheader("被标记为过时的话术（当前版本）")
with db_session() as session:
    flagged = run_action(lambda: outdated_scripts(session=session, actor=user, days=days,
                                                  category=chosen_category, product=chosen_product)) or []
if not flagged:
    st.info("当前版本没有被客服标记为过时的话术。")
else:
    flagged_frame = _script_frame(flagged)[["话术", "分类", "商品", "过时", "有用", "出现次数", "过时意见"]]
    st.altair_chart(_bar(flagged_frame, "话术", "过时", "过时票数"), width="stretch")
    st.dataframe(flagged_frame, hide_index=True)
    _downloads(flagged_frame, "过时话术", "outdated")

st.subheader("没有找到好答案的查询")
st.caption("没有一条话术达到可靠匹配（可信度「中」以上）的查询，以及客服上报为未覆盖的查询："
           "下一次考试的素材。")
with db_session() as session:
    weak = run_action(lambda: weak_queries(session=session, actor=user, days=days, below=below,
                                           category=chosen_category)) or []
if not weak:
    st.info("所选范围内的查询都找到了合适的话术。")
else:
    weak_frame = pd.DataFrame([{"查询": w.query, "次数": w.times, "查询人数": w.agents,
                                "客服上报": w.reported, "最接近话术的相似度": w.best_similarity,
                                "分类（自动）": w.category, "最近查询": _when(w.last_asked)} for w in weak])
    st.altair_chart(_bar(weak_frame.head(TOP_N), "查询", "次数", "查询次数最多的未解决问题"),
                    width="stretch")
    weak_table, formats = people_table(weak_frame, decimals=["最接近话术的相似度"])
    st.dataframe(weak_table, hide_index=True, column_config=formats)
    _downloads(weak_frame, "未找到好答案的查询", "weak")
    offered = {w.query: w for w in weak}
    picked = st.multiselect(
        "选择要加入问题库的查询（供下次组卷）", list(offered), key=PICKED, placeholder="选择查询，可多选",
        format_func=_offer_label)
    st.button("加入问题库", key="sa_to_bank", disabled=not picked, on_click=_to_bank,
              args=([offered[q] for q in picked],))
    show("sa_to_bank")
