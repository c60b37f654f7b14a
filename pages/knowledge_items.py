"""Trainer: objective product-knowledge items — browse, create, import."""

import pandas as pd
import streamlit as st

from pages.common import current_user, db_session, run_action
from training.config import get_settings
from training.knowledge import KINDS, KnowledgeDraft, create_item, import_items, list_items, update_item

user = current_user()
st.title("知识题库")
st.caption("单选、多选、判断题，附答案与解析，可按商品和标签筛选。")

left, right = st.columns(2)
search = left.text_input("搜索题干", key="ki_search")
tag = right.text_input("按标签筛选（如：质保）", key="ki_tag")
with db_session() as session:
    items = run_action(lambda: list_items(session=session, actor=user, search=search,
                                          tag=tag.strip() or None)) or []
st.dataframe(pd.DataFrame([{"ID": i.id, "题型": KINDS.get(i.kind, i.kind), "题干": i.stem,
                            "选项": " | ".join(i.options or []), "答案": i.answer, "商品": i.sku,
                            "标签": "、".join(i.tags or [])} for i in items]),
             hide_index=True, width="stretch")
st.caption(f"共 {len(items)} 题")

if items:
    with st.expander("修改题目（已考过此题的有效证书会被标记为需重新认证）"):
        by_id = {i.id: i for i in items}
        chosen = by_id[st.selectbox("选择题目", list(by_id), key="ki_edit_pick",
                                    format_func=lambda i: f"#{i} {by_id[i].stem[:40]}")]
        with st.form(f"edit_item_{chosen.id}"):
            kind_e = st.selectbox("题型", list(KINDS), index=list(KINDS).index(chosen.kind),
                                  format_func=KINDS.__getitem__)
            stem_e = st.text_area("题干", value=chosen.stem)
            options_e = st.text_area("选项（每行一个）", value="\n".join(chosen.options or []))
            answer_e = st.text_input("答案", value=chosen.answer)
            explanation_e = st.text_area("解析", value=chosen.explanation)
            sku_e = st.text_input("商品编号", value=chosen.sku)
            tags_e = st.text_input("标签（用 | 分隔）", value="|".join(chosen.tags or []))
            if st.form_submit_button("保存修改", type="primary"):
                edited = KnowledgeDraft(kind_e, stem_e, options_e.splitlines(), answer_e, explanation_e,
                                        sku_e, [t.strip() for t in tags_e.split("|") if t.strip()])
                with db_session() as session:
                    run_action(lambda: update_item(session=session, actor=user, item_id=chosen.id or 0,
                                                   draft=edited), success="已保存修改。")

st.subheader("新建题目")
with st.form("new_item", clear_on_submit=True):
    kind = st.selectbox("题型", list(KINDS), format_func=KINDS.__getitem__, key="ki_kind")
    stem = st.text_area("题干", key="ki_stem")
    options = st.text_area("选项（每行一个，如「A. 12个月」；判断题留空）", key="ki_options")
    answer = st.text_input("答案（如 C、AC，判断题填 对/错）", key="ki_answer")
    explanation = st.text_area("解析", key="ki_explanation")
    sku = st.text_input("商品编号", key="ki_sku")
    tags = st.text_input("标签（用 | 分隔）", key="ki_tags")
    if st.form_submit_button("保存", type="primary"):
        draft = KnowledgeDraft(kind, stem, options.splitlines(), answer, explanation, sku,
                               [t.strip() for t in tags.split("|") if t.strip()])
        with db_session() as session:
            run_action(lambda: create_item(session=session, actor=user, draft=draft),
                       success="已保存。")

st.subheader("从 CSV / Excel 导入")
st.caption("列：kind, stem, options（| 分隔）, answer, explanation, sku, tags（| 分隔）。"
           "任何一行有错则全部不导入，并列出出错的行。")
limit = get_settings().upload_limit_mb
upload = st.file_uploader("选择文件", type=["csv", "xlsx"], key="ki_upload")
if upload is not None and st.button("导入", key="ki_import"):
    with db_session() as session:
        result = run_action(lambda: import_items(session=session, actor=user,
                                                 raw=upload.getvalue(), file_name=upload.name,
                                                 limit_bytes=limit * 1024 * 1024))
    if result is not None and result.errors:
        st.error("导入未执行，请修正后重试：\n\n" + "\n".join(f"- {e}" for e in result.errors[:50]))
    elif result is not None:
        st.success(f"已导入 {result.created} 题。")
