"""Renderers for the review page's side tabs: reviewer calibration and the rubric editor."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui.chart_blocks import people_table
from pages.ui.common import db_session, embedder, run_action
from pages.ui.markdown import md_escape
from training.exams.review_board import calibration
from training.exams.rubrics import Criterion, list_rubrics, save_rubric
from training.models import User


def _agreement(alpha: float | None) -> str:
    return "—" if alpha is None else f"{round(alpha, 2) + 0.0:.2f}"  # + 0.0: never "-0.00"


def render_calibration(user: User | None, paper_id: int) -> None:
    """Agreement between reviewers on a paper and where they disagree most."""
    with db_session() as session:
        report = run_action(lambda: calibration(session=session, actor=user, paper_id=paper_id,
                                                embedder=embedder()))
    if report is None:
        return
    left, middle, right, gap = st.columns(4)
    left.metric("评阅一致性（按原始分）", _agreement(report.alpha),
                help="统计学上称 Krippendorff α")
    middle.metric("评阅一致性（扣除各人宽严后）", _agreement(report.alpha_normalised))
    right.metric("多人评阅的回答", report.double_reviewed)
    shown_gap = "—" if report.suggestion_gap is None else f"{report.suggestion_gap:.2f}"
    gap.metric("评分与建议分平均相差", shown_gap,
               help=f"按 {report.suggestion_count} 条已评分的回答计算（满分 1）")
    st.caption(
        "评阅一致性为 1 表示培训师的评分完全一致，0 表示和随机打分差不多；"
        "至少两位培训师评同一回答时才能计算。"
        "「扣除各人宽严后」不计较各人打分偏严或偏松：一位偏严、一位偏松但好坏排序相同的培训师算作一致。"
        f"「评分与建议分平均相差」：培训师给的平均分和系统建议分差多少（共 {report.suggestion_count} 条回答；"
        "算某条回答的建议分时不看它自己的评分），越小说明建议分越贴近本店的评分习惯。"
    )
    if report.reviewers:
        table, formats = people_table(
            pd.DataFrame(
                [
                    {
                        "评阅人": r.name,
                        "评阅数": r.reviews,
                        "平均分": r.mean,
                        "分差（最高−最低）": r.spread,
                    }
                    for r in report.reviewers
                ]
            ),
            decimals=["平均分", "分差（最高−最低）"],
        )
        st.dataframe(table, hide_index=True, column_config=formats)
    if report.splits:
        st.markdown("**分歧最大的回答**")
        for split in report.splits:
            with st.container(border=True):
                st.caption(f"题目：{md_escape(split.question)}")
                st.text(split.text)
                st.caption(
                    " · ".join(f"{name}：{score:.0%}" for name, score in split.scores.items())
                    + f" · 分差 {split.spread:.0%}"
                )


def _cell(value: str | float | None) -> str:
    """A data-editor cell as text (new rows hold None or NaN)."""
    return "" if value is None or pd.isna(value) else str(value)


def render_rubric_editor(user: User | None) -> None:
    """Edit the rubric's weighted criteria and auto-fail items."""
    with db_session() as session:
        rubrics = run_action(lambda: list_rubrics(session=session, actor=user)) or []
    if not rubrics:
        return
    rubric = rubrics[0]
    st.caption(
        "权重按比例折算；任一否决项被选中，该回答得 0 分。修改后新的评分按新评分表计算，已有评分不变。"
    )
    frame = pd.DataFrame([{"评分项": c.name, "权重": c.weight, "说明": c.hint} for c in rubric.criteria])
    with st.form("rubric_edit"):
        name = st.text_input("名称", value=rubric.name, key="rubric_name")
        edited = st.data_editor(frame, num_rows="dynamic", key="rubric_criteria", hide_index=True)
        auto_fail = st.text_area("否决项（每行一项）", value="\n".join(rubric.auto_fail), key="rubric_fail")
        if st.form_submit_button("保存评分表"):
            criteria = [
                Criterion(_cell(r["评分项"]), float(r["权重"]) if _cell(r["权重"]) else 0.0, _cell(r["说明"]))
                for r in edited.to_dict("records")
            ]
            with db_session() as session:
                run_action(
                    lambda: save_rubric(
                        session=session,
                        actor=user,
                        name=name,
                        criteria=criteria,
                        auto_fail=auto_fail.splitlines(),
                        rubric_id=rubric.id,
                    ),
                    success="评分表已保存。",
                )
