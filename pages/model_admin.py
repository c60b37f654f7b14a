"""模型训练与切换: fine-tune the encoder on the shop's own data, compare versions, switch the active one."""

from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from pages.common import current_user, db_session, embedder, engine, forget_active_model, run_action
from pages.exam_view import md_escape
from scripts_bank.warmup import WarmUpReport, warm_up
from training import jobs
from training.adapt_platform import MIN_ITEMS, adapt_from_platform, platform_data
from training.clock import fmt_datetime
from training.config import get_settings
from training.model_versions import (
    SHIPPED_NAME,
    activate_version,
    active_model,
    active_version,
    list_versions,
    model_folder,
    model_id_of,
)
from training.models import EncoderVersion

TRAIN_JOB = "encoder-adapt"
WARM_JOB = "encoder-warmup"
POLL_SECONDS = 2
FLASH_KEY = "model_admin_flash"
FIGURES = {"rank_r1": "排序R@1", "rank_mrr": "排序MRR", "pairs_spearman": "评分Spearman"}
SOURCES = {"scripts": "话术问答对", "clusters": "问题簇同义问法", "reviewed_answers": "已评阅回答",
           "best_vs_worst": "优劣回答对比"}

user = current_user()
st.title("模型训练与切换")

with db_session() as session:
    versions = run_action(lambda: list_versions(session, user))
if versions is None:
    st.stop()
flash = st.session_state.pop(FLASH_KEY, None)
if flash:
    st.success(md_escape(flash))


def _job_panel(name: str, label: str, done: Any) -> None:
    """Progress of the background job ``name``, polled while it runs; a full rerun when it ends."""
    job = jobs.status(name)
    watch_key = f"model_admin_watch_{name}"

    @st.fragment(run_every=POLL_SECONDS if job is not None and job.running else None)
    def panel() -> None:
        now = jobs.status(name)
        if now is None:
            return
        if now.running:
            st.session_state[watch_key] = now.run_id
            st.progress(now.fraction, text=f"{label}：{md_escape(now.message or '准备中……')}")
            return
        if now.error:
            st.error(f"{label}失败：{md_escape(now.error)}")
        else:
            st.success(done(now.result))
        if st.session_state.pop(watch_key, None) == now.run_id:
            st.rerun()  # the job just ended: redraw the whole page (new version, new counts)

    panel()


def _warmed(report: WarmUpReport) -> str:
    return (f"新模型的向量已就绪：重新计算了 {report.texts} 条文本（{report.clusters} 个问题、"
            f"{report.scripts} 条话术），{report.covered} 个问题已有话术覆盖。")


def _start_warm_up() -> None:
    """Embed what the app needs under the model just switched to, in the background."""
    new_embedder = embedder()  # loads the new model once per process (with a spinner)
    bind, actor = engine(), user
    weight = get_settings().lookup_semantic_weight

    def work(progress: jobs.Progress) -> WarmUpReport:
        with Session(bind, expire_on_commit=False) as session:
            return warm_up(session=session, actor=actor, embedder=new_embedder, semantic_weight=weight,
                           progress=progress)

    run_action(lambda: jobs.start(WARM_JOB, work))


def _switch(version: EncoderVersion | None) -> None:
    with db_session() as session:
        done = run_action(lambda: activate_version(
            session=session, actor=user, version_id=version.id if version else None))
    if done is None:
        return
    forget_active_model()
    _start_warm_up()
    st.session_state[FLASH_KEY] = f"已切换到{'“' + version.name + '”' if version else SHIPPED_NAME}。"
    st.rerun()


# --- 当前模型
st.subheader("当前模型")
with db_session() as session:
    current = active_version(session)
    model = active_model(session)
st.markdown(f"**{md_escape(current.name) if current else SHIPPED_NAME}**")
st.text(f"模型标识：{model_id_of(model)}")
if current is not None and not model_folder(current).is_dir():
    st.warning(f"当前版本的模型文件夹不存在（{model_folder(current)}），应用已改用内置模型。")
_job_panel(WARM_JOB, "用新模型重新计算向量", _warmed)

# --- 可用训练数据
st.subheader("可用训练数据")
with db_session() as session:
    data, counts = platform_data(session, user)
for column, (key, label) in zip(st.columns(len(SOURCES)), SOURCES.items(), strict=True):
    column.metric(label, counts.get(key, 0))
st.caption(f"合计 {len(data)} 条（至少需要 {MIN_ITEMS} 条）。"
           "其中约 20% 留作训练前后对比的评估数据，不参与训练。")

# --- 开始训练
st.subheader("开始训练")
st.caption("在当前模型的基础上用本店数据微调，在本机 CPU 上后台运行，期间可离开本页。"
           "训练结束后保存为新版本，需在下方“模型版本”中设为当前模型才会生效。")
training = (job := jobs.status(TRAIN_JOB)) is not None and job.running
with st.form("adapt_form"):
    minutes = st.number_input("训练时长上限（分钟，不含评估与保存）", min_value=1, max_value=120, value=20,
                              step=1, key="adapt_minutes")
    if st.form_submit_button("开始训练", type="primary", disabled=training):
        bind, actor, budget = engine(), user, float(minutes) * 60

        def train(progress: jobs.Progress) -> str:
            with Session(bind, expire_on_commit=False) as session:
                return adapt_from_platform(session=session, actor=actor, budget_seconds=budget,
                                           progress=progress).name

        run_action(lambda: jobs.start(TRAIN_JOB, train))
_job_panel(TRAIN_JOB, "训练", lambda name: f"训练完成：新版本“{md_escape(name)}”已保存，见下方模型版本。")

# --- 模型版本
st.subheader("模型版本")


def _figure(report: dict[str, Any], key: str) -> str:
    before, after = (report.get(side) or {} for side in ("before", "after"))
    if key not in before and key not in after:
        return ""
    return f"{before.get(key, float('nan')):.3f} → {after.get(key, float('nan')):.3f}"


if not versions:
    st.info("还没有训练出的模型版本。可在上方开始训练，或在命令行运行 huashu adapt。")
    st.stop()
rows = []
for v in versions:
    report = v.report or {}
    stats = report.get("training") or {}
    held = report.get("held_out") or {}
    rows.append({"当前": "✔" if v.active else "", "名称": v.name,
                 "创建时间": fmt_datetime(v.created_at), "基础模型": v.base_model,
                 **{f"{label}（前→后）": _figure(report, key) for key, label in FIGURES.items()},
                 "留出样本": f"{held.get('examples', 0)} 条排序、{held.get('pairs', 0)} 对评分",
                 "训练步数": stats.get("steps"), "训练秒数": stats.get("seconds")})
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption("前→后：同一批留出数据上训练前（基础模型）与训练后的成绩，越高越好。")

warming = (job := jobs.status(WARM_JOB)) is not None and job.running
by_id = {v.id: v for v in versions}
left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
chosen = left.selectbox("模型版本", list(by_id), format_func=lambda i: by_id[i].name, key="model_choice")
if middle.button("设为当前模型", key="model_activate", disabled=chosen is None or warming):
    _switch(by_id[chosen])
if right.button("恢复内置模型", key="model_shipped", disabled=current is None or warming):
    _switch(None)
if warming:
    st.caption("正在用新模型重新计算向量，完成后才能再次切换。")
