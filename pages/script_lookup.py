"""Script lookup: an agent types what the customer said and copies the approved reply, filled in."""

import streamlit as st

from pages.common import current_user, db_session, embedder, run_action
from pages.exam_view import md_escape
from scripts_bank.placeholders import fill_placeholders, placeholders_in
from scripts_bank.service import LookupHit, facets, lookup_scripts
from scripts_bank.usage import FEEDBACK_KINDS, give_feedback
from training.config import get_settings
from training.models import Category

user = current_user()
st.title("话术查询")
st.caption("输入或粘贴顾客的原话，按语义和关键词检索审定的最佳话术；匹配部分高亮，点右上角图标一键复制。")


def _marked(pieces: list[tuple[str, bool]]) -> str:
    return "".join(f":orange-background[{md_escape(t)}]" if hit else md_escape(t) for t, hit in pieces if t)


def _card(rank: int, hit: LookupHit, values: dict[str, str]) -> None:
    script = hit.script
    with st.container(border=True):
        st.markdown(f"**{rank}.** " + _marked(hit.question_segments))
        st.caption(
            f"{script.category}"
            + (f" · {md_escape(script.product)}" if script.product else "")
            + (f" · {md_escape(script.variant)}" if script.variant else "")
            + f" · v{script.version} · 综合 {hit.score:.2f}"
            + f"（语义 {hit.semantic:.3f}，关键词 {hit.keyword:.2f}）"
        )
        st.markdown(_marked(hit.answer_segments))
        st.code(fill_placeholders(script.answer, values), language=None, wrap_lines=True)
        cols = st.columns(len(FEEDBACK_KINDS) + 2)
        for column, (kind, label) in zip(cols, FEEDBACK_KINDS.items(), strict=False):
            if column.button(label, key=f"fb_{kind}_{script.id}"):
                with db_session() as session:
                    done = run_action(
                        lambda k=kind: give_feedback(session=session, actor=user, script_id=script.id, kind=k)
                    )
                if done is not None:
                    st.toast("谢谢反馈！" if done else "你已经反馈过了。")


QUERY_NUMBER = "lookup_query_number"


def _new_query() -> None:
    """A new query is a new customer: the values typed for the last one must not fill its script.

    The placeholder boxes are keyed on the query's number, so each query gets new, empty boxes
    (a box kept under the same key would keep, in the browser, what was typed before).
    """
    st.session_state[QUERY_NUMBER] = st.session_state.get(QUERY_NUMBER, 0) + 1


with db_session() as session:
    found = run_action(lambda: facets(session=session, actor=user))
if found is None:
    st.stop()
products, tags = found
query = st.text_input("顾客说了什么？", key="lookup_query", placeholder="例如：地址填错了能改吗",
                      on_change=_new_query)
left, middle, right = st.columns(3)
category = left.selectbox("分类", ["全部", *[c.value for c in Category]], key="lookup_category")
product = middle.selectbox("商品", ["全部", *products], key="lookup_product")
tag = right.selectbox("标签", ["全部", *tags], key="lookup_tag")
if query.strip():
    with db_session() as session:
        hits = run_action(
            lambda: lookup_scripts(
                session=session,
                actor=user,
                query=query,
                embedder=embedder(),
                semantic_weight=get_settings().lookup_semantic_weight,
                k=5,
                category=None if category == "全部" else category,
                product=None if product == "全部" else product,
                tag=None if tag == "全部" else tag,
            )
        )
    if hits is None:
        st.stop()
    if not hits:
        st.info("没有找到符合条件的审定话术。")
    names = list(dict.fromkeys(n for h in hits for n in placeholders_in(h.script.answer)))
    values: dict[str, str] = {}
    if names:
        st.caption("填写后，复制的话术会自动替换占位符：")
        columns = st.columns(min(len(names), 4))
        for i, name in enumerate(names):
            values[name] = columns[i % len(columns)].text_input(
                name, key=f"ph_{st.session_state.get(QUERY_NUMBER, 0)}_{name}")
    for rank, hit in enumerate(hits, start=1):
        _card(rank, hit, values)
