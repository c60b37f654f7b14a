"""Trainer: import a chat-log export, then mine its customer questions into the question bank."""

import hashlib
from typing import Any

import pandas as pd
import streamlit as st

from pages.ui.actions import show
from pages.ui.common import current_user, db_session, progress_bar, run_action, show_table
from pages.ui.job_panel import job_panel, open_job, start_job
from pages.ui.markdown import md_escape
from scripts_bank.jobs import MINE
from training.chats.importer import import_chat_log, list_imports
from training.chats.parsers import FORMATS, detect_format, parse_chat_log, read_header
from training.chats.qianniu import NotedChatLog
from training.chats.readers import MAPPED_FORMATS, ColumnMapping, propose_mapping
from training.chats.types import AGENT
from training.core.clock import fmt_datetime
from training.core.config import get_settings

AUTO = "auto"
FORMAT_LABELS = {
    AUTO: "自动识别",
    "jddc": "京东 7 列聊天导出",
    "csv": "CSV 表格（需指定列）",
    "tsv": "TSV 表格（需指定列）",
    "xlsx": "Excel 表格（需指定列）",
    "jsonl": "JSONL（每行一条消息）",
    "qianniu-xlsx": "千牛导出 Excel（每位顾客一张表）",
    "qianniu-zip": "千牛导出压缩包（每位顾客一个文件）",
    "qianniu-text": "千牛聊天窗口复制的文本",
}
PREVIEW_LINES = 8


def preview(raw: bytes, file_name: str, file_format: str,
            mapping: ColumnMapping | None) -> dict[str, Any] | None:
    """Counts, notes and the first lines of the upload as it would be imported (kept for reruns)."""
    key = (hashlib.sha256(raw).hexdigest(), file_name, file_format, mapping)
    cached: dict[str, Any] | None = st.session_state.get("ci_preview")
    if cached is not None and cached["key"] == key:
        return cached
    log = run_action(lambda: parse_chat_log(raw, file_name=file_name, file_format=file_format,
                                            mapping=mapping))
    if log is None:
        return None
    rows = [{"会话": line.session_key, "发送方": "客服" if line.role == AGENT else "顾客",
             "时间": fmt_datetime(line.sent_at) if line.sent_at is not None else "",
             "内容": line.text} for line in log.lines[:PREVIEW_LINES]]
    shown = {"key": key, "sessions": log.session_count, "messages": len(log.lines), "rows": rows,
             "notes": list(log.notes) if isinstance(log, NotedChatLog) else [],
             "masked": sum(log.masked.values())}
    st.session_state["ci_preview"] = shown
    return shown


user = current_user()
st.title("聊天记录导入")
st.caption("支持京东 7 列 TSV 导出、CSV / Excel（需指定列）、JSONL，以及千牛导出的 Excel、压缩包和"
           "从千牛聊天窗口复制的文本；UTF-8 或 GBK 编码。"
           "手机号、身份证号、邮箱、银行卡号和详细地址会在保存前脱敏。同一文件不会重复导入。")

limit = get_settings().upload_limit_mb
upload = st.file_uploader(f"选择聊天记录文件（不超过 {limit} MB）",
                          type=["txt", "tsv", "csv", "xlsx", "jsonl", "zip"], key="ci_upload")
mapping = None
if upload is not None:
    raw, upload_name = upload.getvalue(), upload.name
    chosen = st.selectbox("文件格式", [AUTO, *FORMATS], key="ci_format",
                          format_func=FORMAT_LABELS.__getitem__)
    file_format = (run_action(lambda: detect_format(raw, upload_name)) or "") if chosen == AUTO else chosen
    if file_format:
        how = "识别为" if chosen == AUTO else "按所选格式读取"
        st.markdown(f"{how}：**{FORMAT_LABELS[file_format]}**")
    if file_format in MAPPED_FORMATS:
        columns = run_action(lambda: read_header(raw, file_name=upload_name, file_format=file_format)) or []
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
    shown = None
    if file_format and (file_format not in MAPPED_FORMATS or mapping is not None):
        shown = preview(raw, upload_name, file_format, mapping)
    if shown is not None:
        st.markdown(f"**预览**：{shown['sessions']} 个会话、{shown['messages']} 条消息"
                    + (f"，{shown['masked']} 处个人信息将脱敏" if shown["masked"] else "")
                    + f"（下表为前 {len(shown['rows'])} 条，内容已脱敏）")
        for line in shown["notes"]:
            st.caption(md_escape(line))
        st.table(pd.DataFrame(shown["rows"]).style.hide(axis="index"))
    if file_format and st.button("开始导入", type="primary", key="ci_import", disabled=shown is None):
        with progress_bar("正在读取、脱敏并导入……") as progress, db_session() as session:
            result = run_action(lambda: import_chat_log(
                session=session, actor=user, raw=raw, file_name=upload_name, file_format=file_format,
                mapping=mapping, progress=progress))
        if result is not None:
            st.session_state["ci_mine_target"] = result.import_id  # offered first for mining below
            st.success(f"已导入「{md_escape(result.file_name)}」：{result.session_count} 个会话、"
                       f"{result.message_count} 条消息，用时 "
                       + (f"{result.seconds:.1f} 秒。" if result.seconds >= 1 else "不到 1 秒。"))
            masked = {k: v for k, v in result.masked.items() if v}
            st.info("已脱敏：" + ("、".join(f"{k} {v} 处" for k, v in masked.items())
                                  if masked else "未发现需要脱敏的个人信息"))
            if result.truncated_rows:
                st.warning(f"{len(result.truncated_rows)} 条超长消息已截断（行号："
                           f"{', '.join(map(str, result.truncated_rows[:20]))}）。")

st.subheader("导入记录")
with db_session() as session:
    imports = run_action(lambda: list_imports(session=session, actor=user)) or []
show_table(pd.DataFrame([{"编号": i.id, "文件": i.file_name,
                          "格式": FORMAT_LABELS.get(i.file_format, i.file_format),
                          "导入时间": fmt_datetime(i.imported_at), "导入人": i.imported_by,
                          "会话": i.session_count, "消息": i.message_count,
                          "已挖掘问题": i.question_count} for i in imports]),
           empty="还没有导入记录。", hide_index=True, width="stretch")
show("ci_mine")



def _mined(result: dict[str, Any]) -> str:
    """The outcome of a mining job in words."""
    if result.get("new_count") is None:  # a retried job whose first attempt had finished the work
        return f"挖掘完成：{result.get('question_count', 0)} 次提问已放入「问题库」。"
    joined = (f"{result['joined_count']} 个是问题库中已有的问题（频次已累加），"
              if result.get("joined_count") else "")
    return (f"挖掘出 {result.get('question_count', 0)} 次提问：{joined}"
            f"{result.get('new_count', 0)} 个是新问题，已放入「问题库」。")


pending = [i for i in imports if i.question_count == 0]
if pending:
    st.subheader("挖掘顾客问题")
    target = st.selectbox("选择导入记录", [i.id for i in pending], key="ci_mine_target",
                          format_func=lambda i: next(f"#{x.id} {x.file_name}" for x in pending
                                                     if x.id == i))
    busy = open_job(MINE)  # one mining at a time: each uses the whole machine
    mining = busy is not None
    if st.button("开始挖掘", key="ci_mine", disabled=mining,
                 help="在后台进行，期间可以离开本页；完成后问题出现在「问题库」。"):
        if start_job(user, MINE, "", {"import_id": target}) is not None:
            st.rerun()  # draw the panel with the queued job
    if busy is not None and busy.params.get("import_id") != target:
        st.caption("正在挖掘另一份导入记录，完成后才能开始下一次挖掘。")
elif imports:
    st.caption("所有导入记录都已挖掘，问题在「问题库」中；导入新的聊天记录后可以再挖掘。")
job_panel(user, MINE, "", _mined)
