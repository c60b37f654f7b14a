"""Trainer: objective product-knowledge items — browse, create, import."""

import pandas as pd
import streamlit as st

from pages.ui.actions import act, ask, asked, confirm_step, forget, note, show
from pages.ui.common import current_user, db_session, run_action, show_table
from pages.ui.question_exchange import render_question_exchange
from training.core.config import get_settings
from training.exams.knowledge import (
    KINDS,
    KnowledgeDraft,
    KnowledgeImport,
    create_item,
    import_items,
    list_items,
    restore_item,
    retire_item,
    update_item,
)
from training.models import KnowledgeItem, User

NEW_FIELDS = ("kind", "stem", "options", "answer", "explanation", "sku", "tags")
EDIT_OPEN = "ki_edit_open"
IN_USE, RETIRED = "在用", "已停用"
STATUS_SLOT = "ki_retire_outcome"
TABLE_COLUMNS = {"ID": st.column_config.NumberColumn(width="small"),
                 "题型": st.column_config.TextColumn(width="small"),
                 "答案": st.column_config.TextColumn(width="small"),
                 "题干": st.column_config.TextColumn(width="large"),
                 "选项": st.column_config.TextColumn(width="medium")}


def _draft(prefix: str) -> KnowledgeDraft:
    """The item as typed in the form whose widget keys start with ``prefix``."""
    typed = {name: st.session_state.get(prefix + name, "") for name in NEW_FIELDS}
    return KnowledgeDraft(typed["kind"], typed["stem"], typed["options"].splitlines(), typed["answer"],
                          typed["explanation"], typed["sku"],
                          [t.strip() for t in typed["tags"].split("|") if t.strip()])


def _create() -> None:
    draft = _draft("ki_")

    def save(actor: User) -> KnowledgeItem:
        with db_session() as session:
            return create_item(session=session, actor=actor, draft=draft)

    if act("ki_new", save, success=lambda item: f"已保存第 {item.id} 题。") is not None:
        fields = [f"ki_{name}" for name in NEW_FIELDS]  # cleared only once it is saved
        forget(*fields, to={**dict.fromkeys(fields, ""), "ki_kind": next(iter(KINDS))})


def _update(item_id: int) -> None:
    draft = _draft(f"ki_e{item_id}_")
    st.session_state[EDIT_OPEN] = True

    def save(actor: User) -> KnowledgeItem:
        with db_session() as session:
            return update_item(session=session, actor=actor, item_id=item_id, draft=draft)

    act("ki_edit", save, success=f"已保存第 {item_id} 题的修改。")


def _retire(subject: tuple[int, str]) -> None:
    item_id, stem = subject

    def run(actor: User) -> KnowledgeItem:
        with db_session() as session:
            return retire_item(session=session, actor=actor, item_id=item_id)

    act(STATUS_SLOT, run,
        success=f"已停用第 {item_id} 题「{stem[:40]}」：组卷时不会再抽到或加入它，可在「已停用」中恢复。")


def _restore(item_id: int, stem: str) -> None:
    def run(actor: User) -> KnowledgeItem:
        with db_session() as session:
            return restore_item(session=session, actor=actor, item_id=item_id)

    act(STATUS_SLOT, run, success=f"已恢复第 {item_id} 题「{stem[:40]}」：组卷时又可以使用它。")


def _import() -> None:
    upload = st.session_state.get("ki_upload")
    if upload is None:
        return
    limit = get_settings().upload_limit_mb

    def run(actor: User) -> KnowledgeImport:
        with db_session() as session:
            return import_items(session=session, actor=actor, raw=upload.getvalue(), file_name=upload.name,
                                limit_bytes=limit * 1024 * 1024)

    result = act("ki_import", run)
    if result is not None and result.errors:
        note("ki_import", "导入未执行，请修正后重试：\n\n" + "\n".join(f"- {e}" for e in result.errors[:50]),
             "error")
    elif result is not None:
        note("ki_import", f"已导入 {result.created} 题。")


user = current_user()
st.title("知识题库")
st.caption("单选、多选、判断题，附答案与解析，可按商品和标签筛选。")

left, middle, right = st.columns([2, 2, 1])
search = left.text_input("搜索题干", key="ki_search")
tag = middle.text_input("按标签筛选（如：质保）", key="ki_tag")
listed = right.selectbox("状态", [IN_USE, RETIRED], key="ki_status")
with db_session() as session:
    items = run_action(lambda: list_items(session=session, actor=user, search=search,
                                          tag=tag.strip() or None, retired=listed == RETIRED)) or []
show(STATUS_SLOT)
# 答案 comes before the long texts and those are sized, so the answer is in view without scrolling.
show_table(pd.DataFrame([{"ID": i.id, "题型": KINDS.get(i.kind, i.kind), "答案": i.answer, "题干": i.stem,
                          "选项": " | ".join(i.options or []), "商品": i.sku,
                          "标签": "、".join(i.tags or [])} for i in items]),
           empty=("没有停用的题目。" if listed == RETIRED else "没有符合条件的题目。" if search or tag.strip()
                  else "知识题库里还没有题目：在下方新建。"),
           hide_index=True, width="stretch", column_config=TABLE_COLUMNS)
st.caption(f"共 {len(items)} 题" + ("（已停用，组卷时不会抽到或加入）" if listed == RETIRED else ""))

if items and listed == RETIRED:
    retired = {i.id: i for i in items}
    back = st.selectbox("选择要恢复的题目", list(retired), key="ki_restore_pick",
                        format_func=lambda i: f"#{i} {retired[i].stem[:40]}")
    st.button("恢复这道题", key="ki_restore", on_click=_restore, args=(back, retired[back].stem))
elif items:
    # Tracked (on_change="rerun") so a save can keep it open: an expander's state is otherwise lost.
    with st.expander("修改题目（已考过此题的有效证书会被标记为需重新认证）", key=EDIT_OPEN,
                     on_change="rerun"):
        by_id = {i.id: i for i in items}
        chosen = by_id[st.selectbox("选择题目", list(by_id), key="ki_edit_pick",
                                    format_func=lambda i: f"#{i} {by_id[i].stem[:40]}")]
        prefix = f"ki_e{chosen.id}_"
        with st.form(f"edit_item_{chosen.id}"):
            st.selectbox("题型", list(KINDS), index=list(KINDS).index(chosen.kind),
                         format_func=KINDS.__getitem__, key=prefix + "kind")
            st.text_area("题干", value=chosen.stem, key=prefix + "stem")
            st.text_area("选项（每行一个）", value="\n".join(chosen.options or []), key=prefix + "options")
            st.text_input("答案", value=chosen.answer, key=prefix + "answer")
            st.text_area("解析", value=chosen.explanation, key=prefix + "explanation")
            st.text_input("商品编号", value=chosen.sku, key=prefix + "sku")
            st.text_input("标签（用 | 分隔）", value="|".join(chosen.tags or []), key=prefix + "tags")
            st.form_submit_button("保存修改", type="primary", on_click=_update, args=(chosen.id,))
            show("ki_edit")
        st.button("停用这道题", key="ki_retire", on_click=ask, args=("ki_retire", (chosen.id, chosen.stem)))
        if (pending := asked("ki_retire")) and pending[0] == chosen.id:
            confirm_step("ki_retire", confirm=f"确认停用第 {chosen.id} 题", on_confirm=_retire,
                         question=f"确认停用第 {chosen.id} 题「{chosen.stem[:40]}」？"
                         "停用后组卷时不会再抽到或加入它，已有试卷和成绩不受影响，可在「已停用」中恢复。")

st.subheader("新建题目")
with st.form("new_item"):
    st.selectbox("题型", list(KINDS), format_func=KINDS.__getitem__, key="ki_kind")
    st.text_area("题干", key="ki_stem")
    st.text_area("选项（每行一个，如「A. 12个月」；判断题留空）", key="ki_options")
    st.text_input("答案（如 C、AC，判断题填 对/错）", key="ki_answer")
    st.text_area("解析", key="ki_explanation")
    st.text_input("商品编号", key="ki_sku")
    st.text_input("标签（用 | 分隔）", key="ki_tags")
    st.form_submit_button("保存", type="primary", on_click=_create)
    show("ki_new")

st.subheader("从 CSV / Excel 导入")
st.caption("第一行为表头：题型（单选题、多选题或判断题）、题干、选项（用 | 分隔）、答案、解析、商品编号、"
           "标签（用 | 分隔）；前四列必填。任何一行有错则全部不导入，并列出出错的行。")
upload = st.file_uploader("选择文件", type=["csv", "xlsx"], key="ki_upload")
st.button("导入", key="ki_import", disabled=upload is None, on_click=_import)
show("ki_import")

render_question_exchange(user)
