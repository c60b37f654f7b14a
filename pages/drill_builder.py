"""Trainer: build 模拟接待 drills from imported sessions (filter, preview, leave noise out, targets),
publish as practice or assign to cohorts with a window, and read the results."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from pages.ui.actions import act, note, show
from pages.ui.common import current_user, db_session, run_action, show_table
from pages.ui.markdown import md_escape
from training.auth.accounts import list_cohorts
from training.chats.importer import list_imports
from training.core.clock import day_end, day_start, team_today, team_zone_label
from training.drills.building import (
    create_drill,
    drill_turns,
    find_sessions,
    list_drills,
    preview_session,
    publish_drill,
)
from training.drills.results import drill_results
from training.drills.sessions import MAX_TURNS, MIN_TURNS, is_noise
from training.models import Category, Drill, DrillStatus, User

STATUS = {DrillStatus.DRAFT.value: "草稿", DrillStatus.PUBLISHED.value: "已发布"}
MODES = {"practice": "练习", "assigned": "考核"}
COVER = {"any": "不限", "yes": "有审定话术覆盖", "no": "没有审定话术覆盖"}

user = current_user()
assert user is not None  # the shell shows the login form otherwise
st.title("模拟接待管理")
st.caption(
    "从导入的真实会话里挑一段，去掉寒暄、转人工、报订单号这类轮次，设好回复时限，保存后发布为练习或分配给班组。"
)
new_tab, built_tab = st.tabs(["新建", "已建的模拟接待"])


def _save(import_id: int, session_key: str, seqs: list[int]) -> None:
    typed = st.session_state
    excluded = [s for s in seqs if not typed.get(f"dbld_keep_{import_id}_{session_key}_{s}", True)]

    def go(actor: User) -> Drill:
        with db_session() as session:
            return create_drill(
                session=session,
                actor=actor,
                import_id=import_id,
                session_key=session_key,
                title=typed.get(f"dbld_title_{import_id}_{session_key}", ""),
                excluded=excluded,
                first_reply_seconds=int(typed.get("dbld_first", 30)),
                reply_seconds=int(typed.get("dbld_each", 60)),
                pass_mark=float(typed.get("dbld_pass", 60)) / 100,
            )

    drill = act("dbld_save", go)
    if drill is not None:
        note(
            "dbld_save",
            f"已保存「{drill.title}」（{len(drill_turns(drill))} 轮），可在「已建的模拟接待」里发布。",
        )
        st.session_state["dbld_drill"] = drill.id


with new_tab:
    with db_session() as session:
        imports = list_imports(session=session, actor=user)
    if not imports:
        st.info("还没有导入聊天记录：请先在「聊天记录导入」上传。")
    else:
        names = {0: "全部导入", **{i.id: f"{i.file_name}（{i.session_count} 个会话）" for i in imports}}
        f1, f2, f3 = st.columns(3)
        import_id = f1.selectbox("聊天记录", list(names), format_func=names.__getitem__, key="dbld_import")
        cats = ["", *(c.value for c in Category)]
        category = f2.selectbox("问题分类", cats, format_func=lambda c: c or "不限", key="dbld_category")
        cover = f3.radio(
            "审定话术", list(COVER), format_func=COVER.__getitem__, key="dbld_cover", horizontal=True
        )
        low, high = st.slider(
            "顾客轮数（去掉寒暄等之后）", MIN_TURNS, MAX_TURNS, (MIN_TURNS, MAX_TURNS), key="dbld_turns"
        )
        with db_session() as session:
            found = find_sessions(
                session=session,
                actor=user,
                import_id=import_id or None,
                category=category or None,
                min_turns=low,
                max_turns=high,
                covered=None if cover == "any" else cover == "yes",
            )
        if not found:
            st.info("没有符合条件的会话。")
        else:
            labels = {
                f"{c.import_id}|{c.session_key}": f"{c.preview[:30]} · {c.usable} 轮 · "
                f"审定话术覆盖 {c.covered} 轮"
                for c in found
            }
            picked = st.selectbox(
                f"会话（共 {len(found)} 段）",
                list(labels),
                format_func=labels.__getitem__,
                key="dbld_session",
            )
            imp, key = picked.split("|", 1)
            with db_session() as session:
                chosen = run_action(
                    lambda: preview_session(session=session, actor=user, import_id=int(imp), session_key=key)
                )
            if chosen is not None:
                st.markdown(
                    "**预览**：勾选要保留的顾客轮次（已按规则预先去掉寒暄、转人工、报订单号和没有客服回复的轮次）。"
                )
                for turn in chosen.turns:
                    why = is_noise(turn.customer) or ("" if turn.agent.strip() else "没有客服回复")
                    with st.container(border=True):
                        st.checkbox(
                            f"保留第 {turn.seq} 条起的顾客消息" + (f"（建议去掉：{why}）" if why else ""),
                            value=turn.seq not in chosen.noise,
                            key=f"dbld_keep_{imp}_{key}_{turn.seq}",
                        )
                        st.markdown(f"顾客：{md_escape(turn.customer)}")
                        st.caption(f"真实客服回复：{md_escape(turn.agent) or '—'}")
                t1, t2, t3 = st.columns(3)
                st.text_input("标题", value=chosen.preview[:20], key=f"dbld_title_{imp}_{key}")
                t1.number_input("首次回复时限（秒）", 5, 600, 30, key="dbld_first")
                t2.number_input("之后每次回复时限（秒）", 5, 600, 60, key="dbld_each")
                t3.number_input("及格线（%）", 1, 100, 60, key="dbld_pass")
                st.button(
                    "保存",
                    type="primary",
                    key="dbld_save_btn",
                    on_click=_save,
                    args=(int(imp), key, [t.seq for t in chosen.turns]),
                )
    show("dbld_save")


def _publish(drill_id: int, assign: bool) -> None:
    typed = st.session_state
    cohorts = list(typed.get("dbld_cohorts", [])) if assign else []
    opens = day_start(typed["dbld_open"]) if assign else None
    closes = day_end(typed["dbld_close"]) if assign else None

    def go(actor: User) -> Drill:
        with db_session() as session:
            return publish_drill(
                session=session,
                actor=actor,
                drill_id=drill_id,
                cohort_ids=cohorts,
                opens_at=opens,
                closes_at=closes,
            )

    act(
        "dbld_publish",
        go,
        success="已分配给所选班组。" if assign else "已发布为练习，所有客服和新人都可以练。",
    )


with built_tab:
    with db_session() as session:
        drills = list_drills(session=session, actor=user)
    if not drills:
        st.info("还没有模拟接待。")
    else:
        titles = {
            d.id: f"{d.title}（{STATUS[d.status]}"
            + (f" · {MODES.get(d.mode, '')}）" if d.status == DrillStatus.PUBLISHED else "）")
            for d in drills
        }
        wanted = st.session_state.get("dbld_drill")
        ids = list(titles)
        drill_id = st.selectbox(
            "模拟接待",
            ids,
            format_func=titles.__getitem__,
            key="dbld_pick",
            index=ids.index(wanted) if wanted in ids else 0,
        )
        drill = next(d for d in drills if d.id == drill_id)
        turns = drill_turns(drill)
        st.caption(
            f"{len(turns)} 轮 · 首次回复 {drill.first_reply_seconds} 秒内 · "
            f"之后每次 {drill.reply_seconds} 秒内 · "
            f"及格线 {drill.pass_mark:.0%}"
        )
        st.subheader("发布")
        with db_session() as session:
            cohorts = {c.id: c.name for c in list_cohorts(session=session, actor=user)}
        st.multiselect(
            "分配给班组",
            list(cohorts),
            format_func=cohorts.__getitem__,
            key="dbld_cohorts",
            placeholder="请选择班组",
        )
        d1, d2 = st.columns(2)
        d1.date_input(
            "开始日期", value=team_today(), key="dbld_open", help=f"当天 00:00（{team_zone_label()}）开放"
        )
        d2.date_input(
            "结束日期",
            value=team_today() + timedelta(days=7),
            key="dbld_close",
            help=f"当天 23:59（{team_zone_label()}）截止",
        )
        b1, b2 = st.columns(2)
        b1.button(
            "分配给班组",
            type="primary",
            key="dbld_assign",
            on_click=_publish,
            args=(drill_id, True),
            disabled=not st.session_state.get("dbld_cohorts"),
        )
        b2.button(
            "发布为练习",
            key="dbld_practice",
            on_click=_publish,
            args=(drill_id, False),
            disabled=drill.status == DrillStatus.PUBLISHED,
        )
        show("dbld_publish")
        st.subheader("结果")
        with db_session() as session:
            board = drill_results(session=session, actor=user, drill_id=drill_id or 0)
        people = pd.DataFrame(
            [
                {
                    "姓名": p.user_name,
                    "得分": f"{p.score:.0%}",
                    "及格": "是" if p.passed else "否",
                    "平均回复用时（秒）": None if p.mean_seconds is None else round(p.mean_seconds),
                    "按时回复轮数": f"{p.targets_met}/{len(turns)}",
                    **{f"第{i + 1}轮": f"{s:.0%}" for i, s in enumerate(p.turn_scores)},
                }
                for p in board.people
            ]
        )
        show_table(people, empty="还没有人完成这个模拟接待。")
        if board.people:
            per_turn = pd.DataFrame(
                [
                    {
                        "轮次": t.index + 1,
                        "顾客消息": t.customer,
                        "平均得分": f"{t.mean_score:.0%}",
                        "未达及格线人数": t.failed,
                        "完成人数": t.runs,
                        "平均用时（秒）": None if t.mean_seconds is None else round(t.mean_seconds),
                        "最慢（秒）": None if t.slowest_seconds is None else round(t.slowest_seconds),
                    }
                    for t in board.turns
                ]
            )
            st.markdown("**逐轮情况**")
            show_table(per_turn, empty="")
            slow = board.slowest[:3]
            if slow:
                st.markdown(
                    "**最慢的轮次**："
                    + "；".join(
                        f"第 {t.index + 1} 轮「{md_escape(t.customer[:20])}」"
                        f"平均 {t.mean_seconds or 0:.0f} 秒"
                        for t in slow
                    )
                )
            failed = board.most_failed[:3]
            st.markdown(
                "**最多人没答好的顾客消息**（可作为下一份试卷的素材）："
                + (
                    "；".join(
                        f"第 {t.index + 1} 轮「{md_escape(t.customer[:20])}」{t.failed}/{t.runs} 人未达及格线"
                        for t in failed
                    )
                    or "暂无"
                )
            )
