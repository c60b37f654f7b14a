"""The 知识题库 page's exchange with other exam tools: Moodle XML, GIFT, exam-tool Excel, in and out."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui.actions import act, show
from pages.ui.common import db_session, run_action, show_table
from pages.ui.markdown import md_escape
from training.core.clock import team_today
from training.exams.choices import LETTERS
from training.exams.interchange.records import QuestionRecord
from training.exams.interchange.service import (
    EXTENSIONS,
    FORMATS,
    KIND_NAMES,
    MIME_TYPES,
    QuestionPlan,
    export_questions,
    import_questions,
    plan_import,
    read_questions,
)
from training.models import User

UPLOAD, SLOT, ROUND = "qx_file", "qx_import", "qx_round"
AUTO = "auto"
FORMAT_CHOICES = {AUTO: "自动识别", **FORMATS}
_PREVIEW_ROWS = 200


def _upload_key() -> str:
    """A new uploader after each import, so the imported file leaves the box."""
    done = int(st.session_state.get(ROUND, 0))
    return UPLOAD if done == 0 else f"{UPLOAD}-{done}"


def _plan(user: User | None, raw: bytes, name: str, fmt: str) -> QuestionPlan:
    parsed = read_questions(raw, file_name=name, file_format=fmt)
    with db_session() as session:
        return plan_import(session=session, actor=user, parsed=parsed)


def _import() -> None:
    upload = st.session_state.get(_upload_key())
    if upload is None:
        return
    fmt = st.session_state.get("qx_format", AUTO)

    def run(actor: User) -> QuestionPlan:
        parsed = read_questions(upload.getvalue(), file_name=upload.name, file_format=fmt)
        with db_session() as session:
            return import_questions(session=session, actor=actor, parsed=parsed, file_name=upload.name)

    done = act(SLOT, run, success=lambda plan: (
        f"已导入知识题 {plan.created_items} 道、情景题 {plan.created_scenarios} 道。"
        + ("情景题已加入「问题库」，组卷时可选用。" if plan.created_scenarios else "")))
    if done is not None:
        st.session_state[ROUND] = int(st.session_state.get(ROUND, 0)) + 1


def _preview_row(record: QuestionRecord) -> dict[str, object]:
    options = " | ".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(record.options))
    return {"位置": f"第 {record.line} 行" if record.line else "", "题型": KIND_NAMES[record.type],
            "题干": record.stem, "选项": options, "答案": record.answer or "（自由作答）",
            "标签": "、".join(record.tags)}


def _render_import(user: User | None) -> None:
    st.markdown("**导入**")
    st.caption("Moodle XML（.xml）、GIFT（.gift/.txt）或常见考试系统的 Excel 模板（题干、题型、选项A～选项H、"
               "正确答案、解析、章节、难度；.xlsx 或 .csv）。单选、多选、判断题进入知识题库；问答题（Moodle "
               "的 essay、GIFT 的 {}）作为情景题进入问题库，题干即顾客的话。Huashu 没有的题型（数值、匹配、"
               "填空、完形等）会列出并跳过；已在题库中的题不会重复导入；有任何一道题出错则整个文件都不导入。")
    left, right = st.columns([1, 2])
    left.selectbox("文件格式", list(FORMAT_CHOICES), format_func=FORMAT_CHOICES.__getitem__, key="qx_format")
    upload = right.file_uploader("选择题目文件", type=["xml", "gift", "txt", "xlsx", "csv", "xls"],
                                 key=_upload_key())
    if upload is not None:
        plan = run_action(lambda: _plan(user, upload.getvalue(), upload.name,
                                        st.session_state.get("qx_format", AUTO)))
        if plan is not None:
            summary, *rest = plan.lines()
            for line in plan.problems():
                st.error(md_escape(line))
            st.info(md_escape(summary))
            for line in rest:
                st.warning(md_escape(line))
            show_table(pd.DataFrame([_preview_row(r) for r in plan.new[:_PREVIEW_ROWS]]),
                       empty="没有新的题目可导入。", hide_index=True, width="stretch")
            if len(plan.new) > _PREVIEW_ROWS:
                st.caption(f"只列出前 {_PREVIEW_ROWS} 道，共 {len(plan.new)} 道新题。")
            st.button(f"导入 {len(plan.new)} 道新题", key=SLOT, type="primary",
                      disabled=not plan.ok or not plan.new, on_click=_import)
    show(SLOT)


def _render_export(user: User | None) -> None:
    st.markdown("**导出**")
    st.caption("导出在用的知识题（不含已停用的）和问题库中的情景题；导出的文件可以再导入本系统或其他考试系统。"
               "选项前的字母不写入文件，答案按选项顺序对应。")
    left, middle, right = st.columns([1, 1, 1])
    fmt = left.selectbox("导出格式", list(FORMATS), format_func=FORMATS.__getitem__, key="qx_export_format")
    tag = middle.text_input("只导出此标签（可留空）", key="qx_export_tag").strip() or None
    scenarios = right.checkbox("包含问题库中的情景题", value=True, key="qx_export_scenarios")
    if not st.button("生成导出文件", key="qx_export"):
        return
    with db_session() as session:
        made = run_action(lambda: export_questions(session=session, actor=user, file_format=fmt, tag=tag,
                                                   scenarios=scenarios))
    if made is None:
        return
    data, count = made
    if count == 0:
        st.info("没有符合条件的题目，未生成文件。")
        return
    st.success(f"已生成 {count} 道题的「{FORMATS[fmt]}」文件。")
    st.download_button(f"下载 题目-{team_today():%Y%m%d}.{EXTENSIONS[fmt]}", data,
                       file_name=f"题目-{team_today():%Y%m%d}.{EXTENSIONS[fmt]}", mime=MIME_TYPES[fmt],
                       key="qx_download", on_click="ignore")


def render_question_exchange(user: User | None) -> None:
    """Import questions from other exam tools (preview first) and export the bank to them."""
    st.subheader("与其他考试系统互通")
    _render_import(user)
    _render_export(user)
