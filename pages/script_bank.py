"""话术库: approved scripts; trainers draft, approve, version, import/export and watch usage."""

import streamlit as st

from pages.common import current_user, db_session, run_action
from pages.exam_view import md_escape
from pages.script_bank_tools import render_lint_rules, render_transfer, render_usage
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
from scripts_bank.io import split_tags
from scripts_bank.service import STATUS_LABELS, ScriptView, facets, is_staff, list_scripts
from training.clock import fmt_datetime
from training.models import Category

user = current_user()
staff = is_staff(user)
categories = [c.value for c in Category]
st.title("话术库")


def _diff(version: VersionView) -> str:
    marks = {"insert": ":green-background[{}]", "delete": ":red-background[~~{}~~]", "equal": "{}"}
    return "".join(marks[op].format(md_escape(text)) for text, op in version.diff if text)


def _editor(script: ScriptView) -> None:
    sid = script.id
    with st.form(f"revise_{sid}"):
        text = st.text_area("修改话术（保存为新版本）", value=script.answer, key=f"revise_text_{sid}")
        note = st.text_input("修改说明", key=f"revise_note_{sid}")
        approve = st.checkbox(
            "直接审定发布（否则保存为草稿，待审定）", value=True, key=f"revise_approve_{sid}"
        )
        if st.form_submit_button("保存新版本"):
            with db_session() as session:
                if approve:
                    run_action(lambda: revise_script(session=session, actor=user, script_id=sid, answer=text,
                                                     note=note), success="新版本已审定发布。")
                else:
                    version = run_action(lambda: propose_revision(session=session, actor=user, script_id=sid,
                                                                  answer=text, note=note))
                    if version is not None:
                        st.success(f"第 {version} 版已保存为草稿。")
    with st.form(f"details_{sid}"):
        left, middle, right = st.columns(3)
        category = left.selectbox(
            "分类", categories, index=categories.index(script.category), key=f"cat_{sid}"
        )
        product = middle.text_input("商品", value=script.product, key=f"prod_{sid}")
        variant = right.text_input("版本名", value=script.variant, key=f"var_{sid}")
        tags = st.text_input("标签（逗号分隔）", value="，".join(script.tags), key=f"tags_{sid}")
        if st.form_submit_button("保存分类与标签"):
            with db_session() as session:
                run_action(
                    lambda: update_details(
                        session=session,
                        actor=user,
                        script_id=sid,
                        category=category,
                        tags=split_tags(tags),
                        product=product,
                        variant=variant,
                    ),
                    success="已保存。",
                )
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
        if version.status == "draft" and st.button(
            f"审定第 {version.version} 版", key=f"approve_{sid}_{version.version}"
        ):
            with db_session() as session:
                run_action(
                    lambda v=version.version: approve_version(
                        session=session, actor=user, script_id=sid, version=v
                    ),
                    success="已审定发布。",
                )
    if st.button("停用这条话术", key=f"archive_{sid}"):
        with db_session() as session:
            run_action(lambda: archive_script(session=session, actor=user, script_id=sid), success="已停用。")


def _list() -> None:
    with db_session() as session:
        products, tags = run_action(lambda: facets(session=session, actor=user)) or ([], [])
    left, middle, right, drafts = st.columns([2, 2, 2, 1])
    chosen = left.selectbox("分类", ["全部", *categories], key="bank_category")
    product = middle.selectbox("商品", ["全部", *products], key="bank_product")
    tag = right.selectbox("标签", ["全部", *tags], key="bank_tag")
    include_drafts = drafts.checkbox("含草稿", key="bank_drafts") if staff else False
    with db_session() as session:
        scripts = run_action(
            lambda: list_scripts(
                session=session,
                actor=user,
                category=None if chosen == "全部" else chosen,
                product=None if product == "全部" else product,
                tag=None if tag == "全部" else tag,
                include_drafts=include_drafts,
            )
        )
    if scripts is None:
        st.stop()
    st.caption(f"共 {len(scripts)} 条话术")
    for script in scripts:
        extra = "".join(
            [
                f" · {md_escape(script.variant)}" if script.variant else "",
                f" · {md_escape(script.product)}" if script.product else "",
                " · 草稿" if script.status == "draft" else "",
                f" · 待审定 v{script.pending_draft}" if script.pending_draft else "",
            ]
        )
        with st.expander(f"[{script.category}] {md_escape(script.question)}（v{script.version}{extra}）"):
            st.code(script.answer, language=None, wrap_lines=True)
            if script.tags:
                st.caption("标签：" + "、".join(md_escape(t) for t in script.tags))
            if staff:
                _editor(script)


if not staff:
    _list()
    st.stop()

listing, adding, usage, rules = st.tabs(["话术列表", "新增与导入导出", "使用情况", "话术规范"])
with listing:
    _list()
with adding:
    with st.form("new_script", clear_on_submit=True):
        question = st.text_input("顾客问题", key="new_script_question")
        answer = st.text_area("最佳话术（可用占位符 {客户称呼} {订单号} 等）", key="new_script_answer")
        left, middle, right = st.columns(3)
        category = left.selectbox("分类", categories, key="new_script_category")
        product = middle.text_input("商品", key="new_script_product")
        new_tags = right.text_input("标签（逗号分隔）", key="new_script_tags")
        if st.form_submit_button("保存并审定", type="primary"):
            with db_session() as session:
                run_action(
                    lambda: create_script(
                        session=session,
                        actor=user,
                        question=question,
                        answer=answer,
                        category=category,
                        product=product,
                        tags=split_tags(new_tags),
                    ),
                    success="已加入话术库。",
                )
    render_transfer(user)
with usage:
    render_usage(user)
with rules:
    render_lint_rules(user)
