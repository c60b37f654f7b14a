"""Renderers for the script bank's trainer tabs: import/export, usage, lint phrase lists."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui.actions import act, forget, show
from pages.ui.chart_blocks import people_table
from pages.ui.common import db_session, run_action, show_table
from pages.ui.qianniu_export import render_qianniu_export
from pages.ui.qianniu_import import render_qianniu_import
from scripts_bank.authoring import export_scripts, import_scripts
from scripts_bank.io import export_bytes, read_script_table, scripts_table
from scripts_bank.usage import WEAK_LOOKUP_COSINE, usage_report, weak_lookups
from scripts_bank.zammad import zammad_csv
from training.core.config import get_settings
from training.core.tables import safe_export
from training.models import LintPhrase, User
from training.nlp.model_versions import active_model_id, model_threshold
from training.ranking.lint_rules import PHRASE_KINDS, list_phrases, save_phrase

ZAMMAD = "zammad"
EXPORT_FORMATS = {"xlsx": "Excel（xlsx）", "csv": "CSV", ZAMMAD: "Zammad 文本模块（CSV）"}


def _import_scripts() -> None:
    upload = st.session_state.get("bank_import_file")
    if upload is None:
        return
    limit = get_settings().upload_limit_mb * 1024 * 1024

    def run(actor: User) -> int:
        rows = read_script_table(upload.getvalue(), file_name=upload.name, limit_bytes=limit)
        with db_session() as session:
            return import_scripts(session=session, actor=actor, rows=rows)

    act("bank_import", run, success=lambda count: f"已导入 {count} 条话术。")


def render_transfer(user: User | None) -> None:
    """Import a 话术 table (XLSX/CSV, all or nothing) and export the approved bank."""
    st.subheader("导入话术表")
    st.caption("列名：问题、话术，可选 分类、标签、商品、变体。支持 XLSX / CSV（UTF-8 或 GBK）。")
    upload = st.file_uploader("选择文件", type=["xlsx", "csv", "tsv", "txt"], key="bank_import_file")
    st.button("导入", key="bank_import", disabled=upload is None, on_click=_import_scripts)
    show("bank_import")
    st.subheader("导出话术库")
    fmt = st.radio("格式", list(EXPORT_FORMATS), horizontal=True, key="bank_export_fmt",
                   format_func=EXPORT_FORMATS.__getitem__)
    if st.button("生成导出文件", key="bank_export"):
        with db_session() as session:
            rows = run_action(lambda: export_scripts(session=session, actor=user))
        if rows is not None:
            name = "话术库-Zammad文本模块.csv" if fmt == ZAMMAD else f"话术库.{fmt}"
            st.success(f"已生成 {len(rows)} 条已审定话术的{EXPORT_FORMATS[fmt]}文件。")
            if fmt == ZAMMAD:
                st.caption("占位符（如 {客户称呼}、{订单号}）原样写入：Zammad 不会自动替换，"
                           "客服发送前需手动改成实际内容。")
            st.download_button(
                f"下载 {name}",
                zammad_csv(rows) if fmt == ZAMMAD else export_bytes(scripts_table(rows), fmt),
                file_name=name,
                key="bank_export_download",
                on_click="ignore",
            )
    render_qianniu_export(user)
    render_qianniu_import(user)


def render_usage(user: User | None) -> None:
    """Most used, never used and outdated-flagged scripts, and lookups that found nothing good."""
    days = st.selectbox(
        "统计周期", [7, 30, 90], index=1, format_func=lambda d: f"最近 {d} 天", key="usage_days"
    )
    # The threshold was tuned on the shipped encoder; an adapted one has its own cosine scale.
    with db_session() as session:
        below = model_threshold(active_model_id(session=session), WEAK_LOOKUP_COSINE)
        report = run_action(lambda: usage_report(session=session, actor=user, days=days)) or []
        weak = run_action(
            lambda: weak_lookups(session=session, actor=user, days=days, below=below)
        )
    frame = pd.DataFrame(
        [
            {
                "话术": u.script.question,
                "分类": u.script.category,
                "首位命中": u.top_hits,
                "出现次数": u.shown,
                "有用": u.useful,
                "过时": u.outdated,
            }
            for u in report
        ]
    )
    st.markdown("**最常用**")
    show_table(safe_export(frame.head(20)) if not frame.empty else frame,
               empty="所选周期内还没有话术被查到。", hide_index=True)
    st.markdown("**从未被查到**")
    never = [u.script.question for u in report if u.shown == 0]
    show_table(pd.DataFrame({"话术": never}), empty="每条话术都被查到过。", hide_index=True)
    st.markdown("**被标记为过时（当前版本）**")
    show_table(
        pd.DataFrame([{"话术": u.script.question, "过时票数": u.outdated} for u in report if u.outdated]),
        empty="没有被标记为过时的话术。", hide_index=True,
    )
    st.markdown("**没有找到好答案的查询**（没有可靠匹配的话术，或客服上报为未覆盖）")
    weak_table, formats = people_table(
        pd.DataFrame([{"查询": w.query, "次数": w.times, "客服上报": w.reported,
                       "最接近话术的相似度": w.best_similarity} for w in weak or []],
                     columns=["查询", "次数", "客服上报", "最接近话术的相似度"]),
        decimals=["最接近话术的相似度"])
    show_table(weak_table, empty="所选周期内每次查询都找到了相近的话术。", hide_index=True,
               column_config=formats)


def _save_phrase() -> None:
    typed = st.session_state

    def save(actor: User) -> LintPhrase:
        with db_session() as session:
            return save_phrase(session=session, actor=actor, phrase=typed["lint_phrase"],
                               kind=typed["lint_kind"], reason=typed["lint_reason"],
                               whole_reply=typed["lint_whole"], penalty=typed["lint_penalty"],
                               active=typed["lint_active"],
                               exceptions=typed["lint_exceptions"].replace("，", ",").split(","))

    if act("lint_phrase", save, success=lambda p: f"已保存短语「{p.phrase}」。") is not None:
        texts = ("lint_phrase", "lint_reason", "lint_exceptions")
        forget(*texts, to=dict.fromkeys(texts, ""))  # cleared only once it is saved


def render_lint_rules(user: User | None) -> None:
    """The phrase lists the answer ranking penalises; trainers add, change and switch off phrases."""
    with db_session() as session:
        phrases = run_action(lambda: list_phrases(session=session, actor=user)) or []
    st.caption("排序时命中这些短语的回答会被扣分，并向培训师说明原因。")
    show_table(
        pd.DataFrame(
            [
                {
                    "类型": PHRASE_KINDS.get(p.kind, p.kind),
                    "短语": p.phrase,
                    "整句才算": p.whole_reply,
                    "扣分": p.penalty,
                    "启用": p.active,
                    "例外": "、".join(p.exceptions or []),
                    "原因": p.reason,
                }
                for p in phrases
            ]
        ),
        empty="还没有扣分短语：在下方添加。", hide_index=True,
    )
    with st.form("lint_phrase"):
        left, right = st.columns(2)
        left.selectbox("类型", list(PHRASE_KINDS), format_func=PHRASE_KINDS.__getitem__, key="lint_kind")
        right.text_input("短语（已有的同类短语会被修改）", key="lint_phrase")
        st.text_input("原因（向培训师展示）", key="lint_reason")
        st.text_input("例外（含该短语但无害的说法，逗号分隔）", key="lint_exceptions")
        a, b, c = st.columns(3)
        a.number_input("扣分", min_value=0.05, max_value=1.0, value=0.2, step=0.05, key="lint_penalty")
        b.checkbox("整句只有这个词才算", key="lint_whole")
        c.checkbox("启用", value=True, key="lint_active")
        st.form_submit_button("保存短语", on_click=_save_phrase)
        show("lint_phrase")
