"""模拟接待 (candidate): a real customer session replayed turn by turn against the clock; the
transcript at the end, reply beside the real agent's reply and the approved script."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import streamlit as st

from pages.ui.actions import act, ask, asked, confirm_step, show
from pages.ui.common import current_user, db_session, embedder, run_action
from pages.ui.exam_take import _TYPING_AUTOSAVE_JS
from pages.ui.markdown import md_escape
from training.core.clock import fmt_datetime
from training.drills.access import my_drills
from training.drills.results import Transcript, transcript
from training.drills.runs import end_run, open_run_id, run_view, save_draft, send_reply, start_run
from training.models import User, utcnow
from training.nlp.embeddings import Embedder

RUN_KEY, SHOW_KEY = "drill_run", "drill_show"
CUSTOMER_ICON, ME_ICON = ":material/person:", ":material/support_agent:"

user = current_user()
assert user is not None  # the shell shows the login form otherwise


def _reply_key(run_id: int, index: int) -> str:
    return f"drill_reply_{run_id}_{index}"


def _scorer() -> Embedder | None:
    """The active encoder; without it the turns are scored by wording overlap (said in the reasons)."""
    try:
        return embedder()
    except Exception:  # noqa: BLE001 - a missing or broken model must not lose the candidate's run
        return None


def _start(drill_id: int) -> None:
    def go(actor: User) -> int | None:
        with db_session() as session:
            return start_run(session=session, actor=actor, drill_id=drill_id).id

    run_id = act("drill_list", go)
    if run_id is not None:
        st.session_state[RUN_KEY] = run_id
        st.session_state.pop(SHOW_KEY, None)


def _autosave(run_id: int, index: int) -> None:
    text = st.session_state.get(_reply_key(run_id, index), "")
    act("drill_send", lambda actor: _save(actor, run_id, text))


def _save(actor: User, run_id: int, text: str) -> None:
    with db_session() as session:
        save_draft(session=session, actor=actor, run_id=run_id, text=text)


def _send(run_id: int, index: int) -> None:
    key = _reply_key(run_id, index)
    text = str(st.session_state.get(key, ""))
    shown = st.session_state.get(f"drill_shown_{run_id}_{index}")
    spent = time.monotonic() - shown if shown is not None else 0.0
    cpm = len(text.strip()) / (spent / 60) if spent >= 1 and text.strip() else None

    def go(actor: User) -> bool:
        with db_session() as session:
            run = send_reply(session=session, actor=actor, run_id=run_id, index=index, text=text,
                             chars_per_minute=cpm, embedder=_scorer())
            return run.finished_at is not None

    if act("drill_send", go) is not None:
        st.session_state.pop(key, None)


def _end(run_id: int) -> None:
    def go(actor: User) -> None:
        with db_session() as session:
            end_run(session=session, actor=actor, run_id=run_id, embedder=_scorer())

    act("drill_send", go)


@st.fragment(run_every=timedelta(seconds=1))
def _waiting(due: datetime) -> None:
    if utcnow() >= due:
        st.rerun()
    with st.chat_message("顾客", avatar=CUSTOMER_ICON):
        st.caption("顾客正在输入…")


def _transcript(shown: Transcript) -> None:
    passed = "" if shown.passed is None else ("（达到及格线）" if shown.passed else "（未达及格线）")
    st.subheader(f"接待记录：{md_escape(shown.title)}")
    if shown.score is not None:
        st.metric("总得分", f"{shown.score:.0%}", border=False)
        st.caption(f"{passed} 评分模型：{md_escape(shown.model_name)}")
    for row in shown.rows:
        with st.container(border=True):
            st.markdown(f"**第 {row.index + 1} 轮** · 顾客：{md_escape(row.customer)}")
            st.markdown(f"我的回复：{md_escape(row.reply) if row.reply else '（没有回复）'}")
            st.markdown(f"真实客服回复：{md_escape(row.real_reply) or '—'}")
            if row.script:
                st.markdown(f"审定话术：{md_escape(row.script)}")
            timing = "—" if row.response_seconds is None else (
                f"{row.response_seconds:.0f} 秒（目标 {row.target_seconds} 秒内，"
                f"{'达标' if row.target_met else '超时'}）")
            speed = "—" if row.chars_per_minute is None else f"{row.chars_per_minute:.0f} 字/分钟"
            score = "—" if row.score is None else f"{row.score:.0%}"
            st.markdown(f"得分 {score} · 回复用时 {timing} · 打字速度 {speed}")
            for reason in row.reasons:
                st.caption(md_escape(reason))


def _run(run_id: int) -> None:
    with db_session() as session:
        view = run_action(lambda: run_view(session=session, actor=user, run_id=run_id))
    if view is None:
        st.session_state.pop(RUN_KEY, None)
        return
    if view.finished:
        st.session_state.pop(RUN_KEY, None)
        st.session_state[SHOW_KEY] = run_id
        st.rerun()
    st.subheader(md_escape(view.title))
    st.caption(f"第 {view.index + 1} / {view.total} 轮 · 本轮回复目标 {view.target} 秒内")
    with st.expander("计时规则"):
        st.write(view.rules)
    for line in view.lines:
        who, icon = ("顾客", CUSTOMER_ICON) if line.role == "customer" else ("我", ME_ICON)
        with st.chat_message(who, avatar=icon):
            st.text(line.text)
    show("drill_send")
    if view.waiting_seconds > 0:
        _waiting(utcnow() + timedelta(seconds=view.waiting_seconds))
        return
    shown_key = f"drill_shown_{run_id}_{view.index}"
    st.session_state.setdefault(shown_key, time.monotonic())
    key = _reply_key(run_id, view.index)
    st.session_state.setdefault(key, view.draft)
    st.html(_TYPING_AUTOSAVE_JS, unsafe_allow_javascript=True)
    with st.container(key=f"exam_drill_{run_id}"):
        st.text_area("您的回复", key=key, height=100, on_change=_autosave, args=(run_id, view.index),
                     placeholder="输入回复，像在千牛里一样回复顾客")
    if view.shown_at is not None:
        st.caption(f"顾客消息出现于 {fmt_datetime(view.shown_at, seconds=True)}，输入内容会自动保存。")
    send, stop = st.columns([3, 1])
    send.button("发送", type="primary", key="drill_send_btn", on_click=_send, args=(run_id, view.index),
                width="stretch")
    stop.button("提前结束", key="drill_end_btn", on_click=ask, args=("drill_end", run_id), width="stretch")
    if asked("drill_end") == run_id:
        confirm_step("drill_end", confirm="确认提前结束", on_confirm=_end,
                     question=f"确认提前结束「{view.title}」？已发送的回复照常评分，还没回复的轮次记 0 分，"
                              "结束后不能继续这一次接待。")


st.title("模拟接待")
st.caption("用本店真实的顾客会话练习接待：顾客的消息一条条出现，按时回复；结束后对照真实客服回复和审定话术看得分。")
if RUN_KEY not in st.session_state and SHOW_KEY not in st.session_state:
    with db_session() as session:
        resumed = open_run_id(session=session, actor=user)
    if resumed is not None:
        st.session_state[RUN_KEY] = resumed  # a reload or restart comes back to the same turn
if SHOW_KEY in st.session_state:
    with db_session() as session:
        shown = run_action(lambda: transcript(session=session, actor=user, run_id=st.session_state[SHOW_KEY]))
    if shown is not None:
        _transcript(shown)
    if st.button("返回列表", key="drill_back"):
        st.session_state.pop(SHOW_KEY, None)
        st.rerun()
elif RUN_KEY in st.session_state:
    _run(int(st.session_state[RUN_KEY]))
else:
    show("drill_list")
    with db_session() as session:
        cards = my_drills(session=session, actor=user)
    if not cards:
        st.info("还没有分配给您的模拟接待，也没有可以练习的模拟接待。")
    for card in cards:
        with st.container(border=True):
            kind = "练习" if card.practice else (
                f"考核 · {fmt_datetime(card.opens_at)} 至 {fmt_datetime(card.closes_at)}")
            st.markdown(f"**{md_escape(card.title)}** · {card.turns} 轮 · {kind}")
            if card.best_score is not None:
                st.caption(f"已完成 {card.finished_runs} 次，最高得分 {card.best_score:.0%}")
            left, right = st.columns(2)
            label = "继续" if card.run_id else "开始"
            again = card.practice or card.finished_runs == 0 or card.run_id is not None
            can_start = card.open_now and again
            left.button(label, key=f"drill_start_{card.drill_id}_{card.assignment_id or 0}", type="primary",
                        disabled=not can_start, on_click=_start, args=(card.drill_id,))
            if card.last_finished is not None and right.button(
                    "查看接待记录", key=f"drill_view_{card.drill_id}_{card.assignment_id or 0}"):
                st.session_state[SHOW_KEY] = card.last_finished
                st.rerun()
