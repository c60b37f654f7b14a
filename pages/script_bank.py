"""话术库: approved scripts; trainers draft, approve, version, import/export and watch usage."""

import streamlit as st

from pages.ui.actions import act, ask, asked, confirm_step, forget, show
from pages.ui.common import current_user, db_session, filter_label, run_action
from pages.ui.markdown import md_escape
from pages.ui.script_bank_tools import render_lint_rules, render_transfer, render_usage
from scripts_bank.authoring import (
    VersionView,
    approve_version,
    archive_script,
    create_script,
    propose_revision,
    revise_script,
    script_history,
    update_details,
)
from scripts_bank.curation import correct_script, restore_script
from scripts_bank.io import split_tags
from scripts_bank.service import (
    APPROVED,
    ARCHIVED,
    DRAFT,
    STATUS_LABELS,
    ScriptView,
    facets,
    is_staff,
    list_scripts,
)
from training.core.clock import fmt_datetime
from training.models import Category, User

NEW_FIELDS = ("new_script_question", "new_script_answer", "new_script_category", "new_script_product",
              "new_script_tags")
#: The 状态 filter (trainers and admins): what it lists.
IN_USE, WITH_DRAFTS, ARCHIVED_LIST = "已审定", "已审定和草稿", "已停用"

user = current_user()
staff = is_staff(user)
categories = [c.value for c in Category]
st.title("话术库")


def _open_key(sid: int) -> str:
    return f"bank_open_{sid}"


def _keep_open(sid: int) -> None:
    """An action on a script keeps its panel open (its label may change: new version, status)."""
    st.session_state[_open_key(sid)] = True


def _revise(sid: int) -> None:
    _keep_open(sid)
    text, note = st.session_state[f"revise_text_{sid}"], st.session_state[f"revise_note_{sid}"]

    def approved(actor: User) -> ScriptView:
        with db_session() as session:
            return revise_script(session=session, actor=actor, script_id=sid, answer=text, note=note)

    def drafted(actor: User) -> int:
        with db_session() as session:
            return propose_revision(session=session, actor=actor, script_id=sid, answer=text, note=note)

    done: ScriptView | int | None
    if st.session_state[f"revise_approve_{sid}"]:
        done = act(f"bank_revise_{sid}", approved, success=lambda s: f"第 {s.version} 版已审定发布。")
    else:
        done = act(f"bank_revise_{sid}", drafted, success=lambda v: f"第 {v} 版已保存为草稿，待审定。")
    if done is not None:
        forget(f"revise_note_{sid}", to={f"revise_note_{sid}": ""})


def _details(script: ScriptView) -> None:
    sid = script.id
    _keep_open(sid)
    typed = {name: st.session_state[f"{name}_{sid}"] for name in ("prod", "tags")}

    def save(actor: User) -> ScriptView:
        with db_session() as session:
            return update_details(session=session, actor=actor, script_id=sid, category=script.category,
                                  tags=split_tags(typed["tags"]), product=typed["prod"],
                                  variant=script.variant)

    act(f"bank_details_{sid}", save, success="已保存商品与标签。")


def _correct(sid: int) -> None:
    _keep_open(sid)
    typed = {name: st.session_state[f"{name}_{sid}"] for name in ("fix_q", "fix_cat", "fix_var", "fix_note")}

    def save(actor: User) -> ScriptView:
        with db_session() as session:
            return correct_script(session=session, actor=actor, script_id=sid, question=typed["fix_q"],
                                  category=typed["fix_cat"], variant=typed["fix_var"], note=typed["fix_note"])

    done = act(f"bank_correct_{sid}", save,
               success=lambda s: f"已更正为第 {s.version} 版：「{s.question}」，分类 {s.category}"
               + (f"，变体 {s.variant}" if s.variant else "") + "。")
    if done is not None:
        forget(f"fix_note_{sid}", to={f"fix_note_{sid}": ""})


def _restore(sid: int, question: str) -> None:
    def run(actor: User) -> ScriptView:
        with db_session() as session:
            return restore_script(session=session, actor=actor, script_id=sid)

    act("bank_list", run, success=lambda s: f"已恢复话术「{question}」：" + (
        "客服又可以在话术查询中查到它。" if s.status == APPROVED else "它仍是草稿，审定后客服才能查到。"))


def _approve(sid: int, version: int) -> None:
    _keep_open(sid)

    def run(actor: User) -> ScriptView:
        with db_session() as session:
            return approve_version(session=session, actor=actor, script_id=sid, version=version)

    act(f"bank_history_{sid}", run, success=f"已审定发布第 {version} 版。")


def _ask_archive(sid: int, question: str) -> None:
    _keep_open(sid)
    ask("bank_archive", (sid, question))


def _archive(subject: tuple[int, str]) -> None:
    sid, question = subject

    def run(actor: User) -> None:
        with db_session() as session:
            archive_script(session=session, actor=actor, script_id=sid)

    act("bank_list", run, success=f"已停用话术「{question}」：话术查询中不再出现，历史版本仍保留。")


def _create() -> None:
    typed = {name: st.session_state[name] for name in NEW_FIELDS}

    def save(actor: User) -> ScriptView:
        with db_session() as session:
            return create_script(session=session, actor=actor, question=typed["new_script_question"],
                                 answer=typed["new_script_answer"], category=typed["new_script_category"],
                                 product=typed["new_script_product"],
                                 tags=split_tags(typed["new_script_tags"]))

    if act("bank_new", save, success=lambda s: f"已加入话术库：「{s.question}」。") is not None:
        forget(*NEW_FIELDS, to={k: "" for k in NEW_FIELDS if k != "new_script_category"})  # once saved


def _diff(version: VersionView) -> str:
    marks = {"insert": ":green-background[{}]", "delete": ":red-background[~~{}~~]", "equal": "{}"}
    return "".join(marks[op].format(md_escape(text)) for text, op in version.diff if text)


def _editor(script: ScriptView) -> None:
    sid = script.id
    with st.form(f"revise_{sid}"):
        st.text_area("修改话术（保存为新版本）", value=script.answer, key=f"revise_text_{sid}")
        st.text_input("修改说明", key=f"revise_note_{sid}")
        st.checkbox("直接审定发布（否则保存为草稿，待审定）", value=True, key=f"revise_approve_{sid}")
        st.form_submit_button("保存新版本", on_click=_revise, args=(sid,))
        show(f"bank_revise_{sid}")
    with st.form(f"correct_{sid}"):
        st.caption("话术归错了问题或分类时在这里更正：保存为新版本，话术内容不变。")
        st.text_input("顾客问题", value=script.question, key=f"fix_q_{sid}")
        left, right = st.columns(2)
        left.selectbox("分类", categories, index=categories.index(script.category), key=f"fix_cat_{sid}")
        right.text_input("变体名（同一问题的另一种说法，可留空）", value=script.variant, key=f"fix_var_{sid}")
        st.text_input("更正说明", key=f"fix_note_{sid}")
        st.form_submit_button("更正问题、分类与变体", on_click=_correct, args=(sid,))
        show(f"bank_correct_{sid}")
    with st.form(f"details_{sid}"):
        left, right = st.columns(2)
        left.text_input("商品", value=script.product, key=f"prod_{sid}")
        right.text_input("标签（逗号分隔）", value="，".join(script.tags), key=f"tags_{sid}")
        st.form_submit_button("保存商品与标签", on_click=_details, args=(script,))
        show(f"bank_details_{sid}")
    with db_session() as session:
        history = run_action(lambda: script_history(session=session, actor=user, script_id=sid)) or []
    for version in history:
        approver = (
            f"，{version.approver} 审定于 {fmt_datetime(version.approved_at)}" if version.approved_at else ""
        )
        st.caption(
            f"v{version.version} · {STATUS_LABELS.get(version.status, version.status)} · "
            f"{md_escape(version.editor)} 撰写于 {fmt_datetime(version.created_at)}{md_escape(approver)}"
            + (f" · 说明：{md_escape(version.note)}" if version.note else "")
        )
        st.markdown(_diff(version))
        if version.status == DRAFT:
            st.button(f"审定第 {version.version} 版", key=f"approve_{sid}_{version.version}",
                      on_click=_approve, args=(sid, version.version))
    show(f"bank_history_{sid}")
    st.button("停用这条话术", key=f"archive_{sid}", on_click=_ask_archive, args=(sid, script.question))
    if (pending := asked("bank_archive")) and pending[0] == sid:
        name = script.question if len(script.question) <= 20 else script.question[:20] + "…"
        confirm_step("bank_archive", confirm=f"确认停用「{name}」", on_confirm=_archive,
                     question=f"确认停用「{script.question}」？停用后客服在话术查询中查不到它，历史版本仍保留。")


def _list() -> None:
    with db_session() as session:
        products, tags = run_action(lambda: facets(session=session, actor=user)) or ([], [])
    search = st.text_input("搜索问题或话术", key="bank_search", placeholder="例如：运费")
    left, middle, right, status = st.columns([2, 2, 2, 2])
    chosen = left.selectbox("分类", [None, *categories], format_func=filter_label, key="bank_category")
    product = middle.selectbox("商品", [None, *products], format_func=filter_label, key="bank_product")
    tag = right.selectbox("标签", [None, *tags], format_func=filter_label, key="bank_tag")
    listed = (status.selectbox("状态", [IN_USE, WITH_DRAFTS, ARCHIVED_LIST], key="bank_status")
              if staff else IN_USE)
    with db_session() as session:
        scripts = run_action(
            lambda: list_scripts(
                session=session,
                actor=user,
                category=chosen,
                product=product,
                tag=tag,
                include_drafts=listed == WITH_DRAFTS,
                archived=listed == ARCHIVED_LIST,
                search=search,
            )
        )
    if scripts is None:
        st.stop()
    show("bank_list")
    st.caption(f"共 {len(scripts)} 条话术")
    for script in scripts:
        extra = "".join(
            [
                f" · {md_escape(script.variant)}" if script.variant else "",
                f" · {md_escape(script.product)}" if script.product else "",
                " · 草稿" if script.status == DRAFT else "",
                " · 已停用" if script.status == ARCHIVED else "",
                f" · 待审定 v{script.pending_draft}" if script.pending_draft else "",
            ]
        )
        # Keyed and tracked: the panel keeps its state when its label changes (a new version), an
        # action can keep it open, and the trainer's tools load only for an open panel.
        panel = st.expander(f"[{script.category}] {md_escape(script.question)}（v{script.version}{extra}）",
                            key=_open_key(script.id), on_change="rerun")
        with panel:
            st.code(script.answer, language=None, wrap_lines=True)
            if script.tags:
                st.caption("标签：" + "、".join(md_escape(t) for t in script.tags))
            if staff and script.status == ARCHIVED:
                st.button("恢复这条话术", key=f"restore_{script.id}", on_click=_restore,
                          args=(script.id, script.question))
            elif staff and panel.open:
                _editor(script)


if not staff:
    _list()
    st.stop()

listing, adding, usage, rules = st.tabs(["话术列表", "新增与导入导出", "使用情况", "话术规范"])
with listing:
    _list()
with adding:
    with st.form("new_script"):
        st.text_input("顾客问题", key="new_script_question")
        st.text_area("最佳话术（可用占位符 {客户称呼} {订单号} 等）", key="new_script_answer")
        left, middle, right = st.columns(3)
        left.selectbox("分类", categories, key="new_script_category")
        middle.text_input("商品", key="new_script_product")
        right.text_input("标签（逗号分隔）", key="new_script_tags")
        st.form_submit_button("保存并审定", type="primary", on_click=_create)
        show("bank_new")
    render_transfer(user)
with usage:
    render_usage(user)
with rules:
    render_lint_rules(user)
