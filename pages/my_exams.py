"""我的考试: the on-duty gate, assigned exams, results, certificates (candidates)."""

from __future__ import annotations

import streamlit as st

from pages.ui.common import current_user, db_session, run_action
from pages.ui.exam_take import ATTEMPT_KEY, RESULT_KEY, resume_from_url
from pages.ui.exam_take import render as render_exam
from pages.ui.markdown import md_escape
from pages.ui.result_view import render as render_result
from training.certification.certificate_page import certificate_html, certificate_view
from training.certification.certificates import expiry_date
from training.certification.duty import duty_status
from training.certification.programmes import list_certifications
from training.core.clock import fmt_date, fmt_range
from training.exams.attempts import ExamEntry, my_exams, start_attempt
from training.models import ExamState, User

CERTIFICATE_KEY = "certificate_id"
#: Marks on an exam card: needed to go on duty; a retake granted to this person alone.
REQUIRED_BADGE = " :orange-badge[上岗必考]"
RETAKE_BADGE = " :blue-badge[补考]"


def _back(label: str, key: str) -> None:
    if st.button(label, key=f"back_{key}"):
        st.session_state.pop(key, None)
        st.rerun()


def _certificate(user: User, certificate_id: int) -> None:
    with db_session() as session:
        view = run_action(lambda: certificate_view(session=session, actor=user,
                                                   certificate_id=certificate_id))
    _back("返回我的考试", CERTIFICATE_KEY)
    if view is None:
        return
    with st.container(border=True):
        st.header("上岗资格证书")
        st.subheader(view.programme)
        st.text(f"证书编号：{view.number}")
        st.text(f"持证人：{view.holder}")
        if view.product_line:
            st.text(f"产品线：{view.product_line}")
        st.text(f"发证日期：{fmt_date(view.issued_on)}    有效期至：{fmt_date(view.expires_on)}")
        if not view.valid:
            st.error("证书已失效。")
        if view.recert_reason:
            st.warning(f"需重新认证：{md_escape(view.recert_reason)}")
    st.download_button("下载打印版（HTML，可在浏览器中打印）", certificate_html(view).encode("utf-8"),
                       file_name=f"certificate-{view.number}.html", mime="text/html")


def _start(user: User, entry: ExamEntry) -> None:
    with db_session() as session:
        attempt = run_action(lambda: start_attempt(session=session, actor=user,
                                                   assignment_id=entry.assignment_id))
    if attempt is not None:
        st.session_state[ATTEMPT_KEY] = attempt.id
        st.rerun()


def _entry(user: User, entry: ExamEntry) -> None:
    with st.container(border=True):
        info, action = st.columns([3, 1])
        badges = "".join(badge for wanted, badge in ((entry.required_for_duty, REQUIRED_BADGE),
                                                     (entry.retake, RETAKE_BADGE)) if wanted)
        info.markdown(f"**{md_escape(entry.title)}**{badges}")
        window = fmt_range(entry.opens_at, entry.closes_at)  # team time; the year when not this year
        best = f" · 最好成绩 {entry.best_score:.0%}" if entry.best_score is not None else ""
        info.caption(f"{entry.state} · {window} · 限时 {entry.time_limit_minutes} 分钟 · 及格线 "
                     f"{entry.pass_mark:.0%} · 剩余次数 {entry.attempts_left}{best}")
        if entry.state == ExamState.SITTING:
            if action.button("继续作答", key=f"resume_{entry.assignment_id}", type="primary"):
                st.session_state[ATTEMPT_KEY] = entry.open_attempt_id
                st.rerun()
        elif entry.state == ExamState.OPEN:
            if action.button("开始考试", key=f"start_{entry.assignment_id}", type="primary"):
                _start(user, entry)
        if entry.last_attempt_id is not None and entry.state != ExamState.SITTING:
            if action.button("查看成绩", key=f"result_{entry.assignment_id}"):
                st.session_state[RESULT_KEY] = entry.last_attempt_id
                st.rerun()


def _overview(user: User) -> None:
    with db_session() as session:
        duty = duty_status(session=session, actor=user)
        names = {c.id: c.name for c in list_certifications(session=session, actor=user)}
        entries = my_exams(session=session, actor=user)
    st.title("我的考试")
    if not duty.on_duty:
        st.warning("上岗前须取得：" + "、".join(md_escape(c.name) for c in duty.missing)
                   + "。请先完成下面标有「上岗必考」的考试，通过后即可上岗接待顾客。", icon=":material/lock:")
    for cert in duty.expiring:
        st.info(f"证书「{md_escape(names.get(cert.certification_id, ''))}」将于 "
                f"{fmt_date(expiry_date(cert.expires_at))} 到期，请及时参加复训考试。",
                icon=":material/schedule:")
    for cert in duty.flagged:
        st.warning(f"证书「{md_escape(names.get(cert.certification_id, ''))}」需要重新认证："
                   f"{md_escape(cert.recert_reason or '')}",
                   icon=":material/update:")
    if not entries:
        st.info("目前没有分配给你的考试。")
    for entry in entries:
        _entry(user, entry)
    if duty.certificates:
        st.subheader("我的证书")
        for cert in duty.certificates:
            line, button = st.columns([3, 1])
            line.markdown(f"**{md_escape(names.get(cert.certification_id, ''))}** · 编号 {cert.number} · "
                          f"有效期至 {fmt_date(expiry_date(cert.expires_at))}")
            if button.button("查看证书", key=f"cert_{cert.id}"):
                st.session_state[CERTIFICATE_KEY] = cert.id
                st.rerun()


user = current_user()
assert user is not None
resume_from_url()
if (attempt_id := st.session_state.get(ATTEMPT_KEY)) is not None:
    render_exam(user, attempt_id)
elif (result_id := st.session_state.get(RESULT_KEY)) is not None:
    _back("返回我的考试", RESULT_KEY)
    if not render_result(user, result_id):
        st.info("试卷已提交。培训师评阅或发布成绩后，这里会显示得分、参考话术和要点。")
elif (certificate_id := st.session_state.get(CERTIFICATE_KEY)) is not None:
    _certificate(user, certificate_id)
else:
    _overview(user)
