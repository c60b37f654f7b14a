"""Keeping the bank right (issue 17.1, 17.2, 17.11): correcting a script's question, category and
variant as a new version, restoring an archived script, text search in the bank."""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from scripts_bank import authoring, curation, service
from scripts_bank.service import ScriptError
from training.auth.permissions import PermissionDenied
from training.models import AuditLog, Certificate, Role, Script, ScriptVersion

WRONG_Q, RIGHT_Q = "我看了 没有", "运费谁出"
FREIGHT = "亲，七天无理由退货的运费由买家承担，质量问题的运费由我们承担哦"


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _misfiled(session: Session, demo: Demo) -> service.ScriptView:
    """The freight reply approved under the wrong question, as the review page used to file it."""
    return authoring.create_script(session=session, actor=demo.trainer, question=WRONG_Q, answer=FREIGHT,
                                   category="物流配送")


def _audit(session: Session, action: str, script_id: int) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).where(AuditLog.action == action,
                                                    AuditLog.target == str(script_id))).all())


def test_a_misfiled_script_is_corrected_as_a_new_audited_version(session: Session, demo: Demo) -> None:
    script = _misfiled(session, demo)
    certificates = len(session.exec(select(Certificate)).all())
    view = curation.correct_script(session=session, actor=demo.trainer, script_id=script.id, question=RIGHT_Q,
                                   category="退换货", variant="七天无理由")
    assert (view.question, view.category, view.variant, view.version) == (RIGHT_Q, "退换货", "七天无理由", 2)
    assert view.answer == FREIGHT and view.status == "approved"
    versions = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)
                            .order_by(col(ScriptVersion.version))).all()
    assert [(v.version, v.question, v.answer) for v in versions] == [
        (1, WRONG_Q, FREIGHT), (2, RIGHT_Q, FREIGHT)]
    assert versions[1].note == "更正问题、分类、变体名" and versions[1].approved_by == demo.trainer.id
    [entry] = _audit(session, "script.correct", script.id)
    assert entry.actor_id == demo.trainer.id
    assert entry.detail == {"version": 2, "question": RIGHT_Q, "category": "退换货", "variant": "七天无理由",
                            "previous_question": WRONG_Q, "previous_category": "物流配送",
                            "previous_variant": ""}
    assert len(session.exec(select(Certificate)).all()) == certificates  # the wording did not change
    found = service.list_scripts(session=session, actor=demo.agent, search="运费谁出")
    assert [s.id for s in found] == [script.id]
    assert service.list_scripts(session=session, actor=demo.agent, search=WRONG_Q) == []


def test_a_correction_is_refused_if_it_changes_nothing_or_a_draft_waits(session: Session, demo: Demo) -> None:
    script = _misfiled(session, demo)
    with pytest.raises(ScriptError, match="没有改动"):
        curation.correct_script(session=session, actor=demo.trainer, script_id=script.id, question=WRONG_Q,
                                category="物流配送")
    with pytest.raises(ScriptError, match="未知分类"):
        curation.correct_script(session=session, actor=demo.trainer, script_id=script.id, question=RIGHT_Q,
                                category="闲聊")
    with pytest.raises(ScriptError, match="不能为空"):
        curation.correct_script(session=session, actor=demo.trainer, script_id=script.id, question=" ",
                                category="退换货")
    authoring.propose_revision(session=session, actor=demo.trainer, script_id=script.id,
                               answer=FREIGHT + "～")
    with pytest.raises(ScriptError, match="第 2 版草稿待审定"):
        curation.correct_script(session=session, actor=demo.trainer, script_id=script.id, question=RIGHT_Q,
                                category="退换货")
    for role in (Role.AGENT, Role.NEW_HIRE):
        actor = demo.agent if role == Role.AGENT else demo.newhire
        with pytest.raises(PermissionDenied):
            curation.correct_script(session=session, actor=actor, script_id=script.id, question=RIGHT_Q,
                                    category="退换货")
    assert _audit(session, "script.correct", script.id) == []


def test_a_draft_script_is_corrected_as_a_draft(session: Session, demo: Demo) -> None:
    draft = authoring.create_script(session=session, actor=demo.trainer, question=WRONG_Q, answer=FREIGHT,
                                    category="物流配送", approve=False)
    view = curation.correct_script(session=session, actor=demo.trainer, script_id=draft.id, question=RIGHT_Q,
                                   category="退换货")
    assert (view.question, view.status, view.version) == (RIGHT_Q, "draft", 2)
    assert service.list_scripts(session=session, actor=demo.agent, search=FREIGHT[:6]) == []


def test_an_archived_script_is_listed_and_restored(session: Session, demo: Demo) -> None:
    script = _misfiled(session, demo)
    authoring.archive_script(session=session, actor=demo.trainer, script_id=script.id)
    assert script.id not in [s.id for s in service.list_scripts(session=session, actor=demo.trainer)]
    archived = service.list_scripts(session=session, actor=demo.trainer, archived=True)
    assert [s.id for s in archived] == [script.id] and archived[0].status == "archived"
    with pytest.raises(PermissionDenied):
        service.list_scripts(session=session, actor=demo.agent, archived=True)
    with pytest.raises(PermissionDenied):
        curation.restore_script(session=session, actor=demo.agent, script_id=script.id)

    view = curation.restore_script(session=session, actor=demo.trainer, script_id=script.id)
    assert view.status == "approved"
    assert script.id in [s.id for s in service.list_scripts(session=session, actor=demo.agent)]
    assert service.list_scripts(session=session, actor=demo.trainer, archived=True) == []
    [entry] = _audit(session, "script.restore", script.id)
    assert entry.actor_id == demo.trainer.id and entry.detail == {"visible": True}
    with pytest.raises(ScriptError, match="没有停用"):
        curation.restore_script(session=session, actor=demo.trainer, script_id=script.id)


def test_the_bank_is_searched_by_question_and_answer_text(session: Session, demo: Demo) -> None:
    script = _misfiled(session, demo)
    by_answer = service.list_scripts(session=session, actor=demo.agent, search="质量问题的运费")
    assert [s.id for s in by_answer] == [script.id]
    by_question = service.list_scripts(session=session, actor=demo.agent, search=" 看了 ")
    assert [s.id for s in by_question] == [script.id]
    assert session.get(Script, script.id) is not None
    everything = service.list_scripts(session=session, actor=demo.agent)
    assert len(everything) > 1
    assert service.list_scripts(session=session, actor=demo.agent, search="") == everything


# -- 话术库 page ----------------------------------------------------------------------------------

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _bank_page(demo: Demo) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = demo.trainer.id
    at.run()
    at.switch_page("pages/script_bank.py").run()
    assert not at.exception, at.exception
    return at


def _panels(at: AppTest) -> list[str]:
    return [e.label for e in at.expander if e.proto.id.split("-")[-1].startswith("bank_open_")]


def test_bank_page_corrects_a_script_and_finds_it_by_text(session: Session, demo: Demo) -> None:
    script = _misfiled(session, demo)
    at = _bank_page(demo)
    at.text_input(key="bank_search").input("质量问题的运费").run()
    assert _panels(at) == [f"[物流配送] {WRONG_Q}（v1）"], "the search keeps only the freight reply"
    at.session_state[f"bank_open_{script.id}"] = True
    at.run()
    at.text_input(key=f"fix_q_{script.id}").input(RIGHT_Q)
    at.selectbox(key=f"fix_cat_{script.id}").set_value("退换货")
    at.text_input(key=f"fix_var_{script.id}").input("七天无理由")
    next(b for b in at.button if b.label == "更正问题、分类与变体").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [
        f"已更正为第 2 版：「{RIGHT_Q}」，分类 退换货，变体 七天无理由。"]
    assert _panels(at) == [f"[退换货] {RIGHT_Q}（v2 · 七天无理由）"]
    assert _audit(session, "script.correct", script.id)
    assert "版本名" not in " ".join(w.label for w in at.text_input)


def test_bank_page_lists_archived_scripts_and_restores_one_at_once(session: Session, demo: Demo) -> None:
    script = _misfiled(session, demo)
    authoring.archive_script(session=session, actor=demo.trainer, script_id=script.id)
    at = _bank_page(demo)
    assert not any(WRONG_Q in label for label in _panels(at))
    at.selectbox(key="bank_status").set_value("已停用").run()
    assert _panels(at) == [f"[物流配送] {WRONG_Q}（v1 · 已停用）"]
    at.button(key=f"restore_{script.id}").click().run()
    assert not at.exception, at.exception
    assert [s.value.replace("\\", "") for s in at.success] == [
        f"已恢复话术「{WRONG_Q}」：客服又可以在话术查询中查到它。"]
    assert _panels(at) == [] and not at.warning, "restored at once, no confirmation"
    session.expire_all()
    restored = session.get(Script, script.id)
    assert restored is not None and restored.status == "approved"
    assert _audit(session, "script.restore", script.id)
