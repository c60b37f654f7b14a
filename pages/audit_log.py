"""Admin: the audit log, read-only (filters, pages, CSV export); nothing here edits or deletes it."""

from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from pages.ui.audit_labels import action_label, detail_text, target_text
from pages.ui.common import current_user, db_session, run_action, show_table
from scripts_bank.io import export_bytes
from training.auth.accounts import list_users
from training.auth.audit import PAGE_SIZE, AuditEntry, AuditFilter, audit_actions, export_log, read_log
from training.core.clock import day_start, fmt_datetime, team_today

user = current_user()
st.title("审计日志")
st.caption("审批、话术修改、评分变更、用户与角色变更、导出和登录锁定都会记录在此；日志只读，不能修改或删除。")


def _table(entries: list[AuditEntry]) -> pd.DataFrame:
    return pd.DataFrame([{"时间": fmt_datetime(e.at, seconds=True), "操作人": e.actor,
                          "操作": action_label(e.action), "对象": target_text(e.action, e.target),
                          "详情": detail_text(e.action, e.detail)} for e in entries],
                        columns=["时间", "操作人", "操作", "对象", "详情"])


def _start(day: date) -> datetime:
    return day_start(day)  # the day picked is a team-local day


with db_session() as session:
    users = run_action(lambda: list_users(session=session, actor=user)) or []
    actions = run_action(lambda: audit_actions(session=session, actor=user)) or []
names = {u.id: f"{u.username}（{u.display_name}）" for u in users}

left, middle, right = st.columns(3)
actor_id = left.selectbox("操作人", [None, *names], key="audit_actor",
                          format_func=lambda i: "全部" if i is None else names[i])
action = middle.selectbox("操作", [None, *actions], key="audit_action",
                          format_func=lambda a: "全部" if a is None else action_label(a))
period = right.date_input("时间段", value=[], key="audit_period")  # an empty range: no period
days = list(period) if isinstance(period, tuple | list) else [period]
where = AuditFilter(actor_id=actor_id, action=action,
                    since=_start(days[0]) if days else None,
                    until=_start(days[-1] + timedelta(days=1)) if days else None)
page_number = st.number_input("页码", min_value=1, value=1, step=1, key="audit_page")

with db_session() as session:
    page = run_action(lambda: read_log(session=session, actor=user, where=where, page=int(page_number),
                                       page_size=PAGE_SIZE))
if page is not None:
    st.caption(f"共 {page.total} 条，第 {page.page} / {page.pages} 页（每页 {PAGE_SIZE} 条，最新在前）")
    show_table(_table(page.entries), empty="没有符合条件的审计记录。", hide_index=True, width="stretch")
    if st.button("生成 CSV 导出（当前筛选条件）", key="audit_export"):
        with db_session() as session:
            entries = run_action(lambda: export_log(session=session, actor=user, where=where))
        if entries is not None:
            st.download_button("下载 CSV", export_bytes(_table(entries), "csv"),
                               file_name=f"audit-{team_today():%Y%m%d}.csv", mime="text/csv",
                               key="audit_download")
