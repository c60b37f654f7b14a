"""Trainer: import a chat-log export, then mine its customer questions into the question bank."""

import pandas as pd
import streamlit as st

from pages.ui.actions import note, show
from pages.ui.common import current_user, db_session, embedder, progress_bar, run_action, show_table
from pages.ui.markdown import md_escape
from training.chats.importer import import_chat_log, list_imports
from training.chats.parsers import detect_format, read_header
from training.chats.readers import MAPPED_FORMATS, ColumnMapping, propose_mapping
from training.core.clock import fmt_datetime
from training.core.config import get_settings
from training.mining.service import mine_import

user = current_user()
st.title("聊天记录导入")
st.caption("支持京东 7 列 TSV 导出、CSV / Excel（需指定列）、JSONL；UTF-8 或 GBK 编码。"
           "手机号、身份证号、邮箱、银行卡号和详细地址会在保存前脱敏。同一文件不会重复导入。")

limit = get_settings().upload_limit_mb
upload = st.file_uploader(f"选择聊天记录文件（不超过 {limit} MB）",
                          type=["txt", "tsv", "csv", "xlsx", "jsonl"], key="ci_upload")
mapping = None
if upload is not None:
    raw, upload_name = upload.getvalue(), upload.name
    file_format = run_action(lambda: detect_format(raw, upload_name))
    if file_format in MAPPED_FORMATS:
        columns = run_action(lambda: read_header(raw, file_name=upload_name)) or []
        if columns:
            st.markdown("**指定各列的含义**")
            proposed = propose_mapping(columns)
            choices: list[str | None] = [None, *columns]  # None: the file has no such column

            def pick(label: str, field: str, key: str) -> str | None:
                value = proposed.get(field)
                index = choices.index(value) if value in choices else 0
                return st.selectbox(label, choices, index=index, key=key,
                                    format_func=lambda c: "（无）" if c is None else c)

            a, b, c, d = st.columns(4)
            session_col = pick("会话 ID 列", "session", "ci_map_session")
            role_col = pick("发送方列", "role", "ci_map_role")
            text_col = pick("消息内容列", "text", "ci_map_text")
            time_col = pick("时间列（可选）", "time", "ci_map_time")
            if session_col is not None and role_col is not None and text_col is not None:
                mapping = ColumnMapping(session_col, role_col, text_col, time_col)
    if file_format and st.button("开始导入", type="primary", key="ci_import",
                                 disabled=file_format in MAPPED_FORMATS and mapping is None):
        with progress_bar("正在读取、脱敏并导入……") as progress, db_session() as session:
            result = run_action(lambda: import_chat_log(
                session=session, actor=user, raw=raw, file_name=upload_name, mapping=mapping,
                progress=progress))
        if result is not None:
            st.session_state["ci_mine_target"] = result.import_id  # offered first for mining below
            st.success(f"已导入「{md_escape(result.file_name)}」：{result.session_count} 个会话、"
                       f"{result.message_count} 条消息，用时 {result.seconds:.1f} 秒。")
            masked = {k: v for k, v in result.masked.items() if v}
            st.info("已脱敏：" + ("、".join(f"{k} {v} 处" for k, v in masked.items())
                                  if masked else "未发现需要脱敏的个人信息"))
            if result.truncated_rows:
                st.warning(f"{len(result.truncated_rows)} 条超长消息已截断（行号："
                           f"{', '.join(map(str, result.truncated_rows[:20]))}）。")

st.subheader("导入记录")
with db_session() as session:
    imports = run_action(lambda: list_imports(session=session, actor=user)) or []
show_table(pd.DataFrame([{"ID": i.id, "文件": i.file_name, "格式": i.file_format,
                          "导入时间": fmt_datetime(i.imported_at), "导入人": i.imported_by,
                          "会话": i.session_count, "消息": i.message_count,
                          "已挖掘问题": i.question_count} for i in imports]),
           empty="还没有导入记录。", hide_index=True, width="stretch")
show("ci_mine")

pending = [i for i in imports if i.question_count == 0]
if pending:
    st.subheader("挖掘顾客问题")
    target = st.selectbox("选择导入记录", [i.id for i in pending], key="ci_mine_target",
                          format_func=lambda i: next(f"#{x.id} {x.file_name}" for x in pending
                                                     if x.id == i))
    if st.button("开始挖掘", key="ci_mine"):
        with progress_bar("正在提取问题、计算语义相似度并聚类……") as progress, db_session() as session:
            outcome = run_action(lambda: mine_import(
                session=session, actor=user, import_id=target, embedder=embedder(),
                progress=progress))
        if outcome is not None:
            # Drawn again from the top, so the list shows the mined counts and drops 开始挖掘 for it;
            # the progress bar needs this run, so this action cannot be a callback.
            joined = (f"{outcome.joined_count} 个是问题库中已有的问题（频次已累加），"
                      if outcome.joined_count else "")
            note("ci_mine", f"挖掘出 {outcome.question_count} 次提问：{joined}"
                            f"{outcome.new_count} 个是新问题，已放入「问题库」。")
            st.rerun()
