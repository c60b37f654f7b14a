"""Script lookup: an agent types what the customer said and copies the approved reply."""

import streamlit as st

from pages.common import current_user, db_session, embedder, run_action
from scripts_bank.service import lookup_scripts
from training.config import get_settings

user = current_user()
st.title("话术查询")
st.caption("输入顾客的原话或问题要点，按语义和关键词检索审定的最佳话术。")

query = st.text_input("顾客说了什么？", key="lookup_query", placeholder="例如：地址填错了能改吗")
if query.strip():
    with db_session() as session:
        hits = run_action(lambda: lookup_scripts(
            session=session, actor=user, query=query, embedder=embedder(),
            semantic_weight=get_settings().lookup_semantic_weight, k=5))
    if hits is None:
        st.stop()
    if not hits:
        st.info("话术库里还没有审定的话术。")
    for rank, hit in enumerate(hits, start=1):
        with st.container(border=True):
            st.markdown(f"**{rank}. {hit.script.question}**")
            st.caption(f"分类：{hit.script.category} · 版本 v{hit.script.version} · "
                       f"综合得分 {hit.score:.2f}（语义 {hit.semantic:.3f}，关键词 {hit.keyword:.2f}）")
            st.code(hit.script.answer, language=None, wrap_lines=True)
