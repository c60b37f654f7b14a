"""How one exam question looks to a candidate (shared by the preview and the exam page)."""

import streamlit as st

from training.knowledge import KINDS
from training.papers import SCENARIO, PaperQuestion


def render_question(question: PaperQuestion, *, key_prefix: str, disabled: bool = False) -> str:
    """Draw a question and its answer widget; returns what the candidate entered."""
    st.markdown(f"**第 {question.position} 题**")
    if question.kind == SCENARIO:
        st.caption("情景题：请以客服身份回复顾客的最后一句话。")
        for turn in question.context:
            with st.chat_message("user" if turn.get("role") == "customer" else "assistant"):
                st.text(turn.get("text", ""))
        with st.chat_message("user"):
            st.markdown("**顾客：**")
            st.text(question.prompt)
        return st.text_area("你的回复", key=f"{key_prefix}_answer_{question.slot_id}",
                            disabled=disabled, height=120)
    st.caption(KINDS.get(question.question_type, "知识题"))
    st.text(question.prompt)
    if question.question_type == "multiple":
        picked = [option for option in question.options
                  if st.checkbox(option, key=f"{key_prefix}_opt_{question.slot_id}_{option}",
                                 disabled=disabled)]
        return "".join(option.strip()[:1] for option in picked)
    choice = st.radio("选择答案", question.options, index=None, disabled=disabled,
                      key=f"{key_prefix}_choice_{question.slot_id}")
    if choice is None:
        return ""
    return choice if question.question_type == "truefalse" else choice.strip()[:1]
