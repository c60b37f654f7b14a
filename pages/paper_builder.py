"""Trainer: build exam papers by quota, by hand or by random draw; preview; publish; export."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from pages.common import current_user, db_session, run_action
from pages.exam_view import render_question
from training.accounts import list_cohorts
from training.clock import day_end, day_start, team_today, team_zone_label
from training.knowledge import list_items
from training.models import Category
from training.paper_delivery import export_paper_xlsx, list_papers, preview_paper, publish_paper
from training.papers import (
    add_by_quota,
    add_questions,
    add_random_slots,
    create_paper,
    paper_items,
    remove_item,
)
from training.question_bank import list_clusters

user = current_user()
st.title("组卷")

with st.expander("新建试卷", expanded=False), st.form("new_paper", clear_on_submit=True):
    title = st.text_input("试卷名称", key="pb_title")
    description = st.text_area("说明", key="pb_description")
    minutes = st.number_input("考试时长（分钟）", 1, 600, 60, key="pb_minutes")
    pass_mark = st.slider("及格线（%）", 1, 100, 80, key="pb_pass")
    shuffle = st.checkbox("每位考生题目顺序随机", value=True, key="pb_shuffle")
    if st.form_submit_button("创建", type="primary"):
        with db_session() as session:
            run_action(lambda: create_paper(session=session, actor=user, title=title,
                                            description=description,
                                            time_limit_minutes=int(minutes),
                                            pass_mark=pass_mark / 100, shuffle=shuffle),
                       success="已创建试卷。")

with db_session() as session:
    papers = run_action(lambda: list_papers(session=session, actor=user)) or []
if not papers:
    st.info("还没有试卷，先新建一份。")
    st.stop()
names = {p.id: f"#{p.id} {p.title}（{'草稿' if p.status == 'draft' else '已发布'}）" for p in papers}
paper_id = st.selectbox("当前试卷", list(names), format_func=names.__getitem__, key="pb_paper")
paper = next(p for p in papers if p.id == paper_id)
draft = paper.status == "draft"
st.caption(f"时长 {paper.time_limit_minutes} 分钟 · 及格线 {paper.pass_mark:.0%} · "
           f"{'题序随机' if paper.shuffle else '题序固定'}")

with db_session() as session:
    items = paper_items(session=session, actor=user, paper_id=paper_id)
st.subheader(f"题目（{len(items)}）")
st.dataframe(pd.DataFrame([{"序号": i.position, "类型": {"scenario": "情景题", "objective": "知识题",
                                                         "random_scenario": "随机情景题",
                                                         "random_objective": "随机知识题"}[i.kind],
                            "题目": i.prompt} for i in items]), hide_index=True, width="stretch")

if draft:
    tab_quota, tab_hand, tab_random, tab_remove = st.tabs(["按分类配额", "手动挑选", "随机抽题", "移除"])
    with tab_quota:
        st.caption("每个分类取题库中频次最高、尚未被话术覆盖的问题。")
        quotas = {c.value: int(st.number_input(c.value, 0, 100, 0, key=f"pb_quota_{c.name}"))
                  for c in Category}
        if st.button("按配额加入", key="pb_add_quota"):
            with db_session() as session:
                added = run_action(lambda: add_by_quota(session=session, actor=user,
                                                        paper_id=paper_id, quotas=quotas))
            if added is not None:
                short = {k: quotas[k] - v for k, v in added.items() if v < quotas[k]}
                st.success(f"已加入 {sum(added.values())} 题。")
                if short:
                    st.warning("题库不足：" + "、".join(f"{k} 少 {v} 题" for k, v in short.items()))
    with tab_hand:
        with db_session() as session:
            bank = list_clusters(session=session, actor=user, in_bank=True)
            knowledge = list_items(session=session, actor=user)
        mined = st.multiselect("情景题（题库）", [q.id for q in bank], key="pb_hand_mined",
                               format_func=lambda i: next(f"[{q.category}] {q.question}"
                                                          for q in bank if q.id == i))
        objective = st.multiselect("知识题", [k.id for k in knowledge], key="pb_hand_items",
                                   format_func=lambda i: next(k.stem for k in knowledge
                                                              if k.id == i))
        if st.button("加入所选", key="pb_add_hand", disabled=not (mined or objective)):
            with db_session() as session:
                run_action(lambda: add_questions(session=session, actor=user, paper_id=paper_id,
                                                 mined_question_ids=mined,
                                                 knowledge_item_ids=objective),
                           success="已加入。")
    with tab_random:
        st.caption("随机题：每位考生各自抽一道，互不相同。")
        kind = st.radio("类型", ["scenario", "objective"], key="pb_random_kind", horizontal=True,
                        format_func={"scenario": "情景题", "objective": "知识题"}.__getitem__)
        pool = st.text_input("分类（情景题）或标签（知识题），留空表示不限", key="pb_random_pool")
        count = st.number_input("数量", 1, 200, 5, key="pb_random_count")
        if st.button("加入随机题", key="pb_add_random"):
            with db_session() as session:
                run_action(lambda: add_random_slots(session=session, actor=user, paper_id=paper_id,
                                                    kind=kind, count=int(count),
                                                    category=pool.strip() or None),
                           success="已加入随机题。")
    with tab_remove:
        target = st.selectbox("移除第几题", [i.id for i in items], key="pb_remove_target",
                              format_func=lambda i: next(f"{x.position}. {x.prompt}"
                                                         for x in items if x.id == i))
        if st.button("移除", key="pb_remove", disabled=target is None):
            with db_session() as session:
                run_action(lambda: remove_item(session=session, actor=user, paper_id=paper_id,
                                               item_id=target), success="已移除。")

st.subheader("预览（与考生看到的一致）")
seed = st.number_input("模拟考生编号（不同考生的随机题和题序不同）", 0, 10**6, 0, key="pb_seed")
if st.toggle("显示预览", key="pb_preview"):
    with db_session() as session:
        questions = run_action(lambda: preview_paper(session=session, actor=user,
                                                     paper_id=paper_id, seed=int(seed))) or []
    for question in questions:
        with st.container(border=True):
            render_question(question, key_prefix=f"preview{paper_id}", disabled=True)

st.subheader("发布")
with db_session() as session:
    cohorts = list_cohorts(session=session, actor=user)
cohort_names = {c.id: c.name for c in cohorts}
chosen = st.multiselect("发布给班组", list(cohort_names), format_func=cohort_names.__getitem__,
                        key="pb_cohorts")
c1, c2, c3 = st.columns(3)
# The days are the team's: the window opens at 00:00 and closes at 23:59 team time, not the server's.
open_day = c1.date_input("开始日期", value=team_today(), key="pb_open",
                         help=f"当天 00:00（{team_zone_label()}）开放")
close_day = c2.date_input("结束日期", value=team_today() + timedelta(days=7), key="pb_close",
                          help=f"当天 23:59（{team_zone_label()}）截止")
attempts = c3.number_input("可考次数", 1, 20, 1, key="pb_attempts")
if st.button("发布", type="primary", key="pb_publish", disabled=not chosen):
    with db_session() as session:
        run_action(lambda: publish_paper(
            session=session, actor=user, paper_id=paper_id, cohort_ids=chosen,
            opens_at=day_start(open_day), closes_at=day_end(close_day),
            max_attempts=int(attempts)), success="已发布。")


def _export_paper() -> bytes:
    """Built when the button is clicked, so only real downloads are audited."""
    with db_session() as session:
        return export_paper_xlsx(session=session, actor=user, paper_id=paper_id)


if user is not None:
    st.download_button("导出 Excel（含答案，供线下审阅）", _export_paper, file_name=f"paper-{paper_id}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="pb_export")
