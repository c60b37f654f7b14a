"""The certification side of 考试与认证: a person's certificates, the duty board, the programmes."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from pages.ui.cells import percent, rows_table, when, yes_no
from pages.ui.common import db_session, run_action
from training.certification.certificate_page import certificate_html, certificate_view
from training.certification.certificates import expiry_date
from training.certification.programmes import certification_papers, create_certification, list_certifications
from training.certification.readouts import HeldCertificate, eligibility
from training.core.clock import fmt_date
from training.models import ExamPaper, User
from training.models.exams import PaperStatus


def expiry(value: datetime | None) -> str:
    """The last day a certificate is valid, in team time (``—`` for one that never expires)."""
    return fmt_date(expiry_date(value)) if value else "—"


def certificates_section(user: User, held: list[HeldCertificate]) -> None:
    """A person's certificates, and the printable copy of the one picked."""
    st.markdown("**证书**")
    if not held:
        st.info("还没有证书。")
        return
    rows_table([{"证书编号": h.certificate.number, "认证项目": h.programme,
                 "发证时间": when(h.certificate.issued_at), "有效期至": expiry(h.certificate.expires_at),
                 "状态": "有效" if h.valid else ("已撤销" if h.certificate.revoked_at else "已过期"),
                 "需重新认证": h.certificate.recert_reason or "—"} for h in held])
    numbers = {h.certificate.id: f"{h.certificate.number} {h.programme}" for h in held}
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


def eligibility_tab(user: User) -> None:
    """上岗资格: who may go on duty, who lacks a required certificate, who must recertify."""
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
    rows_table([{"姓名": r.display_name, "账号": r.username, "班组": r.cohort or "—",
                 "可上岗": yes_no(r.on_duty), "缺少的认证": "、".join(r.missing) or "—",
                 "证书编号": "、".join(r.certificate_numbers) or "—",
                 "最早到期": expiry(r.earliest_expiry), "需重新认证": yes_no(r.flagged)} for r in rows])


def programmes_tab(user: User, papers: list[ExamPaper]) -> None:
    """认证项目: create a programme from the papers to pass, and list the programmes."""
    titles = {p.id: f"#{p.id} {p.title}{'（草稿）' if p.status == PaperStatus.DRAFT else ''}"
              for p in papers if p.id is not None}
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
        required_papers: dict[int | None, list[int]] = {
            p.id: certification_papers(session=session, certification_id=p.id)
            for p in programmes if p.id is not None}
    if not programmes:
        st.info("还没有认证项目：新建一个，并选择须通过的试卷。")
        return
    plain = {p.id: p.title for p in papers}
    rows_table([{"名称": p.name, "产品线": p.product_line or "通用",
                 "试卷": "、".join(plain.get(i, f"#{i}") for i in required_papers.get(p.id, [])),
                 "及格线": percent(p.pass_mark), "有效期（天）": p.valid_days,
                 "上岗必需": yes_no(p.required_for_duty)} for p in programmes])
