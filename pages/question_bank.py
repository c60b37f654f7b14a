"""Trainer: mined question clusters — filter, edit, merge, split, hide, promote to the bank."""

import pandas as pd
import streamlit as st

from pages.ui.actions import act, ask, asked, confirm_step, forget, note, show
from pages.ui.common import current_user, db_session, embedder, filter_label, run_action, show_table
from pages.ui.exam_view import render_context
from pages.ui.markdown import md_escape
from training.mining.duplicates import merge_candidates
from training.mining.question_bank import (
    list_clusters,
    merge_clusters,
    set_flags,
    split_cluster,
    update_cluster,
)
from training.mining.trends import ImportTrend, import_trend
from training.models import Category, MinedQuestion, User

BULK = [("加入题库", {"in_bank": True}), ("移出题库", {"in_bank": False}), ("隐藏", {"hidden": True}),
        ("取消隐藏", {"hidden": False})]
#: The 话术覆盖 and 范围 filters: what each choice asks the service for (None: either way).
COVERAGE: dict[bool | None, str] = {None: "全部", False: "未覆盖", True: "已覆盖"}
SCOPES: dict[bool | None, str] = {None: "全部", True: "已入题库", False: "未入题库"}


def _flag(ids: list[int], label: str, change: dict[str, bool]) -> None:
    def run(actor: User) -> int:
        with db_session() as session:
            return set_flags(session=session, actor=actor, cluster_ids=ids, **change)

    act("qb_bulk", run, success=f"已{label} {len(ids)} 个问题。")


def _promote_filtered(ids: list[int]) -> None:
    _flag(ids, "加入题库", {"in_bank": True})


def _bulk(label: str, change: dict[str, bool]) -> None:
    _flag(list(st.session_state.get("qb_selected", [])), label, change)


def _ask_merge(labels: dict[int, str]) -> None:
    chosen = list(st.session_state.get("qb_selected", []))
    if len(chosen) >= 2:
        ask("qb_merge", [(i, labels.get(i, f"#{i}")) for i in chosen])


def _merge(chosen: list[tuple[int, str]]) -> None:
    def run(actor: User) -> MinedQuestion:
        with db_session() as session:
            return merge_clusters(session=session, actor=actor, cluster_ids=[i for i, _ in chosen])

    kept = act("qb_bulk", run, success=lambda q: f"已将 {len(chosen)} 个问题合并为「{q.question}」"
                                                  f"（{q.frequency}次）。")
    if kept is not None:
        forget("qb_selected")  # the merged-away questions are gone
        st.session_state["qb_current"] = kept.id
        merged = {i for i, _ in chosen}
        st.session_state["qb_candidates"] = [p for p in st.session_state.get("qb_candidates", [])
                                             if not merged & {p[0], p[2]}]


def _find_duplicates() -> None:
    def run(actor: User) -> list[tuple[int, str, int, str, float]]:
        with db_session() as session:
            return [(p.first.id or 0, _label(p.first), p.second.id or 0, _label(p.second), p.similarity)
                    for p in merge_candidates(session=session, actor=actor, embedder=embedder())]

    found = act("qb_duplicates", run)
    if found is not None:
        st.session_state["qb_candidates"] = found
        if not found:
            note("qb_duplicates", "没有发现疑似重复的问题。", "info")


def _label(q: MinedQuestion) -> str:
    return f"#{q.id} {q.question}（{q.frequency}次）"


def _change(trend: ImportTrend | None, cluster_id: int | None) -> str:
    """较上一次: the change of a question's count between the two latest mined imports."""
    if trend is None or trend.previous is None or cluster_id is None:
        return ""
    delta = trend.change(cluster_id)
    return f"+{delta}" if delta > 0 else str(delta) if delta else "持平"


def _ask_pair_merge(first: tuple[int, str], second: tuple[int, str]) -> None:
    ask("qb_merge", [first, second])


def _save(cluster_id: int) -> None:
    wording, category = st.session_state[f"qb_wording_{cluster_id}"], st.session_state[f"qb_cat_{cluster_id}"]

    def run(actor: User) -> MinedQuestion:
        with db_session() as session:
            return update_cluster(session=session, actor=actor, cluster_id=cluster_id, question=wording,
                                  category=category)

    act("qb_edit", run, success=f"已保存：「{wording}」（{category}）。")


def _split(cluster_id: int) -> None:
    moving = list(st.session_state.get(f"qb_split_{cluster_id}", []))

    def run(actor: User) -> MinedQuestion:
        with db_session() as session:
            return split_cluster(session=session, actor=actor, cluster_id=cluster_id, examples=moving)

    if act("qb_split", run, success=lambda q: f"已拆分出新问题「{q.question}」（#{q.id}）。") is not None:
        forget(f"qb_split_{cluster_id}")


user = current_user()
st.title("问题库")
st.caption("从聊天记录中挖掘出的顾客问题（近义问法已合并并计数）。加入题库后可用于组卷。")

categories = [c.value for c in Category]
a, b, c, d = st.columns(4)
category = a.selectbox("分类", [None, *categories], format_func=filter_label, key="qb_category")
min_frequency = b.number_input("最低频次", min_value=1, value=1, key="qb_min_frequency")
coverage = c.selectbox("话术覆盖", list(COVERAGE), format_func=COVERAGE.__getitem__, key="qb_coverage")
scope = d.selectbox("范围", list(SCOPES), format_func=SCOPES.__getitem__, key="qb_scope")
search = st.text_input("搜索问题", key="qb_search")
show_hidden = st.checkbox("显示已隐藏的问题", key="qb_hidden")

with db_session() as session:
    clusters = run_action(lambda: list_clusters(
        session=session, actor=user, category=category,
        min_frequency=int(min_frequency), search=search, include_hidden=show_hidden,
        covered=coverage, in_bank=scope)) or []
    trend = run_action(lambda: import_trend(session=session, actor=user))

show_table(pd.DataFrame([{"ID": q.id, "问题": q.question, "频次": q.frequency,
                          "最近一次导入": trend.latest_counts.get(q.id or 0, 0) if trend else 0,
                          "较上一次": _change(trend, q.id), "分类": q.category,
                          "已入题库": "是" if q.in_question_bank else "",
                          "话术覆盖": "已覆盖" if q.covered_by_script_id else "",
                          "隐藏": "是" if q.hidden else ""} for q in clusters]),
           empty="没有符合条件的问题。问题来自「聊天记录导入」的挖掘，也可以放宽上方的筛选条件。",
           hide_index=True, width="stretch")
st.caption(f"共 {len(clusters)} 个问题，合计 {sum(q.frequency for q in clusters)} 次提问，"
           f"其中 {sum(q.in_question_bank for q in clusters)} 个已入题库")
if trend is not None and trend.latest is not None:
    st.caption(f"「最近一次导入」是「{trend.latest.file_name}」中的提问次数"
               + (f"，「较上一次」与「{trend.previous.file_name}」相比。" if trend.previous else "。")
               + "同一问题在每次导入中的次数累加到「频次」。")

visible = [q.id for q in clusters if not q.in_question_bank and q.id is not None]
st.button(f"将筛选出的 {len(visible)} 个问题全部加入题库", key="qb_promote_filtered", disabled=not visible,
          on_click=_promote_filtered, args=(visible,))

labels = {q.id: f"#{q.id} {q.question}（{q.frequency}次）" for q in clusters}
chosen = st.multiselect("选择问题进行批量操作", list(labels), format_func=labels.__getitem__,
                        key="qb_selected", placeholder="请选择问题")
cols = st.columns(4)
for column, (label, change) in zip(cols, BULK, strict=True):
    column.button(label, key=f"qb_bulk_{label}", disabled=not chosen, on_click=_bulk, args=(label, change))
st.button("合并所选问题", key="qb_merge", disabled=len(chosen) < 2, on_click=_ask_merge, args=(labels,))
with st.expander("疑似重复的问题", expanded=bool(st.session_state.get("qb_candidates"))):
    st.caption("问法相近、可能是同一个问题的两个问题（含不同导入中挖掘出的）。合并前会再次确认。")
    st.button("查找疑似重复的问题", key="qb_find_duplicates", on_click=_find_duplicates)
    show("qb_duplicates")
    for n, (first_id, first, second_id, second, similarity) in enumerate(
            st.session_state.get("qb_candidates", [])):
        left, right = st.columns([5, 1])
        left.markdown(f"{md_escape(first)} ↔ {md_escape(second)}　相似度 {similarity:.2f}")
        right.button("合并", key=f"qb_pair_{n}", on_click=_ask_pair_merge,
                     args=((first_id, first), (second_id, second)))
if pending := asked("qb_merge"):
    confirm_step("qb_merge", confirm=f"确认合并这 {len(pending)} 个问题", on_confirm=_merge,
                 question="确认合并：" + "、".join(f"「{name}」" for _, name in pending)
                 + "？合并到频次最高的问题，其余问题并入它后不再单独存在。")
show("qb_bulk")

st.subheader("查看与编辑")
if labels:
    current = st.selectbox("问题", list(labels), format_func=labels.__getitem__, key="qb_current")
    cluster = next(q for q in clusters if q.id == current)
    st.markdown("**真实对话上下文**")
    render_context(cluster.context or [])
    with st.chat_message("user"):
        st.text(cluster.question)
    st.markdown("**同类问法**")
    st.text("\n".join(cluster.examples or []) or "（无）")
    st.markdown("**客服实际回复**")
    st.text("\n".join(cluster.agent_replies or []) or "（无）")
    with st.form(f"qb_edit_{current}"):
        st.text_input("问题措辞", value=cluster.question, key=f"qb_wording_{current}")
        st.selectbox("分类", categories, index=categories.index(cluster.category)
                     if cluster.category in categories else len(categories) - 1, key=f"qb_cat_{current}")
        st.form_submit_button("保存修改", on_click=_save, args=(current,))
        show("qb_edit")
    moving = st.multiselect("拆分：把这些问法移到一个新问题", cluster.examples or [],
                            key=f"qb_split_{current}", placeholder="请选择问法")
    st.button("拆分", key="qb_split", disabled=not moving, on_click=_split, args=(current,))
    show("qb_split")
else:
    st.info("还没有挖掘出的问题：请先在「聊天记录导入」中导入聊天记录。")
