"""The exam itself: chat-like questions, autosave on every change, flags, countdown, one submission."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import streamlit as st

from pages.ui.common import db_session, run_action
from pages.ui.exam_view import answer_key, choice_from_options, prefill, render_question
from pages.ui.markdown import md_escape
from training.core.clock import fmt_time
from training.exams.answering import save_answer, set_flag
from training.exams.attempts import AttemptView, open_attempt
from training.exams.choices import MULTIPLE_KIND
from training.exams.papers import SCENARIO, PaperQuestion
from training.exams.submission import submit_attempt
from training.models import User, utcnow

ATTEMPT_KEY = "exam_attempt_id"
RESULT_KEY = "exam_result_id"
#: Query parameters that bring a refreshed tab back to the running exam and its question.
ATTEMPT_PARAM, QUESTION_PARAM = "attempt", "q"
#: Seconds after the last keystroke at which a typed answer is saved (also on blur, as before).
TYPING_SAVE_DELAY = 1.5

# Streamlit sends a text area's value only on blur or Ctrl+Enter. This script (no user text in
# it) sends the candidate's answer TYPING_SAVE_DELAY seconds after they stop typing, and at once
# when the tab is hidden or closed, by pressing Ctrl+Enter for them in the box they are typing in;
# the cursor stays where it is. It ignores keystrokes inside an input method's composition (拼音).
_TYPING_AUTOSAVE_JS = """<script>
(() => {
  if (window.__huashuTypingAutosave) return;
  window.__huashuTypingAutosave = true;
  const delay = __DELAY__;
  let timer = null, box = null;
  const commit = () => {
    clearTimeout(timer); timer = null;
    if (!box || !box.isConnected) return;
    const init = {key: "Enter", code: "Enter", keyCode: 13, which: 13, ctrlKey: true,
                  bubbles: true, cancelable: true};
    box.dispatchEvent(new KeyboardEvent("keydown", init));
    box.dispatchEvent(new KeyboardEvent("keyup", init));
  };
  const inExam = (el) => el && el.tagName === "TEXTAREA" && el.closest("[class*='st-key-exam']");
  document.addEventListener("input", (event) => {
    if (!inExam(event.target) || event.isComposing) return;
    box = event.target; clearTimeout(timer); timer = setTimeout(commit, delay);
  }, true);
  document.addEventListener("compositionend", (event) => {
    if (!inExam(event.target)) return;
    box = event.target; clearTimeout(timer); timer = setTimeout(commit, delay);
  }, true);
  document.addEventListener("visibilitychange", () => { if (document.hidden && timer) commit(); });
  window.addEventListener("pagehide", () => { if (timer) commit(); });
})();
</script>""".replace("__DELAY__", str(int(TYPING_SAVE_DELAY * 1000)))


def leave_exam() -> None:
    """Stop showing the running exam in this tab (the attempt itself goes on until submitted)."""
    st.session_state.pop(ATTEMPT_KEY, None)
    for param in (ATTEMPT_PARAM, QUESTION_PARAM):
        st.query_params.pop(param, None)


def resume_from_url() -> None:
    """A refreshed tab returns to the exam (and question) its address names; open_attempt checks
    that the attempt is the user's own."""
    wanted = st.query_params.get(ATTEMPT_PARAM, "")
    if ATTEMPT_KEY in st.session_state or not wanted.isdigit():
        return
    attempt_id = int(wanted)
    st.session_state[ATTEMPT_KEY] = attempt_id
    question = st.query_params.get(QUESTION_PARAM, "")
    if question.isdigit() and int(question) >= 1:
        st.session_state[f"{_prefix(attempt_id)}_index"] = int(question) - 1


def _prefix(attempt_id: int) -> str:
    return f"exam{attempt_id}"


def _elapsed(attempt_id: int, slot_id: int) -> float:
    """Seconds on this question since it was shown or last saved (for time spent and typing speed)."""
    key = f"{_prefix(attempt_id)}_shown"
    now = time.monotonic()
    shown_slot, since = st.session_state.get(key, (slot_id, now))
    st.session_state[key] = (slot_id, now)
    return now - since if shown_slot == slot_id else 0.0


def _showing(attempt_id: int, slot_id: int) -> None:
    """Start the clock for a question when it comes on screen (not while others are shown)."""
    key = f"{_prefix(attempt_id)}_shown"
    if st.session_state.get(key, (None, 0.0))[0] != slot_id:
        st.session_state[key] = (slot_id, time.monotonic())


def _autosave(user: User, attempt_id: int, question: PaperQuestion) -> None:
    """Widget callback: store the answer as it now stands."""
    key = answer_key(_prefix(attempt_id), question)
    text: str | None = None
    choice: str | None = None
    if question.kind == SCENARIO:
        text = st.session_state.get(key, "")
    elif question.question_type == MULTIPLE_KIND:
        choice = choice_from_options(question, [o for o in question.options
                                                if st.session_state.get(f"{key}_{o}")])
    else:
        picked = st.session_state.get(key)
        choice = choice_from_options(question, [picked] if picked else [])
    with db_session() as session:
        saved = run_action(lambda: save_answer(
            session=session, actor=user, attempt_id=attempt_id, slot_id=question.slot_id, text=text,
            choice=choice, elapsed_seconds=_elapsed(attempt_id, question.slot_id)))
    if saved is not None:
        st.session_state[f"{_prefix(attempt_id)}_saved"] = utcnow()


def _toggle_flag(user: User, attempt_id: int, slot_id: int) -> None:
    flagged = bool(st.session_state.get(f"{_prefix(attempt_id)}_flag_{slot_id}"))
    with db_session() as session:
        run_action(lambda: set_flag(session=session, actor=user, attempt_id=attempt_id, slot_id=slot_id,
                                    flagged=flagged))


@st.fragment(run_every=timedelta(seconds=1))
def _countdown(deadline: datetime) -> None:
    left = int((deadline - utcnow()).total_seconds())
    if left <= 0:
        st.rerun()  # the full rerun reopens the attempt, which the server has submitted
    minutes, seconds = divmod(left, 60)
    st.metric("剩余时间", f"{minutes:02d}:{seconds:02d}")
    if left <= 300:
        st.caption(":red[不足 5 分钟，到时将按已保存的答案自动交卷。]")


def _navigator(view: AttemptView, index_key: str) -> None:
    """Question numbers: ✓ answered, ⚑ flagged; click to jump."""
    per_row = 10
    questions = view.questions
    for start in range(0, len(questions), per_row):
        columns = st.columns(per_row)
        for column, question in zip(columns, questions[start:start + per_row], strict=False):
            slot = question.slot_id
            mark = "⚑" if view.flagged(slot) else ("✓" if view.answered(slot) else "")
            if column.button(f"{question.position}{mark}", key=f"nav_{view.attempt.id}_{question.slot_id}",
                             type="primary" if st.session_state[index_key] == question.position - 1
                             else "secondary", width="stretch"):
                st.session_state[index_key] = question.position - 1
                st.rerun()


def render(user: User, attempt_id: int) -> None:
    """Draw the running exam for its candidate, or send them back when it is over."""
    with db_session() as session:
        view = run_action(lambda: open_attempt(session=session, actor=user, attempt_id=attempt_id))
    if view is None:
        if st.button("返回我的考试"):
            leave_exam()
            st.rerun()
        return
    if view.read_only:
        leave_exam()
        note = "（考试时间到，已按保存的答案自动交卷）" if view.attempt.auto_submitted else ""
        st.success(f"试卷已提交{note}。成绩发布后可在「我的考试」中查看。")
        if st.button("返回我的考试", type="primary"):
            st.rerun()
        return
    prefix = _prefix(attempt_id)
    index_key = f"{prefix}_index"
    st.session_state.setdefault(index_key, 0)
    header, timer = st.columns([4, 1])
    header.title(md_escape(view.title))
    answered = sum(1 for q in view.questions if view.answered(q.slot_id))
    header.caption(f"共 {len(view.questions)} 题 · 已作答 {answered} 题 · 停止输入 "
                   f"{TYPING_SAVE_DELAY:g} 秒后自动保存，刷新页面或断线重连后可继续作答。")
    st.html(_TYPING_AUTOSAVE_JS, unsafe_allow_javascript=True)
    with timer:
        _countdown(view.attempt.deadline_at)
    _navigator(view, index_key)
    if not view.questions:
        st.warning("这份试卷没有题目。")
        return
    index = min(max(st.session_state[index_key], 0), len(view.questions) - 1)
    question = view.questions[index]
    st.query_params[ATTEMPT_PARAM] = str(attempt_id)
    st.query_params[QUESTION_PARAM] = str(index + 1)
    saved = view.answers.get(question.slot_id)
    prefill(prefix, question, saved.text if saved else "", saved.choice if saved else "")
    _showing(attempt_id, question.slot_id)
    with st.container(border=True):
        render_question(question, key_prefix=prefix,
                        on_change=lambda: _autosave(user, attempt_id, question))
        st.session_state.setdefault(f"{prefix}_flag_{question.slot_id}", bool(saved and saved.flagged))
        st.toggle("标记此题，交卷前再检查", key=f"{prefix}_flag_{question.slot_id}",
                  on_change=lambda: _toggle_flag(user, attempt_id, question.slot_id))
        last = st.session_state.get(f"{prefix}_saved")
        if last is not None:
            st.caption(f"已自动保存 {fmt_time(last)}")
    back, forward = st.columns(2)
    if back.button("上一题", key=f"prev_{attempt_id}", disabled=index == 0, width="stretch"):
        st.session_state[index_key] = index - 1
        st.rerun()
    if forward.button("下一题", key=f"next_{attempt_id}", disabled=index >= len(view.questions) - 1,
                      width="stretch"):
        st.session_state[index_key] = index + 1
        st.rerun()
    _submit_box(user, view)


def _submit_box(user: User, view: AttemptView) -> None:
    unanswered = [q.position for q in view.questions
                  if not view.answered(q.slot_id)]
    flagged = [q.position for q in view.questions
               if view.flagged(q.slot_id)]
    st.divider()
    if unanswered:
        st.caption(f"未作答：第 {'、'.join(map(str, unanswered))} 题")
    if flagged:
        st.caption(f"已标记待检查：第 {'、'.join(map(str, flagged))} 题")
    confirm = st.checkbox("我已检查完毕，确认交卷（交卷后不能修改）", key=f"confirm_{view.attempt.id}")
    if st.button("交卷", type="primary", disabled=not confirm, key=f"submit_{view.attempt.id}"):
        with db_session() as session:
            done = run_action(lambda: submit_attempt(session=session, actor=user,
                                                     attempt_id=view.attempt.id or 0))
        if done is not None:
            leave_exam()
            st.session_state[RESULT_KEY] = view.attempt.id
            st.rerun()
