"""Script lookup: an agent types what the customer said and copies the approved reply, filled in."""

import functools

import streamlit as st

from pages.ui.common import current_user, db_session, embedder, filter_label, run_action
from pages.ui.markdown import md_escape
from scripts_bank.placeholders import fill_placeholders, placeholders_in
from scripts_bank.relevance import Confidence
from scripts_bank.service import LookupHit, facets, lookup_scripts, report_uncovered
from scripts_bank.usage import FEEDBACK_KINDS, give_feedback
from training.core.config import get_settings
from training.models import Category

CONFIDENCE_LABELS = {Confidence.HIGH: "高", Confidence.MEDIUM: "中", Confidence.LOW: "低"}
REPORTED_KEY = "lookup_reported"
#: Copies the answer of the card whose 复制 button was clicked. A constant: it reads the text from
#: the card's code block in the page (drawn by st.code, escaped), no user text is put into HTML.
#: navigator.clipboard exists only on https or localhost; elsewhere a hidden textarea is copied.
_COPY_JS = """<script>
(() => {
  if (window.__huashuCopyButtons) return;
  window.__huashuCopyButtons = true;
  const legacyCopy = (text) => {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch (error) { done = false; }
    area.remove();
    return done;
  };
  // A note of its own on the body: Streamlit redraws the button's HTML, so its label cannot change.
  const notice = (message) => {
    let box = document.getElementById("huashu-copy-notice");
    if (!box) {
      box = document.createElement("div");
      box.id = "huashu-copy-notice";
      box.setAttribute("role", "status");
      box.style.cssText = "position:fixed;bottom:24px;left:50%;transform:translateX(-50%);z-index:100000;"
        + "background:#262730;color:#fff;padding:8px 16px;border-radius:8px;font-size:14px;";
      document.body.appendChild(box);
    }
    box.textContent = message;
    box.style.display = "block";
    clearTimeout(box.hideTimer);
    box.hideTimer = setTimeout(() => { box.style.display = "none"; }, 2500);
  };
  document.addEventListener("click", async (event) => {
    // composedPath: the button may sit in a shadow root, where closest() stops at its edge
    const path = event.composedPath ? event.composedPath() : [];
    const matching = (selector) => path.find((el) => el instanceof Element && el.matches(selector));
    const button = matching("button.huashu-copy");
    if (!button) return;
    const card = matching("[class*='st-key-lookup_card_']");
    const code = card && (card.querySelector("[data-testid='stCode'] code")
                          || card.querySelector("[data-testid='stCode']"));
    if (!code) return;
    const text = code.innerText.replace(/\\n+$/, "");
    let done = false;
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); done = true; } catch (error) { done = false; }
    }
    if (!done) done = legacyCopy(text);
    notice(done ? "已复制到剪贴板" : "复制失败，请手动选中话术复制");
  });
})();
</script>"""

user = current_user()
st.title("话术查询")
st.caption("输入或粘贴顾客的原话，按语义和关键词检索审定的最佳话术；匹配部分高亮，点「复制」按钮复制填好占位符的话术。")
st.html(_COPY_JS, unsafe_allow_javascript=True)


def _marked(pieces: list[tuple[str, bool]]) -> str:
    return "".join(f":orange-background[{md_escape(t)}]" if hit else md_escape(t) for t, hit in pieces if t)


def _card(rank: int, hit: LookupHit, values: dict[str, str]) -> None:
    """One script: its question (matches marked), how far to trust it, the filled answer once, actions."""
    script = hit.script
    with st.container(border=True, key=f"lookup_card_{rank}"):
        st.markdown(f"**{rank}.** " + _marked(hit.question_segments))
        st.caption(
            f"可信度：{CONFIDENCE_LABELS[hit.confidence]} · {script.category}"
            + (f" · {md_escape(script.product)}" if script.product else "")
            + (f" · {md_escape(script.variant)}" if script.variant else "")
            + f" · 第 {script.version} 版"
        )
        st.code(fill_placeholders(script.answer, values), language=None, wrap_lines=True)
        cols = st.columns(len(FEEDBACK_KINDS) + 2)
        with cols[0]:
            st.html('<button class="huashu-copy" type="button">复制</button>')
        for column, (kind, label) in zip(cols[1:], FEEDBACK_KINDS.items(), strict=False):
            if column.button(label, key=f"fb_{kind}_{script.id}"):
                with db_session() as session:
                    done = run_action(functools.partial(
                        give_feedback, session=session, actor=user, script_id=script.id, kind=kind))
                if done is not None:
                    st.toast("谢谢反馈！" if done else "你已经反馈过了。")


def _report(query: str) -> None:
    """The agent reports the query as not covered; trainers decide whether it joins the question bank."""
    with db_session() as session:
        if run_action(lambda: report_uncovered(session=session, actor=user, query=query)) is not None:
            st.session_state[REPORTED_KEY] = query


def _no_match(query: str) -> None:
    """Say plainly that the bank has no reliable answer, and offer to report the query."""
    st.warning("没有可靠的匹配话术：话术库里可能还没有这个问题的审定话术，请勿照搬下面可信度低的结果。")
    if st.session_state.get(REPORTED_KEY) == query:
        st.success("已上报为未覆盖的问题，培训师会决定是否把它加入问题库。")
    else:
        st.button("上报为未覆盖的问题", key="lookup_report", on_click=_report, args=(query,))


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
category = left.selectbox("分类", [None, *[c.value for c in Category]], format_func=filter_label,
                          key="lookup_category")
product = middle.selectbox("商品", [None, *products], format_func=filter_label, key="lookup_product")
tag = right.selectbox("标签", [None, *tags], format_func=filter_label, key="lookup_tag")
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
                category=category,
                product=product,
                tag=tag,
            )
        )
    if hits is None:
        st.stop()
    if not hits:
        st.info("没有找到符合条件的审定话术。")
    elif not any(h.reliable for h in hits):
        _no_match(query.strip())
    names = list(dict.fromkeys(n for h in hits for n in placeholders_in(h.script.answer)))
    values: dict[str, str] = {}
    if names:
        st.caption("填写后，复制的话术会自动替换占位符：")
        columns = st.columns(min(len(names), 4))
        for i, name in enumerate(names):
            values[name] = columns[i % len(columns)].text_input(
                name, key=f"ph_{st.session_state.get(QUERY_NUMBER, 0)}_{name}")
    reliable = [h for h in hits if h.reliable]
    doubtful = [h for h in hits if not h.reliable]
    for rank, hit in enumerate(reliable, start=1):
        _card(rank, hit, values)
    if doubtful:
        title = "可信度低的其他话术" if reliable else "可信度低的话术"
        with st.expander(f"{title}（{len(doubtful)} 条，仅供参考）"):
            for rank, hit in enumerate(doubtful, start=len(reliable) + 1):
                _card(rank, hit, values)
