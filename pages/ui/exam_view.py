"""How one exam question looks to a candidate (shared by the preview, the exam and practice)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from training.chats.masking import normalise_placeholders
from training.chats.types import CUSTOMER
from training.exams.choices import MULTIPLE_KIND, choice_code, option_label, picked_options
from training.exams.knowledge import KINDS
from training.exams.papers import SCENARIO, PaperQuestion


def render_context(context: list[dict[str, str]]) -> None:
    """Chat context turns as chat bubbles; export placeholders (``[ORDERID_10814]``) read 「[订单号]」."""
    for turn in context:
        with st.chat_message("user" if turn.get("role") == CUSTOMER else "assistant"):
            st.text(normalise_placeholders(turn.get("text", "")))


def render_turns(context: list[dict[str, str]], prompt: str) -> None:
    """Chat context turns, then the customer's turn to answer, highlighted."""
    render_context(context)
    with st.chat_message("user", avatar=":material/priority_high:"):
        st.markdown(":orange-background[**顾客（请回复这一句）：**]")
        st.text(normalise_placeholders(prompt))


def render_chat(question: PaperQuestion) -> None:
    """The real chat context, then the customer's turn to answer, highlighted."""
    render_turns(question.context, question.prompt)


def choice_from_options(question: PaperQuestion, picked: list[str]) -> str:
    """The stored answer code for the options picked (letters, or 对/错)."""
    return choice_code(question.question_type, question.options, picked)


def _label(question: PaperQuestion) -> Callable[[str], str]:
    """Options as shown: with the letter their answer code uses, when they carry none."""
    labels = {option: option_label(question.question_type, question.options, index)
              for index, option in enumerate(question.options)}
    return lambda option: labels.get(option, option)


def render_question(
    question: PaperQuestion, *, key_prefix: str, disabled: bool = False,
    on_change: Callable[[], None] | None = None,
) -> str:
    """Draw a question and its answer widget; returns what the candidate entered.

    Widgets take their starting value from ``st.session_state`` under their key, so callers
    pre-fill saved answers by setting those keys before calling.
    """
    st.markdown(f"**第 {question.position} 题**")
    if question.kind == SCENARIO:
        # Only the exam saves as it is typed; 错题本 practice is checked on 提交练习.
        autosave = "停止输入片刻、离开输入框或按 Ctrl+Enter 时自动保存。" if on_change else None
        st.caption("情景题：请以客服身份回复顾客的最后一句话。")
        render_chat(question)
        return st.text_area("你的回复", key=answer_key(key_prefix, question), disabled=disabled,
                            height=140, max_chars=5000, on_change=on_change,
                            help=autosave)
    st.caption(KINDS.get(question.question_type, "知识题"))
    st.text(question.prompt)
    label = _label(question)
    if question.question_type == MULTIPLE_KIND:
        picked = [option for option in question.options
                  if st.checkbox(label(option), key=f"{answer_key(key_prefix, question)}_{option}",
                                 disabled=disabled, on_change=on_change)]
        return choice_from_options(question, picked)
    choice = st.radio("选择答案", question.options, index=None, disabled=disabled, format_func=label,
                      key=answer_key(key_prefix, question), on_change=on_change)
    return choice_from_options(question, [choice] if choice else [])


def answer_key(key_prefix: str, question: PaperQuestion) -> str:
    """The session-state key of a question's answer widget."""
    return f"{key_prefix}_answer_{question.slot_id}"


def prefill(key_prefix: str, question: PaperQuestion, text: str, choice: str) -> None:
    """Put a saved answer into the widget state once (later reruns keep what is typed)."""
    key = answer_key(key_prefix, question)
    if question.kind == SCENARIO:
        st.session_state.setdefault(key, text)
    elif question.question_type == MULTIPLE_KIND:
        chosen = picked_options(question.question_type, question.options, choice)
        for option in question.options:
            st.session_state.setdefault(f"{key}_{option}", option in chosen)
    else:
        match = picked_options(question.question_type, question.options, choice)
        if match:
            st.session_state.setdefault(key, match[0])
