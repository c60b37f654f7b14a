"""Trainer: build exam papers by quota, by hand or by random draw; preview; publish; export."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from pages.ui.actions import act, ask, asked, confirm_step, forget, note, show
from pages.ui.common import current_user, db_session, run_action, show_table
from pages.ui.exam_view import render_question
from training.auth.accounts import list_cohorts
from training.core.clock import day_end, day_start, team_today, team_zone_label
from training.exams.delivery import (
    PAPER_STATUS_LABELS,
    export_paper_xlsx,
    list_papers,
    preview_paper,
    publish_paper,
)
from training.exams.knowledge import list_items
from training.exams.papers import (
    add_by_quota,
    add_questions,
    add_random_slots,
    create_paper,
    paper_items,
    remove_item,
)
from training.mining.question_bank import list_clusters
from training.models import Category, ExamAssignment, ExamPaper, User
from training.models.exams import PaperStatus

NEW_FIELDS = ("pb_title", "pb_description", "pb_minutes", "pb_pass", "pb_shuffle")
KINDS = {"scenario": "情景题", "objective": "知识题"}


def _create() -> None:
    typed = st.session_state

    def save(actor: User) -> ExamPaper:
        with db_session() as session:
            return create_paper(session=session, actor=actor, title=typed["pb_title"],
                                description=typed["pb_description"],
                                time_limit_minutes=int(typed["pb_minutes"]), pass_mark=typed["pb_pass"] / 100,
                                shuffle=typed["pb_shuffle"])

    created = act("pb_new", save)
    if created is None:
        return
    forget(*NEW_FIELDS, to={"pb_title": "", "pb_description": ""})  # cleared only once it is saved
    st.session_state["pb_paper"] = created.id  # the new paper is the one being built
    st.session_state["pb_new_open"] = False
    note("pb_paper", f"已创建试卷「{created.title}」，下面可以为它加题。")


def _add_quota(paper_id: int) -> None:
    quotas = {c.value: int(st.session_state[f"pb_quota_{c.name}"]) for c in Category}

    def run(actor: User) -> dict[str, int]:
        with db_session() as session:
            return add_by_quota(session=session, actor=actor, paper_id=paper_id, quotas=quotas)

    added = act("pb_quota", run, success=lambda a: f"已加入 {sum(a.values())} 题。")
    short = {k: quotas[k] - v for k, v in (added or {}).items() if v < quotas[k]}
    if short:
        note("pb_quota", "题库不足：" + "、".join(f"{k} 少 {v} 题" for k, v in short.items()), "warning")


def _add_hand(paper_id: int) -> None:
    mined, objective = st.session_state["pb_hand_mined"], st.session_state["pb_hand_items"]

    def run(actor: User) -> int:
        with db_session() as session:
            return add_questions(session=session, actor=actor, paper_id=paper_id, mined_question_ids=mined,
                                 knowledge_item_ids=objective)

    if act("pb_hand", run, success=lambda n: f"已加入 {n} 题。") is not None:
        forget("pb_hand_mined", "pb_hand_items")


def _add_random(paper_id: int) -> None:
    kind, pool = st.session_state["pb_random_kind"], st.session_state["pb_random_pool"].strip()
    count = int(st.session_state["pb_random_count"])

    def run(actor: User) -> int:
        with db_session() as session:
            return add_random_slots(session=session, actor=actor, paper_id=paper_id, kind=kind, count=count,
                                    category=pool or None)

    act("pb_random", run, success=lambda n: f"已加入 {n} 道随机{KINDS[kind]}。")


def _ask_remove(paper_id: int, items: dict[int, tuple[int, str]]) -> None:
    item_id = st.session_state.get("pb_remove_target")
    if item_id in items:
        ask("pb_remove", (paper_id, item_id, *items[item_id]))


def _remove(subject: tuple[int, int, int, str]) -> None:
    paper_id, item_id, position, prompt = subject

    def run(actor: User) -> None:
        with db_session() as session:
            remove_item(session=session, actor=actor, paper_id=paper_id, item_id=item_id)

    act("pb_remove", run, success=f"已移除第 {position} 题「{prompt}」。")
    forget("pb_remove_target")


def _publish(paper_id: int, title: str, cohort_names: dict[int, str]) -> None:
    chosen, attempts = st.session_state["pb_cohorts"], int(st.session_state["pb_attempts"])
    opens, closes = day_start(st.session_state["pb_open"]), day_end(st.session_state["pb_close"])

    def run(actor: User) -> list[ExamAssignment]:
        with db_session() as session:
            return publish_paper(session=session, actor=actor, paper_id=paper_id, cohort_ids=chosen,
                                 opens_at=opens, closes_at=closes, max_attempts=attempts)

    to = "、".join(cohort_names.get(c, "") for c in chosen)
    act("pb_publish", run, success=f"已将「{title}」发布给 {to}。")


user = current_user()
st.title("组卷")

# Tracked, so a refused paper keeps the panel open with its error and a created one closes it.
with st.expander("新建试卷", key="pb_new_open", on_change="rerun"), st.form("new_paper"):
    st.text_input("试卷名称", key="pb_title")
    st.text_area("说明", key="pb_description")
    st.number_input("考试时长（分钟）", 1, 600, 60, key="pb_minutes")
    st.slider("及格线（%）", 1, 100, 80, key="pb_pass")
    st.checkbox("每位考生题目顺序随机", value=True, key="pb_shuffle")
    st.form_submit_button("创建", type="primary", on_click=_create)
    show("pb_new")

with db_session() as session:
    papers = run_action(lambda: list_papers(session=session, actor=user)) or []
if not papers:
    st.info("还没有试卷，先新建一份。")
    st.stop()
names = {p.id: f"#{p.id} {p.title}（{PAPER_STATUS_LABELS.get(p.status, p.status)}）" for p in papers}
selected = st.selectbox("当前试卷", list(names), format_func=names.__getitem__, key="pb_paper")
show("pb_paper")
if selected is None:  # never: the list is not empty and has no blank choice
    st.stop()
paper_id: int = selected
paper = next(p for p in papers if p.id == paper_id)
draft = paper.status == PaperStatus.DRAFT
st.caption(f"时长 {paper.time_limit_minutes} 分钟 · 及格线 {paper.pass_mark:.0%} · "
           f"{'题序随机' if paper.shuffle else '题序固定'}")

with db_session() as session:
    items = paper_items(session=session, actor=user, paper_id=paper_id)
st.subheader(f"题目（{len(items)}）")
show_table(pd.DataFrame([{"序号": i.position, "类型": {"scenario": "情景题", "objective": "知识题",
                                                       "random_scenario": "随机情景题",
                                                       "random_objective": "随机知识题"}[i.kind],
                          "题目": i.prompt} for i in items]),
           empty="试卷里还没有题目：用下方的配额、手动挑选或随机抽题加入。", hide_index=True, width="stretch")

if draft:
    tab_quota, tab_hand, tab_random, tab_remove = st.tabs(["按分类配额", "手动挑选", "随机抽题", "移除"])
    with tab_quota:
        st.caption("每个分类取题库中频次最高、尚未被话术覆盖的问题。")
        for c in Category:
            st.number_input(c.value, 0, 100, 0, key=f"pb_quota_{c.name}")
        st.button("按配额加入", key="pb_add_quota", on_click=_add_quota, args=(paper_id,))
        show("pb_quota")
    with tab_hand:
        with db_session() as session:
            bank = list_clusters(session=session, actor=user, in_bank=True)
            knowledge = list_items(session=session, actor=user)
        mined = st.multiselect("情景题（题库）", [q.id for q in bank], key="pb_hand_mined",
                               placeholder="请选择题目",
                               format_func=lambda i: next(f"[{q.category}] {q.question}"
                                                          for q in bank if q.id == i))
        objective = st.multiselect("知识题", [k.id for k in knowledge], key="pb_hand_items",
                                   placeholder="请选择题目",
                                   format_func=lambda i: next(k.stem for k in knowledge
                                                              if k.id == i))
        st.button("加入所选", key="pb_add_hand", disabled=not (mined or objective), on_click=_add_hand,
                  args=(paper_id,))
        show("pb_hand")
    with tab_random:
        st.caption("随机题：每位考生各自抽一道，互不相同。")
        st.radio("类型", list(KINDS), key="pb_random_kind", horizontal=True, format_func=KINDS.__getitem__)
        st.text_input("分类（情景题）或标签（知识题），留空表示不限", key="pb_random_pool")
        st.number_input("数量", 1, 200, 5, key="pb_random_count")
        st.button("加入随机题", key="pb_add_random", on_click=_add_random, args=(paper_id,))
        show("pb_random")
    with tab_remove:
        positions = {i.id: (i.position, i.prompt) for i in items if i.id is not None}
        target = st.selectbox("移除第几题", list(positions), index=None, placeholder="请选择要移除的题目",
                              key="pb_remove_target",
                              format_func=lambda i: next(f"{x.position}. {x.prompt}"
                                                         for x in items if x.id == i))
        st.button("移除", key="pb_remove", disabled=target is None, on_click=_ask_remove,
                  args=(paper_id, positions))
        if (pending := asked("pb_remove")) and pending[0] == paper_id:
            confirm_step("pb_remove", confirm=f"确认移除第 {pending[2]} 题", on_confirm=_remove,
                         question=f"确认从「{paper.title}」移除第 {pending[2]} 题「{pending[3]}」？")
        show("pb_remove")

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
                        key="pb_cohorts", placeholder="请选择班组")
c1, c2, c3 = st.columns(3)
# The days are the team's: the window opens at 00:00 and closes at 23:59 team time, not the server's.
open_day = c1.date_input("开始日期", value=team_today(), key="pb_open",
                         help=f"当天 00:00（{team_zone_label()}）开放")
close_day = c2.date_input("结束日期", value=team_today() + timedelta(days=7), key="pb_close",
                          help=f"当天 23:59（{team_zone_label()}）截止")
attempts = c3.number_input("可考次数", 1, 20, 1, key="pb_attempts")
st.button("发布", type="primary", key="pb_publish", disabled=not chosen, on_click=_publish,
          args=(paper_id, paper.title, cohort_names))
show("pb_publish")


def _export_paper() -> bytes:
    """Built when the button is clicked, so only real downloads are audited."""
    with db_session() as session:
        return export_paper_xlsx(session=session, actor=user, paper_id=paper_id)


if user is not None:
    st.download_button("导出 Excel（含答案，供线下审阅）", _export_paper, file_name=f"paper-{paper_id}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="pb_export")
