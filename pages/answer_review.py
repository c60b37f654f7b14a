"""逐题评阅 (trainers, admins): all answers to one question ranked and blind, rubric scores, best script."""

from __future__ import annotations

import streamlit as st

from pages.ui.actions import act, forget, show
from pages.ui.common import current_user, db_session, embedder, run_action
from pages.ui.exam_view import render_turns
from pages.ui.markdown import md_escape
from pages.ui.review_tools import render_calibration, render_rubric_editor
from scripts_bank.authoring import create_script, draft_from_answers
from scripts_bank.io import split_tags
from scripts_bank.service import APPROVED, DRAFT, ScriptView
from training.exams.delivery import list_papers
from training.exams.review_board import (
    BlindAnswer,
    QuestionRanking,
    paper_questions,
    rank_question,
    review_with_rubric,
)
from training.exams.rubrics import LEVEL_LABELS, TOP_LEVEL, RubricView, get_rubric
from training.models import Category, Review, User
from training.ranking.lint import LINT_KINDS

COMPOSER_FIELDS = ("question", "draft", "category", "product", "variant", "tags", "mode")
#: The composer's 保存为 choices: the script's status on saving, and how the choice reads.
SAVE_AS = {APPROVED: "审定发布", DRAFT: "草稿"}

user = current_user()
st.title("逐题评阅与最佳话术")
st.caption(
    "同一道题的所有回答在一屏内按综合分排序，不显示作者（盲评）。每项 0–4 分，Tab 切换、回车保存。"
    "建议分是系统给的参考分：只和审定话术、已评分的回答比较，不和其他考生比较；评分时以您的判断为准。"
)

with db_session() as session:
    papers = run_action(lambda: list_papers(session=session, actor=user)) or []
if not papers:
    st.info("还没有试卷。先在「组卷」里创建并发布试卷，考生交卷后在这里评阅。")
    st.stop()
paper = st.selectbox("试卷", papers, format_func=lambda p: f"{p.title}（#{p.id}）", key="ar_paper")
board, agreement, rubric_tab = st.tabs(["逐题评阅", "评分一致性", "评分表"])


def _answer_card(rank: int, answer: BlindAnswer, rubric: RubricView) -> None:
    with st.container(border=True):
        badges = [":orange-badge[:material/star: 亮点]"] if answer.highlight else []
        badges += [f":red-badge[{md_escape(LINT_KINDS.get(f.kind, f.kind))}]" for f in answer.findings]
        reviewed = (
            f" · {answer.reviews} 人评分，均分 {answer.review_mean:.0%}"
            if answer.review_mean is not None
            else ""
        )
        suggested = f" · 建议分 {answer.suggestion:.2f}" if answer.suggestion is not None else ""
        st.markdown(
            f"**第 {rank} 名 · {answer.label}** · 综合分 {answer.score:.2f}{suggested}{reviewed} "
            + " ".join(badges)
        )
        st.text(answer.text)
        if answer.suggestion_reasons:
            with st.expander(f"建议分 {answer.suggestion:.2f} 的依据"):
                for reason in answer.suggestion_reasons:
                    st.caption("· " + md_escape(reason))
        with st.expander("排序依据"):
            for reason in answer.reasons:
                st.caption("· " + md_escape(reason))
        st.checkbox("纳入最佳话术", key=f"pick_{answer.answer_id}")
        if answer.locked:
            st.caption("成绩已发布，评分已锁定。")
            return
        with st.form(f"rv_{answer.answer_id}", border=False):
            columns = st.columns(len(rubric.criteria))
            for column, criterion in zip(columns, rubric.criteria, strict=True):
                column.number_input(
                    f"{criterion.name}（{criterion.weight:g}）",
                    min_value=0,
                    max_value=TOP_LEVEL,
                    step=1,
                    value=answer.my_levels.get(criterion.name),
                    help=criterion.hint,
                    key=f"lv_{answer.answer_id}_{criterion.name}",
                )
            st.multiselect(
                "否决项（选中即 0 分）",
                rubric.auto_fail,
                placeholder="没有否决项",
                default=answer.my_failed,
                key=f"af_{answer.answer_id}",
            )
            st.text_input("评语", value=answer.my_comment, key=f"cm_{answer.answer_id}")
            st.form_submit_button("保存评分", on_click=_review,
                                  args=(answer.answer_id, rubric.id, [c.name for c in rubric.criteria]))
            show(f"ar_rv_{answer.answer_id}")


def _review(answer_id: int, rubric_id: int | None, criteria: list[str]) -> None:
    typed = st.session_state
    levels = {name: int(typed[f"lv_{answer_id}_{name}"]) for name in criteria
              if typed.get(f"lv_{answer_id}_{name}") is not None}
    failed, comment = list(typed.get(f"af_{answer_id}", [])), typed.get(f"cm_{answer_id}", "")

    def run(actor: User) -> Review:
        with db_session() as session:
            return review_with_rubric(session=session, actor=actor, answer_id=answer_id, levels=levels,
                                      failed=failed, comment=comment, rubric_id=rubric_id,
                                      embedder=embedder())

    act(f"ar_rv_{answer_id}", run, success=lambda r: f"评分已保存：{r.score:.0%}。")


def composer_keys(paper_id: int, question_key: str) -> dict[str, str]:
    """The composer's widget keys for one question of one paper.

    Keyed on the question, so switching the 题目 box gives the composer that question's text and
    category (and its own draft), never the ones typed or shown for the question before.
    """
    return {name: f"ar_script_{name}:{paper_id}:{question_key}" for name in COMPOSER_FIELDS}


def _merge(keys: dict[str, str], answer_ids: list[int]) -> None:
    def run(actor: User) -> str:
        with db_session() as session:
            return draft_from_answers(session=session, actor=actor, answer_ids=answer_ids)

    text = act("ar_script", run)
    if text is not None:
        st.session_state[keys["draft"]] = text


def _save_script(keys: dict[str, str], ranking: QuestionRanking, picked: list[int]) -> None:
    typed = {name: st.session_state.get(key, "") for name, key in keys.items()}
    approve = typed["mode"] == APPROVED

    def run(actor: User) -> ScriptView:
        with db_session() as session:
            return create_script(session=session, actor=actor, question=typed["question"],
                                 answer=typed["draft"], category=typed["category"],
                                 tags=split_tags(typed["tags"]), product=typed["product"],
                                 variant=typed["variant"], mined_question_id=ranking.slot.mined_question_id,
                                 source_answer_ids=picked, approve=approve)

    saved = act("ar_script", run, success=lambda s: f"已审定发布到话术库：「{s.question}」（{s.category}）。"
                if approve else f"已保存为草稿：「{s.question}」（{s.category}）。")
    if saved is not None:  # cleared only once it is saved
        texts = (keys["draft"], keys["product"], keys["variant"], keys["tags"])
        picks = tuple(f"pick_{a}" for a in picked)
        forget(*texts, *picks, to={**dict.fromkeys(texts, ""), **dict.fromkeys(picks, False)})


def _composer(paper_id: int, ranking: QuestionRanking) -> None:
    st.subheader("生成最佳话术")
    keys = composer_keys(paper_id, ranking.slot.key)
    picked = [a.answer_id for a in ranking.answers if st.session_state.get(f"pick_{a.answer_id}")]
    st.button(
        f"合并所选回答（{len(picked)} 条）到编辑框",
        key="ar_merge",
        disabled=not picked,
        on_click=_merge,
        args=(keys, picked),
    )
    with st.form("ar_script"):
        st.text_input("顾客问题", value=ranking.slot.prompt, key=keys["question"])
        st.text_area("话术（可用占位符 {客户称呼} {订单号} 等）", key=keys["draft"], height=150)
        left, middle, right = st.columns(3)
        categories = [c.value for c in Category]
        left.selectbox("分类", categories, index=categories.index(ranking.slot.category),
                       key=keys["category"])
        middle.text_input("商品 / 产品线", key=keys["product"])
        right.text_input("变体名（同一问题可有多条审定话术）", key=keys["variant"])
        st.text_input("标签（逗号分隔）", key=keys["tags"])
        st.radio("保存为", list(SAVE_AS), format_func=SAVE_AS.__getitem__, horizontal=True, key=keys["mode"])
        st.form_submit_button("保存话术", type="primary", on_click=_save_script, args=(keys, ranking, picked))
        show("ar_script")


with board:
    with db_session() as session:
        slots = run_action(lambda: paper_questions(session=session, actor=user, paper_id=paper.id or 0)) or []
    if not slots:
        st.info("这份试卷还没有已交卷的书面回答。")
    else:
        # Options are the slots' keys: a slot's counts change with each review, its key does not.
        by_key = {s.key: s for s in slots}
        slot = by_key[st.selectbox(
            "题目",
            list(by_key),
            key="ar_question",
            format_func=lambda k: f"{by_key[k].prompt[:40]}（已评 {by_key[k].reviewed}/{by_key[k].answers}）",
        )]
        with db_session() as session:
            rubric = get_rubric(session=session, rubric_id=None)
            ranking = run_action(
                lambda: rank_question(
                    session=session, actor=user, paper_id=paper.id or 0, key=slot.key, embedder=embedder()
                )
            )
        if ranking is not None:
            render_turns(ranking.slot.context, ranking.slot.prompt)
            if ranking.reference:
                st.markdown("**现行审定话术**")
                st.text(ranking.reference)
            st.caption("评分标准：" + "；".join(f"{v}" for v in LEVEL_LABELS.values()))
            for rank, answer in enumerate(ranking.answers, start=1):
                _answer_card(rank, answer, rubric)
            _composer(paper.id or 0, ranking)

with agreement:
    render_calibration(user, paper.id or 0)

with rubric_tab:
    render_rubric_editor(user)
