"""模型训练与切换: fine-tune the encoder on the shop's own data, compare versions, switch the active one."""

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from pages.ui.actions import ask, asked, cancel, confirm_step
from pages.ui.common import current_user, db_session, forget_active_model, run_action
from pages.ui.job_panel import job_panel, open_job, start_job
from pages.ui.markdown import md_escape
from scripts_bank.jobs import ADAPT, WARM_UP
from training.core.clock import fmt_datetime
from training.core.config import EMBEDDED_MODEL
from training.models import EncoderVersion
from training.nlp.model_versions import (
    SHIPPED_NAME,
    FigureChange,
    activate_version,
    active_model,
    active_version,
    judge_version,
    list_versions,
    model_folder,
    model_id_of,
)
from training.ops.adapt_platform import MIN_ITEMS, platform_data

FLASH_KEY = "model_admin_flash"
SHIPPED_CONFIRMED = "model_shipped_confirmed"
#: Each held-out figure: its name for trainers, what it measures, and whether it reads as a percentage.
FIGURES = {
    "rank_r1": ("首位命中率", "拿顾客的问题去找对应的话术或回答，正确的那一条排在第一位的比例。", True),
    "rank_mrr": ("平均排位得分", "正确的那一条平均排得有多靠前：排第 1 记满分，排第 2 记一半，"
                 "排第 3 记三分之一……再取平均。", True),
    "pairs_spearman": ("评分吻合度", "模型判断的回答好坏顺序与培训师评分顺序的吻合程度：1 为完全吻合，"
                       "0 为毫无关系。", False),
}
SOURCES = {"scripts": "话术问答对", "clusters": "问题簇同义问法", "reviewed_answers": "已评阅回答",
           "best_vs_worst": "优劣回答对比"}

user = current_user()
st.title("模型训练与切换")

with db_session() as session:
    listed = run_action(lambda: list_versions(session=session, actor=user))
if listed is None:
    st.stop()
versions: list[EncoderVersion] = listed
flash = st.session_state.pop(FLASH_KEY, None)
if flash:
    st.success(md_escape(flash))


def _warmed(report: dict[str, Any]) -> str:
    return (f"新模型已准备就绪：重新整理了 {report.get('texts', 0)} 条文本的检索索引"
            f"（{report.get('clusters', 0)} 个问题、{report.get('scripts', 0)} 条话术），"
            f"{report.get('covered', 0)} 个问题已有话术覆盖。")


def _start_warm_up() -> None:
    """Embed what the app needs under the model just switched to, in the background (a job)."""
    start_job(user, WARM_UP, "", {})


def _label(version: EncoderVersion) -> str:
    """A version as trainers name it: the n-th model trained on the shop's data (oldest = 1)."""
    return f"本店训练版 第 {numbers.get(version.id or 0, 0)} 版"


def _base_label(base_model: str) -> str:
    """The model a version started from, by its readable name."""
    if base_model == EMBEDDED_MODEL:
        return SHIPPED_NAME
    same = next((v for v in versions if v.name == Path(base_model).name), None)
    return _label(same) if same is not None else "其他模型"


#: Versions numbered in the order they were trained.
numbers = {v.id or 0: n for n, v in enumerate(sorted(versions, key=lambda v: v.created_at), start=1)}


def _confirm_shipped(_: object) -> None:
    st.session_state[SHIPPED_CONFIRMED] = True


def _switch(version: EncoderVersion | None) -> None:
    with db_session() as session:
        done = run_action(lambda: activate_version(
            session=session, actor=user, version_id=version.id if version else None))
    if done is None:
        return
    forget_active_model()
    _start_warm_up()
    st.session_state[FLASH_KEY] = f"已切换到{_label(version) if version else SHIPPED_NAME}。"
    st.rerun()


# --- 当前模型
st.subheader("当前模型")
with db_session() as session:
    current = active_version(session=session)
    model = active_model(session=session)
st.markdown(f"**{_label(current) if current else SHIPPED_NAME}**",
            help=f"技术标识（供技术支持排查问题）：{model_id_of(model)}")
if current is not None and not model_folder(current).is_dir():
    st.warning(f"当前版本的模型文件夹不存在（{model_folder(current)}），应用已改用内置模型。")
job_panel(user, WARM_UP, "", _warmed)

# --- 可用训练数据
st.subheader("可用训练数据")
with db_session() as session:
    data, counts = platform_data(session=session, actor=user)
for column, (key, label) in zip(st.columns(len(SOURCES)), SOURCES.items(), strict=True):
    column.metric(label, counts.get(key, 0))
st.caption(f"合计 {len(data)} 条（至少需要 {MIN_ITEMS} 条）。"
           "其中约 20% 留作训练前后对比的评估数据，不参与训练。")

# --- 开始训练
st.subheader("开始训练")
st.caption("用本店数据训练：先为每条训练文本计算一次向量，再在这些向量上反复训练多轮（通常几分钟），"
           "并按本店数据学习判断回答是否切中问题时意思、用词、长短各占的比重。"
           "在本机 CPU 上后台运行，期间可离开本页。"
           "训练结束后保存为新版本，需在下方“模型版本”中设为当前模型才会生效。")
training = open_job(ADAPT) is not None
too_few = len(data) < MIN_ITEMS
if too_few:
    st.info(f"训练数据还不够：目前 {len(data)} 条，至少需要 {MIN_ITEMS} 条。"
            "请先审定话术、挖掘问题或评阅答卷，数据够了才能开始训练。")
with st.form("adapt_form"):
    minutes = st.number_input("训练时长上限（分钟，不含计算向量、评估与保存）", min_value=1, max_value=120,
                              value=20, step=1, key="adapt_minutes")
    if st.form_submit_button("开始训练", type="primary", disabled=training or too_few):
        if start_job(user, ADAPT, "", {"budget_seconds": float(minutes) * 60}) is not None:
            st.rerun()  # draw the panel below with the queued job
job_panel(user, ADAPT, "", lambda result: "训练完成：新版本已保存，请在下方「模型版本」查看是否建议切换。")

# --- 模型版本
st.subheader("模型版本")


def _value(key: str, value: float) -> str:
    return f"{value:.0%}" if FIGURES[key][2] else f"{round(value, 2) + 0.0:.2f}"  # never "-0.00"


def _change(change: FigureChange) -> str:
    return f"{_value(change.key, change.before)} → {_value(change.key, change.after)}"


def _verdict(version: EncoderVersion) -> tuple[bool, str]:
    """Whether to switch to ``version``, and why, in one sentence for trainers."""
    verdict = judge_version(version.report)
    names = {f.key: f"{FIGURES[f.key][0]}（{_change(f)}）" for f in verdict.figures}
    if not verdict.figures:
        return False, "不建议切换：这个版本没有训练前后的对比成绩（评估数据不足），无法说明它比原来更好。"
    if verdict.worse:
        text = f"不建议切换：{'、'.join(names[k] for k in verdict.worse)}比训练前下降了。"
    elif not verdict.better:
        text = "不建议切换：训练后各项成绩与训练前基本相同，切换没有明显好处。"
    else:
        text = f"建议切换：{'、'.join(names[k] for k in verdict.better)}比训练前提高了，其他成绩没有下降。"
    if not verdict.enough_data:
        text += f"不过评估只用了 {verdict.held_out} 条数据，结论仅供参考。"
    return verdict.recommended, text


def _minutes(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "—"
    return f"{seconds / 60:.0f} 分钟" if seconds >= 60 else f"{seconds:.0f} 秒"


if not versions:
    st.info("还没有训练出的模型版本。可在上方「开始训练」，用本店数据训练一个新版本。")
    st.stop()
rows = []
for v in versions:
    report = v.report or {}
    held = report.get("held_out") or {}
    judged = {f.key: _change(f) for f in judge_version(report).figures}
    rows.append({"当前": "✔" if v.active else "", "版本": _label(v),
                 "创建时间": fmt_datetime(v.created_at), "训练起点": _base_label(v.base_model),
                 "结论": "建议切换" if _verdict(v)[0] else "不建议切换",
                 **{f"{name}（训练前→后）": judged.get(key, "—") for key, (name, _, _) in FIGURES.items()},
                 "评估数据": f"{held.get('examples', 0)} 个问题、{held.get('pairs', 0)} 对评分",
                 "训练用时": _minutes(report.get("seconds") or (report.get("training") or {}).get("seconds")),
                 "排序权重": "按本店数据学习" if report.get("fusion") else "默认"})
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption("训练前→后：用一批没有参加训练的本店数据，分别给训练起点的模型和训练后的新版本打分，"
           "两者对比；三项都是越高越好。排序权重：判断回答是否切中顾客问题时，意思、用词、长短各占的比重；"
           "本店数据足够时按本店数据学习，否则用默认比重（意思七成、用词三成）。")
for name, meaning, _ in FIGURES.values():
    st.caption(f"**{name}**：{meaning}")

warming = open_job(WARM_UP) is not None
by_id = {v.id: v for v in versions}
left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
if st.session_state.get("model_newest_seen") != versions[0].id:
    # a version trained since the last visit is the one the trainer wants to judge
    st.session_state["model_newest_seen"] = versions[0].id
    st.session_state["model_choice"] = versions[0].id
chosen = left.selectbox("模型版本", list(by_id), format_func=lambda i: _label(by_id[i]), key="model_choice")
if middle.button("设为当前模型", key="model_activate", disabled=chosen is None or warming):
    cancel("model_shipped")
    _switch(by_id[chosen])
# Going back to the shipped model asks first (the trained version stays, the index is rebuilt).
right.button("恢复内置模型", key="model_shipped", disabled=current is None or warming,
             on_click=ask, args=("model_shipped", True))
if st.session_state.pop(SHIPPED_CONFIRMED, False):
    _switch(None)  # here, not in the callback: the switch reruns the page with its message
if asked("model_shipped") and current is not None:
    confirm_step("model_shipped", confirm=f"确认恢复为{SHIPPED_NAME}", on_confirm=_confirm_shipped,
                 question=f"确认从「{_label(current)}」恢复为{SHIPPED_NAME}？话术查询将改用{SHIPPED_NAME}，"
                          "检索索引需要重新整理几分钟；训练出的版本仍保留，可随时再切换回来。")
if warming:
    st.caption("正在用新模型重新整理检索索引，完成后才能再次切换。")
if chosen is not None:
    advised, reason = _verdict(by_id[chosen])
    (st.success if advised else st.warning)(f"**{_label(by_id[chosen])}**：{reason}")
    if by_id[chosen].base_model != model:
        st.caption(f"对比的是这个版本的训练起点「{_base_label(by_id[chosen].base_model)}」，不是当前模型。")
    picked = by_id[chosen]
    st.caption(f"训练完成于 {fmt_datetime(picked.created_at)}（保存在 models/{md_escape(picked.name)}）")
