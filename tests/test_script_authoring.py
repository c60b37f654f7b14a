"""Writing the script bank: drafts and approval, history with diffs, variants, roles, import and export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, col, func, select

from scripts_bank import authoring, service
from scripts_bank.io import ScriptRow
from scripts_bank.service import ScriptError
from training.auth.permissions import PermissionDenied
from training.models import AuditLog, MinedQuestion, Role, Script, ScriptVersion, User

INVOICE_Q = "能开专票吗"
INVOICE_V1 = "亲，可以开具增值税专用发票，请提供公司名称和税号"
ADDED = "，确认收货后7个工作日内开出"
INVOICE_V2 = "亲，可以开具增值税专用发票，请提供公司名称、税号和开户行，确认收货后7个工作日内开出"


def admin_of(session: Session) -> User:
    return session.exec(select(User).where(User.role == Role.ADMIN.value)).one()


def invoice(session: Session, trainer: User, *, approve: bool = True, tags: list[str] | None = None,
            ) -> service.ScriptView:
    return authoring.create_script(session=session, actor=trainer, question=INVOICE_Q, answer=INVOICE_V1,
                                   category="发票", approve=approve, tags=tags)


def counts(session: Session) -> tuple[int, int, int]:
    """Rows of scripts, versions and audit entries (to prove a refused call wrote nothing)."""
    return tuple(session.exec(select(func.count()).select_from(table)).one()  # type: ignore[return-value]
                 for table in (Script, ScriptVersion, AuditLog))


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def test_draft_is_hidden_from_agents_until_approved(session: Session, demo: Demo) -> None:
    draft = invoice(session, demo.trainer, approve=False)
    assert draft.status == service.DRAFT
    for reader in (demo.agent, demo.newhire):
        ids = {v.id for v in service.list_scripts(session=session, actor=reader, include_drafts=True)}
        assert draft.id not in ids  # include_drafts is ignored for agents and new hires
    staff_ids = {v.id for v in service.list_scripts(session=session, actor=demo.trainer, include_drafts=True)}
    assert draft.id in staff_ids
    assert draft.id not in {v.id for v in service.list_scripts(session=session, actor=demo.trainer)}

    approved = authoring.approve_version(session=session, actor=demo.trainer, script_id=draft.id, version=1)
    assert approved.status == service.APPROVED
    assert draft.id in {v.id for v in service.list_scripts(session=session, actor=demo.agent)}
    with pytest.raises(ScriptError, match="只能审定草稿"):
        authoring.approve_version(session=session, actor=demo.trainer, script_id=draft.id, version=1)


def test_agents_read_the_approved_version_while_a_revision_waits(session: Session, demo: Demo) -> None:
    script = invoice(session, demo.trainer)
    number = authoring.propose_revision(session=session, actor=demo.trainer, script_id=script.id,
                                        answer=INVOICE_V2, note="补充开户行")
    assert number == 2
    [seen] = [v for v in service.list_scripts(session=session, actor=demo.agent) if v.id == script.id]
    assert (seen.version, seen.answer) == (1, INVOICE_V1)
    [staff] = [v for v in service.list_scripts(session=session, actor=demo.trainer, include_drafts=True)
               if v.id == script.id]
    assert staff.pending_draft == 2

    approved = authoring.approve_version(session=session, actor=demo.trainer, script_id=script.id, version=2)
    assert (approved.version, approved.answer, approved.pending_draft) == (2, INVOICE_V2, None)
    [seen] = [v for v in service.list_scripts(session=session, actor=demo.agent) if v.id == script.id]
    assert seen.answer == INVOICE_V2


def test_history_is_newest_first_with_names_and_a_diff(session: Session, demo: Demo) -> None:
    admin = admin_of(session)
    script = invoice(session, demo.trainer)
    authoring.propose_revision(session=session, actor=admin, script_id=script.id, answer=INVOICE_V1 + "哦",
                               note="语气")
    authoring.propose_revision(session=session, actor=admin, script_id=script.id, answer=INVOICE_V1 + ADDED)
    authoring.approve_version(session=session, actor=demo.trainer, script_id=script.id, version=3)

    history = authoring.script_history(session=session, actor=demo.trainer, script_id=script.id)
    assert [(v.version, v.status) for v in history] == [(3, "approved"), (2, "superseded"), (1, "approved")]
    newest, _, first = history
    assert (newest.editor, newest.approver) == ("演示管理员", "王培训")
    assert (first.editor, first.approver) == ("王培训", "王培训")
    assert newest.approved_at is not None and history[1].approved_at is None
    # v3 is diffed against v2 (the superseded draft): its 哦 deleted, the new sentence inserted
    assert newest.diff == [(INVOICE_V1, "equal"), ("哦", "delete"), (ADDED, "insert")]
    assert history[1].diff == [(INVOICE_V1, "equal"), ("哦", "insert")]
    assert first.diff == [(INVOICE_V1, "insert")]


def test_char_diff_marks_replaced_characters() -> None:
    assert authoring.char_diff("发中通快递", "发顺丰快递") == [
        ("发", "equal"), ("中通", "delete"), ("顺丰", "insert"), ("快递", "equal")]


def test_revising_an_approved_script_records_versions(session: Session, demo: Demo) -> None:
    script = invoice(session, demo.trainer)
    revised = authoring.revise_script(session=session, actor=demo.trainer, script_id=script.id,
                                      answer=INVOICE_V2)
    assert revised.version == 2
    approvals = session.exec(select(AuditLog).where(AuditLog.action == "script.approve",
                                                    AuditLog.target == str(script.id))
                             .order_by(col(AuditLog.id))).all()
    assert [a.detail for a in approvals] == [{"version": 1, "previous": None}, {"version": 2, "previous": 1}]


def test_variants_of_one_mined_question(session: Session, demo: Demo) -> None:
    mined = MinedQuestion(question="发顺丰要加钱吗", category="物流配送", in_question_bank=True)
    session.add(mined)
    session.commit()
    draft = authoring.create_script(session=session, actor=demo.trainer, question="能发顺丰吗",
                                    answer="亲，补12元差价可以改发顺丰哦", category="物流配送",
                                    mined_question_id=mined.id, variant="补差价", approve=False)
    session.refresh(mined)
    assert mined.covered_by_script_id is None  # a draft covers nothing yet
    authoring.approve_version(session=session, actor=demo.trainer, script_id=draft.id, version=1)
    second = authoring.create_script(session=session, actor=demo.trainer, question="能发顺丰吗",
                                     answer="亲，扫地机器人默认就发顺丰，不用补差价哦", category="物流配送",
                                     mined_question_id=mined.id, variant="扫地机器人")
    session.refresh(mined)
    assert mined.covered_by_script_id == draft.id  # the first approved variant stays the cover
    variants = [v for v in service.list_scripts(session=session, actor=demo.agent)
                if v.mined_question_id == mined.id]
    assert [(v.id, v.variant) for v in variants] == [(draft.id, "补差价"), (second.id, "扫地机器人")]
    with pytest.raises(ScriptError, match="不存在"):
        authoring.create_script(session=session, actor=demo.trainer, question="q", answer="a",
                                category="其他", mined_question_id=99999)


def test_placeholder_errors_are_refused_unknown_names_allowed(session: Session, demo: Demo) -> None:
    before = counts(session)
    with pytest.raises(ScriptError, match="占位符有误：.*没有闭合"):
        authoring.create_script(session=session, actor=demo.trainer, question="我的快递到哪了",
                                answer="亲，订单{订单号已经发出", category="物流配送")
    with pytest.raises(ScriptError, match="多余"):
        authoring.create_script(session=session, actor=demo.trainer, question="我的快递到哪了",
                                answer="亲，订单订单号}已经发出", category="物流配送")
    assert counts(session) == before
    ok = authoring.create_script(session=session, actor=demo.trainer, question="会员有折扣吗",
                                 answer="亲，您是{会员等级}会员，下单享{折扣}折", category="价格优惠")
    assert ok.answer == "亲，您是{会员等级}会员，下单享{折扣}折"
    with pytest.raises(ScriptError, match="占位符有误"):
        authoring.propose_revision(session=session, actor=demo.trainer, script_id=ok.id, answer="亲，{}折")


def _denied_calls(script_id: int) -> list[Callable[[Session, User], Any]]:
    return [
        lambda s, u: authoring.create_script(session=s, actor=u, question="包邮吗", answer="包邮",
                                             category="物流配送"),
        lambda s, u: authoring.propose_revision(session=s, actor=u, script_id=script_id, answer="改"),
        lambda s, u: authoring.approve_version(session=s, actor=u, script_id=script_id, version=2),
        lambda s, u: authoring.revise_script(session=s, actor=u, script_id=script_id, answer="改"),
        lambda s, u: authoring.update_details(session=s, actor=u, script_id=script_id, category="其他",
                                              tags=[]),
        lambda s, u: authoring.archive_script(session=s, actor=u, script_id=script_id),
        lambda s, u: authoring.script_history(session=s, actor=u, script_id=script_id),
        lambda s, u: authoring.draft_from_answers(session=s, actor=u, answer_ids=[]),
        lambda s, u: authoring.import_scripts(session=s, actor=u,
                                              rows=[ScriptRow("包邮吗", "包邮", "物流配送")]),
        lambda s, u: authoring.export_scripts(session=s, actor=u),
    ]


@pytest.mark.parametrize("role", [Role.AGENT, Role.NEW_HIRE])
def test_only_staff_write_the_bank(session: Session, demo: Demo, role: Role) -> None:
    script = invoice(session, demo.trainer)
    authoring.propose_revision(session=session, actor=demo.trainer, script_id=script.id, answer=INVOICE_V2)
    actor = demo.agent if role is Role.AGENT else demo.newhire
    before = counts(session)
    for call in _denied_calls(script.id):
        with pytest.raises(PermissionDenied):
            call(session, actor)
    assert counts(session) == before
    stored = session.get(Script, script.id)
    assert stored is not None and (stored.status, stored.current_version) == ("approved", 1)
    # an admin may do what a trainer does
    admin_view = authoring.approve_version(session=session, actor=admin_of(session), script_id=script.id,
                                           version=2)
    assert admin_view.version == 2


def test_import_is_all_or_nothing(session: Session, demo: Demo) -> None:
    good = ScriptRow("能用京东白条吗", "亲，暂不支持京东白条，可以用花呗分期哦", "账户支付", ["白条"], "", "")
    bad = ScriptRow("能开纸质发票吗", "亲，订单{订单号的发票", "发票")
    before = counts(session)
    with pytest.raises(ScriptError, match="第 3 行：占位符有误"):
        authoring.import_scripts(session=session, actor=demo.trainer, rows=[good, bad])
    with pytest.raises(ScriptError, match="第 2 行：未知分类"):
        authoring.import_scripts(session=session, actor=demo.trainer,
                                 rows=[ScriptRow("q", "a", "闲聊"), good])
    with pytest.raises(ScriptError, match="没有话术"):
        authoring.import_scripts(session=session, actor=demo.trainer, rows=[])
    assert counts(session) == before

    second = ScriptRow("电饭煲能预约吗", "亲，{商品名称}支持24小时预约哦", "售前咨询", ["预约"], "电饭煲", "")
    assert authoring.import_scripts(session=session, actor=demo.trainer, rows=[good, second]) == 2
    imported = [v for v in service.list_scripts(session=session, actor=demo.agent)
                if v.question in {good.question, second.question}]
    assert [(v.question, v.version, v.status, v.tags) for v in imported] == [
        (good.question, 1, "approved", ["白条"]), (second.question, 1, "approved", ["预约"])]


def test_export_lists_the_approved_bank_and_is_audited(session: Session, demo: Demo) -> None:
    authoring.create_script(session=session, actor=demo.trainer, question="草稿问题", answer="草稿话术",
                            category="其他", approve=False)
    gone = authoring.create_script(session=session, actor=demo.trainer, question="已停用问题",
                                   answer="旧话术", category="其他")
    authoring.archive_script(session=session, actor=demo.trainer, script_id=gone.id)
    rows = authoring.export_scripts(session=session, actor=demo.trainer)
    bank = service.list_scripts(session=session, actor=demo.agent)
    assert [(r.question, r.answer, r.category, r.tags) for r in rows] == [
        (v.question, v.answer, v.category, v.tags) for v in bank]
    assert len(rows) == 16 and {"草稿问题", "已停用问题"}.isdisjoint(r.question for r in rows)
    [entry] = session.exec(select(AuditLog).where(AuditLog.action == "scripts.export")).all()
    assert entry.actor_id == demo.trainer.id and entry.detail == {"rows": 16}


def test_update_details_and_validation(session: Session, demo: Demo) -> None:
    script = invoice(session, demo.trainer, tags=["专票", " 专票 ", ""])
    assert script.tags == ["专票"]
    view = authoring.update_details(session=session, actor=demo.trainer, script_id=script.id, category="其他",
                                    tags=["企业"], product="电饭煲", variant="企业客户")
    assert (view.category, view.tags, view.product, view.variant, view.version) == (
        "其他", ["企业"], "电饭煲", "企业客户", 1)
    with pytest.raises(ScriptError, match="未知分类"):
        authoring.update_details(session=session, actor=demo.trainer, script_id=script.id, category="闲聊",
                                 tags=[])
    with pytest.raises(ScriptError, match="标签最多"):
        authoring.update_details(session=session, actor=demo.trainer, script_id=script.id, category="其他",
                                 tags=[f"标签{i}" for i in range(11)])
    with pytest.raises(ScriptError, match="过长"):
        authoring.revise_script(session=session, actor=demo.trainer, script_id=script.id, answer="亲" * 2001)
    with pytest.raises(ScriptError, match="话术不存在"):
        authoring.archive_script(session=session, actor=demo.trainer, script_id=99999)
