"""The 话术库 trainer tab's 千牛 快捷短语 export: filters, choices, the report, then the download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui.common import db_session, filter_label, run_action
from pages.ui.markdown import md_escape
from scripts_bank.qianniu import (
    DEFAULT_FILLS,
    ENCODINGS,
    FILL,
    GROUP_BY,
    MAX_GROUP_CHARS,
    MAX_PHRASE_CHARS,
    PLACEHOLDER_MODES,
    export_file_name,
    export_qianniu,
)
from scripts_bank.service import facets
from training.core.clock import team_today
from training.models import Category, User

NAME, DEFAULT = "占位符", "默认值"


def _defaults_table() -> dict[str, str]:
    """The trainer's placeholder → default table (starts from the built-in defaults, kept per session)."""
    st.caption("默认值表：左列写占位符名称（不含花括号），右列写填入的文字；可增删行。没有默认值的占位符保持原样。")
    edited = st.data_editor(
        pd.DataFrame({NAME: list(DEFAULT_FILLS), DEFAULT: list(DEFAULT_FILLS.values())}),
        num_rows="dynamic", hide_index=True, key="qianniu_defaults",
        column_config={NAME: st.column_config.TextColumn(NAME),
                       DEFAULT: st.column_config.TextColumn(DEFAULT)},
    )
    return {str(name).strip(): "" if value is None else str(value)
            for name, value in zip(edited[NAME], edited[DEFAULT], strict=True)
            if name is not None and str(name).strip()}


def render_qianniu_export(user: User | None) -> None:
    """Export the approved bank as a 千牛 快捷短语 CSV; the report shows before the download button."""
    st.subheader("导出为千牛快捷短语")
    st.caption(f"表头为「快捷短语编码,快捷短语,快捷短语分组」，每条已审定话术一行。编码由话术编号生成，"
               f"每次导出不变。千牛单条短语最多 {MAX_PHRASE_CHARS} 字、分组名最多 {MAX_GROUP_CHARS} 字，"
               "超出的会在下载前列出。")
    with db_session() as session:
        products, tags = run_action(lambda: facets(session=session, actor=user)) or ([], [])
    left, middle, right = st.columns(3)
    category = left.selectbox("分类", [None, *(c.value for c in Category)], format_func=filter_label,
                              key="qianniu_category")
    product = middle.selectbox("商品", [None, *products], format_func=filter_label, key="qianniu_product")
    tag = right.selectbox("标签", [None, *tags], format_func=filter_label, key="qianniu_tag")
    group_by = st.radio("快捷短语分组", list(GROUP_BY), format_func=GROUP_BY.__getitem__, horizontal=True,
                        key="qianniu_group_by")
    st.caption("按标签分组：选了标签筛选时用该标签，否则用话术的第一个标签，没有标签的用分类。")
    mode = st.radio("占位符", list(PLACEHOLDER_MODES), format_func=PLACEHOLDER_MODES.__getitem__,
                    horizontal=True, key="qianniu_placeholders")
    defaults = _defaults_table() if mode == FILL else None
    encoding = st.radio("文件编码", list(ENCODINGS), format_func=ENCODINGS.__getitem__, horizontal=True,
                        key="qianniu_encoding")
    st.caption("Windows 版千牛等桌面客户端通常需要 GBK；含 GBK 无法表示的字符（如表情符号）的话术"
               "不会写入，并在下方列出。")
    if not st.button("生成快捷短语文件", key="qianniu_export"):
        return
    with db_session() as session:
        made = run_action(lambda: export_qianniu(
            session=session, actor=user, category=category, product=product, tag=tag, group_by=group_by,
            placeholders=mode, defaults=defaults, encoding=encoding))
    if made is None:
        return
    summary, *problems = made.report.lines()
    for line in problems:
        st.warning(md_escape(line))
    if not made.report.rows:
        st.info("没有可写入的话术：所选分类、商品、标签下没有已审定的话术"
                + ("，或都因上面列出的原因未写入" if problems else "") + "。请调整筛选条件后重新生成。")
        return
    st.success(md_escape(summary))
    st.download_button(f"下载 {export_file_name(team_today())}", made.data,
                       file_name=export_file_name(team_today()), mime="text/csv",
                       key="qianniu_download", on_click="ignore")
