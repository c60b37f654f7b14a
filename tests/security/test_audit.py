"""Audit log: what it records (approvals, script edits, grade changes, users, roles, exports), the
admin-only viewer's filters and pages, the read-only page and its formula-safe CSV export."""

from __future__ import annotations

import ast
import io
from datetime import timedelta
from pathlib import Path
from typing import cast

import pandas as pd
import pytest
from exam_world import Demo, demo_people, more_candidates, publish, sit
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from pages.ui.audit_labels import ACTION_LABELS, FIELD_LABELS, detail_text, target_text
from scripts_bank import authoring
from scripts_bank.io import export_bytes
from training.auth import accounts, audit
from training.auth.audit import AuditFilter
from training.auth.permissions import PermissionDenied
from training.exams import delivery as paper_delivery
from training.exams import grading
from training.models import Answer, AuditLog, Role, User, utcnow
from training.nlp.embeddings import Embedder

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _admin(session: Session) -> User:
    return session.exec(select(User).where(User.role == Role.ADMIN.value)).one()


def _actions(session: Session) -> list[tuple[str, int | None]]:
    return [(e.action, e.actor_id) for e in session.exec(select(AuditLog)).all()]


def test_every_sensitive_write_is_audited_with_who_and_what(session: Session, demo: Demo) -> None:
    admin = _admin(session)
    trainer = demo.trainer
    candidate = more_candidates(session, admin, 1)[0]
    paper_id = publish(session, trainer, "审计试卷", scenario=True, objective=1)
    attempt_id = sit(session, candidate, paper_id, reply="亲，48小时内发货")
    answer = session.exec(select(Answer).where(Answer.attempt_id == attempt_id, Answer.text != "")).one()
    draft = authoring.create_script(session=session, actor=trainer, question="能开发票吗", answer="可以的亲",
                                    category="发票", approve=False)
    authoring.approve_version(session=session, actor=trainer, script_id=draft.id, version=1)
    authoring.propose_revision(session=session, actor=trainer, script_id=draft.id,
                               answer="可以的亲，下单时备注抬头")
    no_encoder = cast(Embedder, None)  # reviewing without releasing encodes nothing
    for score in (0.5, 0.9):  # a grade, then a changed grade
        grading.review_answer(session=session, actor=trainer, answer_id=answer.id or 0, score=score,
                              embedder=no_encoder, finalize=False)
    accounts.set_role(session=session, actor=admin, user_id=candidate.id or 0, role="new_hire")
    accounts.set_user_active(session=session, actor=admin, user_id=candidate.id or 0, active=False)
    accounts.reset_password(session=session, actor=admin, user_id=candidate.id or 0)
    paper_delivery.export_paper_xlsx(session=session, actor=trainer, paper_id=paper_id)
    authoring.export_scripts(session=session, actor=trainer)
    audit.export_log(session=session, actor=admin)
    done = _actions(session)
    for action, actor in [("script.approve", trainer.id), ("script.draft", trainer.id),
                          ("answer.review", trainer.id), ("answer.review_change", trainer.id),
                          ("user.create", admin.id), ("user.set_role", admin.id), ("user.disable", admin.id),
                          ("user.reset_password", admin.id), ("paper.export", trainer.id),
                          ("scripts.export", trainer.id), ("audit.export", admin.id)]:
        assert (action, actor) in done, action
    change = session.exec(select(AuditLog).where(AuditLog.action == "answer.review_change")).one()
    assert change.detail and change.detail["previous"] == 0.5 and change.detail["score"] == 0.9
    role = session.exec(select(AuditLog).where(AuditLog.action == "user.set_role")).one()
    assert role.detail == {"role": "new_hire", "previous": "agent"} and role.target == candidate.username


def test_viewer_filters_pages_and_is_admin_only(session: Session, demo: Demo) -> None:
    admin = _admin(session)
    start = utcnow()
    for n in range(7):
        audit.record(session=session, actor=demo.trainer, action="script.draft", target=str(n))
    audit.record(session=session, actor=admin, action="user.set_role", target="agent")
    session.commit()
    first = audit.read_log(session=session, actor=admin, where=AuditFilter(actor_id=demo.trainer.id),
                           page=1, page_size=5)
    second = audit.read_log(session=session, actor=admin, where=AuditFilter(actor_id=demo.trainer.id),
                            page=2, page_size=5)
    assert (first.total, first.pages, len(first.entries), len(second.entries)) == (7, 2, 5, 2)
    assert [e.target for e in first.entries + second.entries] == [str(n) for n in reversed(range(7))]
    assert all(e.actor == "trainer（王培训）" for e in first.entries)
    by_prefix = audit.read_log(session=session, actor=admin, where=AuditFilter(action="user."))
    assert [e.action for e in by_prefix.entries] == ["user.set_role"]
    assert audit.read_log(session=session, actor=admin, where=AuditFilter(action="user%")).total == 0
    window = AuditFilter(since=start, until=utcnow() + timedelta(seconds=1))
    assert audit.read_log(session=session, actor=admin, where=window).total == 8
    assert audit.read_log(session=session, actor=admin, where=AuditFilter(until=start)).total >= 1  # the seed
    assert "demo.seed" in audit.audit_actions(session=session, actor=admin)
    for someone in (demo.trainer, demo.agent, demo.newhire, None):
        with pytest.raises(PermissionDenied):
            audit.read_log(session=session, actor=someone)
        with pytest.raises(PermissionDenied):
            audit.export_log(session=session, actor=someone)


def test_export_neutralises_formulas(session: Session, demo: Demo) -> None:
    admin = _admin(session)
    audit.record(session=session, actor=admin, action="user.create", target='=HYPERLINK("http://x","点我")')
    session.commit()
    entries = audit.export_log(session=session, actor=admin, where=AuditFilter(action="user.create"))
    frame = pd.DataFrame([{"对象": e.target} for e in entries])
    csv = export_bytes(frame, "csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in csv
    assert pd.read_csv(io.StringIO(csv))["对象"].tolist() == ["'=HYPERLINK(\"http://x\",\"点我\")"]


def test_audit_page_is_read_only_and_admin_only(session: Session, demo: Demo) -> None:
    admin = _admin(session)
    accounts.set_role(session=session, actor=admin, user_id=demo.agent.id or 0, role="agent")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = admin.id
    at.run()
    at.switch_page("pages/audit_log.py")
    at.run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    assert "修改角色" in shown["操作"].tolist() and "载入演示数据" in shown["操作"].tolist()
    assert [b.label for b in at.button if b.key != "logout"] == ["生成 CSV 导出（当前筛选条件）"]
    assert not at.get("data_editor") and not at.get("arrow_data_frame_editor")
    at.selectbox(key="audit_action").select("user.set_role")
    at.run()
    assert at.dataframe[0].value["操作"].tolist() == ["修改角色"]
    at.button(key="audit_export").click()
    at.run()
    assert not at.exception
    assert session.exec(select(AuditLog).where(AuditLog.action == "audit.export")).first() is not None

    trainer = AppTest.from_file(APP, default_timeout=120)
    trainer.session_state["user_id"] = demo.trainer.id
    trainer.run()
    with pytest.raises(ValueError):
        trainer.switch_page("pages/audit_log.py")  # not in the trainer's menu
    direct = AppTest.from_file(str(Path(APP).parent / "pages" / "audit_log.py"), default_timeout=120)
    direct.session_state["user_id"] = demo.trainer.id
    direct.run()
    assert "无权" in " ".join(e.value for e in direct.error)
    assert not direct.dataframe


def test_admin_changes_a_role_on_the_users_page_and_it_is_audited(session: Session, demo: Demo) -> None:
    admin = _admin(session)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = admin.id
    at.run()
    at.switch_page("pages/admin_users.py")
    at.run()
    at.selectbox(key="target_user").select(demo.agent.id)
    at.selectbox(key="target_role").select("trainer").run()  # 修改角色 is enabled once both are chosen
    at.button(key="set_role").click()
    at.run()
    assert not at.exception and [s.value for s in at.success] == [
        f"已将 {demo.agent.username}（{demo.agent.display_name}）的角色改为培训师。"]
    session.expire_all()
    assert session.get(User, demo.agent.id).role == "trainer"  # type: ignore[union-attr]
    entry = session.exec(select(AuditLog).where(AuditLog.action == "user.set_role")).one()
    assert entry.actor_id == admin.id and entry.detail == {"role": "trainer", "previous": "agent"}


def _recorded_actions() -> dict[str, str]:
    """Every action string passed to the audit's ``record`` anywhere in the code, with its file."""
    found: dict[str, str] = {}
    root = Path(APP).parent
    sources = [*root.glob("training/**/*.py"), *root.glob("scripts_bank/**/*.py"), *root.glob("pages/*.py")]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or getattr(node.func, "attr", getattr(node.func, "id", "")) \
                    != "record":
                continue
            for keyword in (k for k in node.keywords if k.arg == "action"):
                strings = [c.value for c in ast.walk(keyword.value)
                           if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                assert strings, f"{path}: an audit action that is not a string literal"
                found.update(dict.fromkeys(strings, str(path.relative_to(root))))
    return found


def test_every_audited_action_has_a_chinese_label() -> None:
    actions = _recorded_actions()
    assert {"user.reset_password", "user.disable", "answer.review_change", "attempt.auto_submit"} \
        <= set(actions)
    missing = {a: f for a, f in actions.items() if a not in ACTION_LABELS}
    assert not missing, f"add these to pages/ui/audit_labels.py ACTION_LABELS: {missing}"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in ACTION_LABELS.values())
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in FIELD_LABELS.values())


def test_details_read_as_chinese_fields_and_values() -> None:
    assert detail_text("user.set_role", {"role": "new_hire", "previous": "agent"}) == \
        "角色：新人；原角色：客服"
    assert detail_text("answer.review_change", {"score": 0.9, "previous": 0.5, "auto_fail": []}) == \
        "评分：90%；原评分：50%；一票否决项：无"
    assert detail_text("lint.save", {"active": True, "penalty": 0.30000000000000004}) == "启用：是；扣分：0.3"
    assert detail_text("paper.add_random", {"kind": "scenario", "count": 3, "category": None}) == \
        "题型：情景题；数量：3；分类：无"
    assert detail_text("future.action", {"odd_field": "x"}) == "odd_field：x"  # unknown: as stored
    assert target_text("paper.publish", "12") == "试卷 #12"
    assert target_text("user.reset_password", "agent") == "agent"


def test_audit_page_reads_in_chinese(session: Session, demo: Demo) -> None:
    admin = _admin(session)
    accounts.reset_password(session=session, actor=admin, user_id=demo.agent.id or 0)
    accounts.set_role(session=session, actor=admin, user_id=demo.newhire.id or 0, role="agent")
    audit.record(session=session, actor=admin, action="future.action", target="x", detail={"n": 1})
    session.commit()
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = admin.id
    at.run()
    at.switch_page("pages/audit_log.py")
    at.run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    rows = {r["操作"]: r for r in shown.to_dict("records")}
    assert rows["重置密码"]["对象"] == demo.agent.username
    assert rows["修改角色"]["详情"] == "角色：客服；原角色：新人"
    assert rows["future.action"]["详情"] == "n：1"  # unknown actions fall back to the stored code
    assert not any(a.startswith(("user.", "demo.")) for a in shown["操作"])
    assert not any(d.startswith("{") for d in shown["详情"])
    options = at.selectbox(key="audit_action").options
    assert "重置密码" in options and "user.reset_password" not in options
