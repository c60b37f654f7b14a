"""考试与认证 (trainers, admins): results and reviews, cohort progress, people, duty board, programmes."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from pages.ui.actions import act, show
from pages.ui.common import current_user, db_session, embedder, progress_bar, role_label, run_action
from pages.ui.markdown import md_escape
from pages.ui.result_view import show as show_feedback
from training.auth.accounts import list_cohorts, list_users
from training.certification.certificate_page import certificate_html, certificate_view
from training.certification.certificates import expiry_date
from training.certification.programmes import certification_papers, create_certification, list_certifications
from training.certification.readouts import cohort_progress, eligibility, person_history
from training.core.clock import fmt_date, fmt_datetime
from training.exams.delivery import list_papers
from training.exams.feedback import AttemptFeedback, QuestionFeedback, attempt_feedback
from training.exams.grading import ReviewSaved, release_results, save_review
from training.exams.grading_views import ResultRow, ReviewTarget, paper_results, review_targets
from training.exams.retakes import RETAKE_DAYS, RetakeGrant, grant_retake
from training.exams.scores import scoring_formula
from training.models import ExamPaper, Role, User

FLASH_KEY = "er_flash"
ATTEMPT_STATUS = {"in_progress": "作答中", "submitted": "已交卷"}


def _when(value: datetime | None) -> str:
    return fmt_datetime(value)  # team time, whatever the server's zone


def _expiry(value: datetime | None) -> str:
    return fmt_date(expiry_date(value)) if value else "—"


def _yes(value: bool | None) -> str:
    return "—" if value is None else ("是" if value else "否")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _table(rows: list[dict[str, object]]) -> None:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _review_forms(user: User, row: ResultRow, feedback: AttemptFeedback) -> None:
    """One small form per scenario answer of a submitted, unreleased attempt."""
    if row.status != "submitted":
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


def _results_tab(user: User, papers: list[ExamPaper]) -> None:
    published = [p for p in papers if p.status == "published"]
    if not published:
        st.info("还没有已发布的试卷：在「组卷」页发布试卷后，考生的成绩会出现在这里。")
        return
    titles = {p.id: f"#{p.id} {p.title}" for p in published}
    paper_id = st.selectbox("试卷", list(titles), format_func=titles.__getitem__, key="er_paper")
    assert paper_id is not None
    st.caption(scoring_formula())
    if st.button("发布成绩", type="primary", key="er_release",
                 help="为所有已交卷、尚未发布的答卷评分并发布；考生随即可以查看得分和参考话术。"):
        with progress_bar("正在计算系统评分并发布成绩……") as progress, db_session() as session:
            released = run_action(lambda: release_results(
                session=session, actor=user, paper_id=paper_id, embedder=embedder(), progress=progress))
        if released is not None:
            st.success(f"已发布 {released} 份成绩。")
    with db_session() as session:
        rows = run_action(lambda: paper_results(session=session, actor=user, paper_id=paper_id))
    if rows is None:
        return
    if not rows:
        st.info("这份试卷还没有考生参加。")
        return
    _table([{"考生": r.display_name, "第几次": r.number, "状态": ATTEMPT_STATUS.get(r.status, r.status),
             "交卷时间": _when(r.submitted_at), "自动交卷": _yes(r.auto_submitted),
             "已评阅": f"{r.reviewed}/{r.to_review}", "得分": _percent(r.score),
             "已发布": _yes(r.released), "通过": _yes(r.passed)} for r in rows])

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
    if row.status != "submitted":
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
                           "最好成绩": _percent(r.best_score), "已考次数": r.attempts_used}
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
        _table([{"试卷": a.paper_title, "第几次": a.number, "开始时间": _when(a.started_at),
                 "交卷时间": _when(a.submitted_at), "状态": ATTEMPT_STATUS.get(a.status, a.status),
                 "得分": _percent(a.score) if a.released else "待发布", "已发布": _yes(a.released)}
                for a in history.attempts])
    else:
        st.info("还没有考试记录。")
    st.markdown("**证书**")
    if not history.certificates:
        st.info("还没有证书。")
        return
    _table([{"证书编号": h.certificate.number, "认证项目": h.programme,
             "发证时间": _when(h.certificate.issued_at), "有效期至": _expiry(h.certificate.expires_at),
             "状态": "有效" if h.valid else ("已撤销" if h.certificate.revoked_at else "已过期"),
             "需重新认证": h.certificate.recert_reason or "—"} for h in history.certificates])
    numbers = {h.certificate.id: f"{h.certificate.number} {h.programme}" for h in history.certificates}
    certificate_id = st.selectbox("打印证书", list(numbers), format_func=numbers.__getitem__,
                                  key="er_certificate")
    if certificate_id is None:
        return
    with db_session() as session:
        view = run_action(lambda: certificate_view(session=session, actor=user,
                                                   certificate_id=certificate_id))
    if view is not None:
        st.download_button("下载打印版证书（HTML）", certificate_html(view).encode("utf-8"),
                           file_name=f"certificate-{view.number}.html", mime="text/html",
                           key="er_certificate_download")


def _eligibility_tab(user: User) -> None:
    with db_session() as session:
        rows = run_action(lambda: eligibility(session=session, actor=user)) or []
    if not rows:
        st.info("还没有客服或新人账号。")
        return
    on_duty = sum(r.on_duty for r in rows)
    left, middle, right = st.columns(3)
    left.metric("可上岗", on_duty)
    middle.metric("未取得上岗资格", len(rows) - on_duty)
    right.metric("需重新认证", sum(r.flagged for r in rows))
    _table([{"姓名": r.display_name, "账号": r.username, "班组": r.cohort or "—",
             "可上岗": _yes(r.on_duty), "缺少的认证": "、".join(r.missing) or "—",
             "证书编号": "、".join(r.certificate_numbers) or "—",
             "最早到期": _expiry(r.earliest_expiry), "需重新认证": _yes(r.flagged)} for r in rows])


def _programmes_tab(user: User, papers: list[ExamPaper]) -> None:
    titles = {p.id: f"#{p.id} {p.title}{'（草稿）' if p.status == 'draft' else ''}" for p in papers}
    with st.expander("新建认证项目", expanded=False), st.form("er_new_certification"):
        name = st.text_input("认证名称", key="er_cert_name", placeholder="例如：破壁机产品线上岗认证")
        product_line = st.text_input("产品线（选填）", key="er_cert_line")
        chosen = st.multiselect("须通过的试卷（每份都要及格）", list(titles),
                                format_func=titles.__getitem__, key="er_cert_papers",
                                placeholder="请选择试卷")
        pass_mark = st.slider("及格线（%）", 1, 100, 80, key="er_cert_pass")
        valid_days = st.number_input("有效期（天）", 1, 3650, 180, key="er_cert_days")
        required = st.checkbox("上岗必需（未取得者不能上岗接待）", value=True, key="er_cert_duty")
        description = st.text_area("说明（选填）", key="er_cert_description")
        if st.form_submit_button("创建认证", type="primary"):
            with db_session() as session:
                run_action(lambda: create_certification(
                    session=session, actor=user, name=name, paper_ids=[int(p) for p in chosen],
                    pass_mark=pass_mark / 100, valid_days=int(valid_days), required_for_duty=required,
                    product_line=product_line, description=description),
                    success="已创建认证项目。")
    with db_session() as session:
        programmes = run_action(lambda: list_certifications(session=session, actor=user)) or []
        required_papers = {p.id: certification_papers(session=session, certification_id=p.id)
                           for p in programmes if p.id is not None}
    if not programmes:
        st.info("还没有认证项目：新建一个，并选择须通过的试卷。")
        return
    plain = {p.id: p.title for p in papers}
    _table([{"名称": p.name, "产品线": p.product_line or "通用",
             "试卷": "、".join(plain.get(i, f"#{i}") for i in required_papers.get(p.id, [])),
             "及格线": _percent(p.pass_mark), "有效期（天）": p.valid_days,
             "上岗必需": _yes(p.required_for_duty)} for p in programmes])


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
    _eligibility_tab(user)
with programmes:
    _programmes_tab(user, all_papers)
