"""考试与认证 (trainers, admins): results and reviews, cohort progress, people, duty board, programmes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui.actions import act, ask, asked, confirm_step, show
from pages.ui.cells import percent, rows_table, when, yes_no
from pages.ui.certificate_view import certificates_section, eligibility_tab, programmes_tab
from pages.ui.common import current_user, db_session, embedder, role_label, run_action
from pages.ui.job_panel import job_panel, open_job, start_job
from pages.ui.markdown import md_escape
from pages.ui.result_view import show as show_feedback
from scripts_bank.jobs import RELEASE
from training.auth.accounts import list_cohorts, list_users
from training.certification.readouts import cohort_progress, person_history
from training.core.clock import fmt_datetime
from training.exams.delivery import list_papers
from training.exams.feedback import AttemptFeedback, QuestionFeedback, attempt_feedback
from training.exams.grading import ReviewSaved, release_blocker, release_preview, save_review
from training.exams.grading_views import ResultRow, ReviewTarget, paper_results, review_targets
from training.exams.retakes import RETAKE_DAYS, RetakeGrant, grant_retake
from training.exams.scores import scoring_formula
from training.models import ExamPaper, Role, User
from training.models.exams import AttemptStatus, PaperStatus

FLASH_KEY = "er_flash"
ATTEMPT_STATUS: dict[str, str] = {AttemptStatus.IN_PROGRESS: "作答中", AttemptStatus.SUBMITTED: "已交卷"}


def _review_forms(user: User, row: ResultRow, feedback: AttemptFeedback) -> None:
    """One small form per scenario answer of a submitted, unreleased attempt."""
    if row.status != AttemptStatus.SUBMITTED:
        st.info("考生还在作答，交卷后才能评阅。")
        return
    if row.released:
        st.caption("成绩已发布，评分不能再修改。")
        return
    with db_session() as session:
        targets = run_action(lambda: review_targets(session=session, actor=user,
                                                    attempt_id=row.attempt_id))
    if targets is None:
        return
    if not targets:
        st.caption("这份答卷没有需要评阅的情景题回答（空白回答记 0 分）。")
        return
    st.subheader("评阅情景题")
    st.caption("每道情景题打分后，这份答卷会自动评分并发布；也可以随时用上方的「发布成绩」统一发布。")
    by_slot = {item.question.slot_id: item for item in feedback.questions}
    for target in targets:
        _review_form(user, target, by_slot.get(target.slot_id))


def _review_form(user: User, target: ReviewTarget, item: QuestionFeedback | None) -> None:
    with st.form(f"er_review_{target.answer_id}", border=True):
        if item is not None:
            st.markdown(f"**第 {item.question.position} 题** · 顾客：{md_escape(item.question.prompt)}")
            st.text(item.answer_text)
        if target.my_score is not None:
            st.caption(f"你已评分 {target.my_score:.0%}，再次保存会覆盖。")
        score = st.slider("评分（%）", 0, 100, round((target.my_score or 0.6) * 100),
                          key=f"er_score_{target.answer_id}")
        comment = st.text_input("评语（选填）", value=target.my_comment, key=f"er_comment_{target.answer_id}")
        if not st.form_submit_button("保存评分"):
            return
    with st.spinner("正在保存评分……"), db_session() as session:
        saved = run_action(lambda: save_review(session=session, actor=user, answer_id=target.answer_id,
                                               score=score / 100, embedder=embedder(), comment=comment))
    if saved is not None:
        # Saving the last review may release the attempt: redraw the result table above.
        st.session_state[FLASH_KEY] = _saved_message(saved)
        st.rerun()


def _saved_message(saved: ReviewSaved) -> str:
    """Say what the save did: the last review releases the results, which the candidate then sees."""
    if saved.released:
        return "已保存评分。这份答卷的情景题已全部评阅，成绩已自动发布，考生现在可以查看得分和参考话术。"
    if saved.left:
        return f"已保存评分。这份答卷还有 {saved.left} 道情景题待评阅，全部评完后成绩自动发布。"
    return "已保存评分。"


def _release(subject: tuple[int, object]) -> None:
    """Queue the release of a paper's results (after the trainer confirmed)."""
    start_job(current_user(), RELEASE, f"paper:{subject[0]}", {"paper_id": subject[0]})


def _results_tab(user: User, papers: list[ExamPaper]) -> None:
    published = [p for p in papers if p.status == PaperStatus.PUBLISHED]
    if not published:
        st.info("还没有已发布的试卷：在「组卷」页发布试卷后，考生的成绩会出现在这里。")
        return
    titles = {p.id: f"{p.title}（{fmt_datetime(p.published_at)} 发布）" if p.published_at else p.title
              for p in published}
    running = [p.id for p in published if open_job(RELEASE, f"paper:{p.id}") is not None]
    if running and "er_paper" not in st.session_state:
        st.session_state["er_paper"] = running[0]  # after a reload: the paper whose release is running
    paper_id = st.selectbox("试卷", list(titles), format_func=titles.__getitem__, key="er_paper")
    assert paper_id is not None
    if others := [titles[i] for i in running if i != paper_id]:
        st.caption("正在后台发布成绩的试卷：" + "、".join(md_escape(t) for t in others))
    st.caption(scoring_formula())
    key = f"paper:{paper_id}"
    releasing = paper_id in running
    if st.button("发布成绩", type="primary", key="er_release", disabled=releasing,
                 help="为所有已交卷、尚未发布的答卷评分并发布；考生随即可以查看得分和参考话术。"
                      "在后台进行，期间可以离开本页。"):
        with db_session() as session:
            blocked = run_action(lambda: release_blocker(session=session, actor=user, paper_id=paper_id))
            preview = run_action(lambda: release_preview(session=session, actor=user, paper_id=paper_id))
        if blocked:
            st.error(blocked)
        elif preview is not None:
            ask("er_release", (paper_id, preview))
    if (pending := asked("er_release")) and pending[0] == paper_id:
        count, unreviewed = pending[1].attempts, pending[1].unreviewed
        note_unreviewed = (f"其中 {unreviewed} 份有尚未评阅的情景题，这些题将按系统建议分计分；"
                           if unreviewed else "")
        confirm_step("er_release", confirm=f"确认发布 {count} 份成绩", on_confirm=_release,
                     question=f"确认发布「{titles[paper_id]}」的 {count} 份成绩？{note_unreviewed}"
                              "发布后考生即可查看得分，评分不能再修改。")
    job_panel(user, RELEASE, key, lambda result: f"已发布 {result.get('released', 0)} 份成绩。")
    with db_session() as session:
        rows = run_action(lambda: paper_results(session=session, actor=user, paper_id=paper_id))
    if rows is None:
        return
    if not rows:
        st.info("这份试卷还没有考生参加。")
        return
    rows_table([{"考生": r.display_name, "第几次": r.number, "状态": ATTEMPT_STATUS.get(r.status, r.status),
                 "交卷时间": when(r.submitted_at), "自动交卷": yes_no(r.auto_submitted),
                 "已评阅": f"{r.reviewed}/{r.to_review}", "得分": percent(r.score),
                 "已发布": yes_no(r.released), "通过": yes_no(r.passed)} for r in rows])

    st.subheader("答卷详情")
    by_id = {r.attempt_id: r for r in rows}
    attempt_id = st.selectbox(
        "选择答卷", list(by_id), key=f"er_attempt_{paper_id}",
        format_func=lambda i: f"{by_id[i].display_name} · 第 {by_id[i].number} 次 · "
                              f"{ATTEMPT_STATUS.get(by_id[i].status, by_id[i].status)}"
                              f"{' · 已发布' if by_id[i].released else ''}")
    if attempt_id is None:
        return
    row = by_id[attempt_id]
    with db_session() as session:
        result = run_action(lambda: attempt_feedback(session=session, actor=user, attempt_id=attempt_id))
    if result is None:
        return
    if not row.released:
        st.info("成绩尚未发布：总分和结果待评阅；知识题已自动判分，情景题评阅或发布后计分。")
    with st.container(border=True):
        show_feedback(result)
    _review_forms(user, row, result)
    _retake_box(row, paper_id)


def _grant_retake(user_id: int, paper_id: int) -> None:
    def run(actor: User) -> RetakeGrant:
        with db_session() as session:
            return grant_retake(session=session, actor=actor, user_id=user_id, paper_id=paper_id)

    act("er_retake", run, success=lambda g: (
        f"已允许 {g.candidate} 补考「{g.paper_title}」：第 {g.sitting} 次，{RETAKE_DAYS} 天内有效，"
        "题目重新抽取；只发给这一位考生。"))


def _retake_box(row: ResultRow, paper_id: int) -> None:
    """允许补考: one more sitting for this candidate only (the service says when none is needed)."""
    if row.status != AttemptStatus.SUBMITTED:
        return
    st.button("允许补考", key=f"er_retake_{row.attempt_id}", on_click=_grant_retake,
              args=(row.user_id, paper_id),
              help=f"只为这位考生再安排一次考试（{RETAKE_DAYS} 天内有效，随机题重新抽取），"
                   "不影响班组其他人。")
    show("er_retake")


def _progress_tab(user: User) -> None:
    with db_session() as session:
        cohorts = run_action(lambda: list_cohorts(session=session, actor=user)) or []
    if not cohorts:
        st.info("还没有班组：先在「班组管理」中创建班组并分配成员。")
        return
    names = {c.id: c.name for c in cohorts}
    cohort_id = st.selectbox("班组", list(names), format_func=names.__getitem__, key="er_cohort")
    assert cohort_id is not None
    with db_session() as session:
        rows = run_action(lambda: cohort_progress(session=session, actor=user, cohort_id=cohort_id))
    if not rows:
        st.info("这个班组还没有成员，或还没有发布给它的试卷。")
        return
    table = pd.DataFrame([{"成员": r.display_name, "试卷": r.paper_title, "状态": r.status,
                           "最好成绩": percent(r.best_score), "已考次数": r.attempts_used}
                          for r in rows])
    st.markdown("**各试卷人数**")
    summary = pd.crosstab(table["试卷"], table["状态"])
    st.dataframe(summary, width="stretch")
    st.markdown("**明细**")
    st.dataframe(table, hide_index=True, width="stretch")


def _person_tab(user: User) -> None:
    with db_session() as session:
        people = run_action(lambda: list_users(session=session, actor=user)) or []
    if not people:
        st.info("还没有用户。")
        return
    # Agents and new hires first: they are the ones with exams and certificates.
    people = sorted(people, key=lambda p: p.role in (Role.ADMIN, Role.TRAINER))
    names = {p.id: f"{p.display_name}（{p.username} · {role_label(p.role)}）" for p in people}
    person_id = st.selectbox("人员", list(names), format_func=names.__getitem__, key="er_person")
    assert person_id is not None
    with db_session() as session:
        history = run_action(lambda: person_history(session=session, actor=user, user_id=person_id))
    if history is None:
        return
    st.markdown("**考试记录**")
    if history.attempts:
        rows_table([{"试卷": a.paper_title, "第几次": a.number, "开始时间": when(a.started_at),
                     "交卷时间": when(a.submitted_at), "状态": ATTEMPT_STATUS.get(a.status, a.status),
                     "得分": percent(a.score) if a.released else "待发布", "已发布": yes_no(a.released)}
                    for a in history.attempts])
    else:
        st.info("还没有考试记录。")
    certificates_section(user, history.certificates)


user = current_user()
st.title("考试与认证")
if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY))
with db_session() as session:
    all_papers = run_action(lambda: list_papers(session=session, actor=user))
if all_papers is None or user is None:
    st.stop()

results, progress, person, duty, programmes = st.tabs(
    ["成绩与评阅", "班组进度", "个人记录", "上岗资格", "认证项目"])
with results:
    _results_tab(user, all_papers)
with progress:
    _progress_tab(user)
with person:
    _person_tab(user)
with duty:
    eligibility_tab(user)
with programmes:
    programmes_tab(user, all_papers)
