"""The 话术库 trainer tab's 千牛 快捷短语 import: upload, preview (phrases, groups, duplicates), import."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui.actions import act, note, show
from pages.ui.common import db_session, run_action, show_table
from pages.ui.markdown import md_escape
from scripts_bank.qianniu import HEADER
from scripts_bank.qianniu_import import (
    NO_GROUP,
    QianniuPlan,
    import_qianniu,
    plan_qianniu_import,
    read_qianniu_phrases,
)
from training.models import User

UPLOAD, SLOT, ROUND = "qianniu_import_file", "qianniu_import", "qianniu_import_round"


def _upload_key() -> str:
    """The uploader's key: a new one after each import, so the imported file leaves the box."""
    done = int(st.session_state.get(ROUND, 0))
    return UPLOAD if done == 0 else f"{UPLOAD}-{done}"


def _import() -> None:
    upload = st.session_state.get(_upload_key())
    if upload is None:
        return

    def run(actor: User) -> QianniuPlan:
        phrases = read_qianniu_phrases(upload.getvalue(), file_name=upload.name)
        with db_session() as session:
            return import_qianniu(session=session, actor=actor, phrases=phrases, file_name=upload.name)

    done = act(SLOT, run, success=lambda plan: (
        f"已导入 {plan.created} 条草稿话术。请到「话术列表」标签页，勾选「已审定和草稿」查看，"
        "逐条修改问题、分类后审定发布；审定前客服查不到它们。"))
    if done is not None:
        for line in done.lines()[1:]:
            note(SLOT, line, "warning")
        st.session_state[ROUND] = int(st.session_state.get(ROUND, 0)) + 1


def render_qianniu_import(user: User | None) -> None:
    """Upload a 千牛 快捷短语 file, preview what it holds, then import every new phrase as a draft."""
    st.subheader("导入千牛快捷短语")
    st.caption(f"支持千牛导出的 CSV（表头「{','.join(HEADER)}」，编码列也可写作「快捷编码」，分隔符可用"
               "逗号、竖线或制表符；UTF-8 或 GBK）和同样表头的 .xlsx。旧版 .xls 请先另存为 .xlsx。"
               "每条短语导入为草稿，分组对应分类（对不上的归入「其他」并保留分组名为标签），"
               "与已审定话术或待审定草稿相同的短语会跳过。有任何一行出错则整份文件都不导入。")
    upload = st.file_uploader("选择快捷短语文件", type=["csv", "txt", "xlsx", "xls"], key=_upload_key())
    if upload is not None:
        with db_session() as session:
            plan = run_action(lambda: plan_qianniu_import(
                session=session, actor=user,
                phrases=read_qianniu_phrases(upload.getvalue(), file_name=upload.name)))
        if plan is not None:
            summary, *skipped = plan.lines()
            st.info(md_escape(summary))
            for line in skipped:
                st.warning(md_escape(line))
            show_table(pd.DataFrame({"分组": [g if g else NO_GROUP for g in plan.groups],
                                     "条数": list(plan.groups.values())}),
                       empty="没有新的快捷短语可导入。", hide_index=True)
            st.button("导入为草稿", key=SLOT, disabled=not plan.new, on_click=_import)
    show(SLOT)
