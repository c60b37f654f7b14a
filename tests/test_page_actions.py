"""AppTest: forms keep what was typed when refused, actions show their result in the same run,
destructive actions ask first and name what they did (issue 16, points 5–7)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from exam_world import demo_people, more_candidates, publish, sit
from sqlmodel import Session, func, select
from streamlit.testing.v1 import AppTest

from training.analytics.overview import home_summary
from training.certification.duty import duty_status
from training.core.db import get_engine
from training.exams.attempts import my_exams
from training.exams.papers import create_paper
from training.mining.question_bank import store_clusters
from training.models import Cohort, ExamPaper, KnowledgeItem, MinedQuestion, Role, Script, User
from training.ops.demo.seed import seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _user(role: Role) -> int:
    with Session(get_engine()) as session:
        found = session.exec(select(User).where(User.role == role.value)).first()
        assert found is not None and found.id is not None
        return found.id


@pytest.fixture
def demo_db(db_url: str) -> str:
    with Session(get_engine()) as session:
        seed_demo(session=session)
    return db_url


def _page(demo_db: str, role: Role, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = _user(role)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _submit(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_no_form_clears_itself_on_submit() -> None:
    """``clear_on_submit`` also clears a refused form, and AppTest does not show it: pages clear a
    form themselves, after a successful save."""
    for path in sorted((Path(APP).parent / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and any(k.arg == "clear_on_submit" for k in node.keywords):
                pytest.fail(f"{path.name}:{node.lineno} clears its form on submit")


# -- 知识题库 -------------------------------------------------------------------------------------

def test_refused_knowledge_item_keeps_every_field_and_shows_why(demo_db: str) -> None:
    at = _page(demo_db, Role.TRAINER, "pages/knowledge_items.py")
    at.selectbox(key="ki_kind").select("single")
    at.text_area(key="ki_stem").input("破壁机的质保期是多久")
    at.text_area(key="ki_options").input("A. 6个月\nB. 12个月")
    at.text_area(key="ki_explanation").input("以说明书为准")
    at.text_input(key="ki_sku").input("PB-100")
    at.text_input(key="ki_tags").input("质保")
    _submit(at, "保存")  # no answer
    assert at.error, "the refusal is shown"
    assert at.text_area(key="ki_stem").value == "破壁机的质保期是多久"
    assert at.text_area(key="ki_options").value == "A. 6个月\nB. 12个月"
    assert at.text_area(key="ki_explanation").value == "以说明书为准"
    assert at.text_input(key="ki_sku").value == "PB-100"
    assert at.text_input(key="ki_tags").value == "质保"
    assert at.selectbox(key="ki_kind").value == "single"

    at.text_input(key="ki_answer").input("B")  # fix only the missing field
    _submit(at, "保存")
    assert not at.error
    with Session(get_engine()) as session:
        created = session.exec(select(KnowledgeItem).where(KnowledgeItem.explanation == "以说明书为准")).one()
        total = session.exec(select(func.count()).select_from(KnowledgeItem)).one()
    assert [s.value for s in at.success] == [f"已保存第 {created.id} 题。"]
    assert f"共 {total} 题" in _captions(at), "the count includes the new item in the same run"
    assert at.text_area(key="ki_stem").value == "", "cleared once saved"


def test_knowledge_edit_keeps_its_expander_open_and_shows_the_change(demo_db: str) -> None:
    at = _page(demo_db, Role.TRAINER, "pages/knowledge_items.py")
    with Session(get_engine()) as session:
        first = session.exec(select(KnowledgeItem).order_by(KnowledgeItem.id)).first()  # type: ignore[arg-type]
        assert first is not None and first.id is not None
    at.selectbox(key="ki_edit_pick").set_value(first.id).run()
    at.text_area(key=f"ki_e{first.id}_stem").input("改过的题干")
    _submit(at, "保存修改")
    assert [s.value for s in at.success] == [f"已保存第 {first.id} 题的修改。"]
    assert at.expander[0].proto.expanded
    assert "改过的题干" in at.dataframe[0].value["题干"].tolist()


# -- 用户管理 -------------------------------------------------------------------------------------

def _by_name(username: str) -> User | None:
    with Session(get_engine()) as session:
        return session.exec(select(User).where(User.username == username)).first()


def test_new_user_defaults_to_agent_keeps_the_form_when_refused_and_is_selected(demo_db: str) -> None:
    at = _page(demo_db, Role.ADMIN, "pages/admin_users.py")
    assert at.selectbox(key="new_role").value == Role.AGENT.value, "least privilege by default"
    assert at.selectbox(key="target_user").value is None, "no user is pre-selected for disable/reset"
    assert at.selectbox(key="target_user").placeholder == "请选择用户"
    assert all(at.button(key=k).disabled for k in ("disable_user", "reset_password", "set_role"))

    at.text_input(key="new_username").input("xiaomei")
    at.text_input(key="new_display_name").input("小美")
    at.text_input(key="new_password").input("weak")
    _submit(at, "创建")
    assert at.error and _by_name("xiaomei") is None
    assert at.text_input(key="new_username").value == "xiaomei"
    assert at.text_input(key="new_display_name").value == "小美"

    at.text_input(key="new_password").input("xiaomei-2026")
    _submit(at, "创建")
    created = _by_name("xiaomei")
    assert created is not None and created.role == Role.AGENT.value
    assert created.display_name == "小美", "what was typed before the refusal is what is saved"
    assert [s.value for s in at.success] == ["已创建用户 xiaomei（小美，客服）。"]
    assert "xiaomei" in at.dataframe[0].value["用户名"].tolist()
    assert at.selectbox(key="target_user").value == created.id, "the new user is selected"
    assert at.text_input(key="new_username").value == "", "cleared once saved"


def test_disabling_a_user_asks_first_and_says_what_it_did(demo_db: str) -> None:
    at = _page(demo_db, Role.ADMIN, "pages/admin_users.py")
    agent = _by_name("agent")
    assert agent is not None
    at.selectbox(key="target_user").select(agent.id).run()
    at.button(key="disable_user").click().run()
    assert _by_name("agent").is_active, "nothing changes before the confirmation"  # type: ignore[union-attr]
    assert "确认停用「agent（" in at.warning[0].value
    at.button(key="au_disable_cancel").click().run()
    assert not at.warning and _by_name("agent").is_active  # type: ignore[union-attr]

    at.button(key="disable_user").click().run()
    at.button(key="au_disable_confirm").click().run()
    assert not at.exception
    assert not _by_name("agent").is_active  # type: ignore[union-attr]
    assert at.success[0].value.startswith("已停用 agent（")
    table = at.dataframe[0].value
    assert table.loc[table["用户名"] == "agent", "状态"].tolist() == ["停用"]
    assert at.button(key="disable_user").disabled and not at.button(key="enable_user").disabled


def test_resetting_a_password_asks_first_and_shows_the_new_one_once(demo_db: str) -> None:
    at = _page(demo_db, Role.ADMIN, "pages/admin_users.py")
    before = _by_name("agent")
    assert before is not None
    at.selectbox(key="target_user").select(before.id).run()
    at.button(key="reset_password").click().run()
    assert _by_name("agent").password_hash == before.password_hash  # type: ignore[union-attr]
    assert "确认重置「agent（" in at.warning[0].value
    at.button(key="au_reset_confirm").click().run()
    assert _by_name("agent").password_hash != before.password_hash  # type: ignore[union-attr]
    assert at.success[0].value.startswith("已为 agent（")
    assert len(at.code) == 1 and len(at.code[0].value) >= 8
    at.run()
    assert not at.code, "the new password is shown only once"


# -- 班组管理 -------------------------------------------------------------------------------------

def test_cohort_form_keeps_a_refused_entry_and_the_new_cohort_is_ready_at_once(demo_db: str) -> None:
    at = _page(demo_db, Role.ADMIN, "pages/admin_cohorts.py")
    at.text_input(key="cohort_description").input("十二月入职的新人")
    _submit(at, "创建")  # no name
    assert at.error and at.text_input(key="cohort_description").value == "十二月入职的新人"

    at.text_input(key="cohort_name").input("十二月班")
    _submit(at, "创建")
    assert [s.value for s in at.success] == ["已创建班组 十二月班。"]
    table = at.dataframe[0].value
    assert table.loc[table["班组"] == "十二月班", "成员数"].tolist() == [0]
    with Session(get_engine()) as session:
        cohort = session.exec(select(Cohort).where(Cohort.name == "十二月班")).one()
    assert cohort.description == "十二月入职的新人", "what was typed before the refusal is what is saved"
    assert at.selectbox(key="cohort_target").value == cohort.id
    assert at.text_input(key="cohort_name").value == ""

    at.selectbox(key="cohort_user").select(_user(Role.AGENT)).run()
    at.button(key="cohort_save").click().run()
    assert at.success[0].value.endswith("调入「十二月班」。")
    table = at.dataframe[0].value
    assert table.loc[table["班组"] == "十二月班", "成员数"].tolist() == [1], "counted in the same run"


# -- 我的账号 -------------------------------------------------------------------------------------

def test_password_form_keeps_what_was_typed_until_it_is_changed(demo_db: str) -> None:
    at = _page(demo_db, Role.AGENT, "pages/account.py")
    at.text_input(key="old_password").input("agent-demo-2026")
    at.text_input(key="new_password").input("agent-new-2027")
    at.text_input(key="new_password_again").input("agent-new-2028")
    _submit(at, "修改密码")
    assert [e.value for e in at.error] == ["两次输入的新密码不一致。"]
    assert at.text_input(key="old_password").value == "agent-demo-2026"

    at.text_input(key="new_password_again").input("agent-new-2027")  # fix only the mismatch
    _submit(at, "修改密码")
    assert [s.value for s in at.success] == ["密码已修改，其他设备上的登录已退出。"]
    assert all(at.text_input(key=k).value == "" for k in ("old_password", "new_password",
                                                          "new_password_again"))


# -- 话术库 ---------------------------------------------------------------------------------------

def _scripts() -> list[Script]:
    with Session(get_engine()) as session:
        return list(session.exec(select(Script).where(Script.status == "approved").order_by(Script.id)).all())


def _panel(at: AppTest, sid: int) -> Any:
    return next((e for e in at.expander if e.proto.id.endswith(f"-bank_open_{sid}")), None)


def _bank(demo_db: str, open_sid: int | None = None) -> AppTest:
    at = _page(demo_db, Role.TRAINER, "pages/script_bank.py")
    if open_sid is not None:
        at.session_state[f"bank_open_{open_sid}"] = True  # as if the trainer had opened it
        at.run()
    return at


def test_archiving_a_script_asks_first_then_it_leaves_the_list_with_a_message(demo_db: str) -> None:
    script = _scripts()[0]
    at = _bank(demo_db, script.id)
    count = f"共 {len(_scripts())} 条话术"
    assert count in _captions(at)
    at.button(key=f"archive_{script.id}").click().run()
    assert _scripts()[0].id == script.id, "nothing changes before the confirmation"
    assert f"确认停用「{script.question}」" in at.warning[0].value.replace("\\", "")
    assert _panel(at, script.id).proto.expanded, "the question is asked where the button was"

    at.button(key="bank_archive_confirm").click().run()
    assert not at.exception
    assert script.id not in [s.id for s in _scripts()]
    assert at.success[0].value.replace("\\", "").startswith(f"已停用话术「{script.question}」")
    assert _panel(at, script.id) is None, "gone from the list in the same run"
    assert f"共 {len(_scripts())} 条话术" in _captions(at) and count not in _captions(at)


def test_saving_a_new_version_keeps_the_panel_open_and_shows_it(demo_db: str) -> None:
    script = _scripts()[0]
    at = _bank(demo_db, script.id)
    at.text_area(key=f"revise_text_{script.id}").input("亲，这是修改后的话术")
    _submit(at, "保存新版本")
    assert [s.value for s in at.success] == [f"第 {script.current_version + 1} 版已审定发布。"]
    panel = _panel(at, script.id)
    assert panel is not None and panel.proto.expanded
    assert f"v{script.current_version + 1}" in panel.label
    assert "亲，这是修改后的话术" in [c.value for c in at.code]


def test_new_script_form_keeps_a_refused_entry_and_the_list_shows_the_new_one(demo_db: str) -> None:
    at = _bank(demo_db)
    before = len(_scripts())
    at.text_area(key="new_script_answer").input("亲，七天无理由退货请在订单页申请哦")
    at.text_input(key="new_script_product").input("破壁机")
    _submit(at, "保存并审定")  # no question
    assert at.error and at.text_area(key="new_script_answer").value == "亲，七天无理由退货请在订单页申请哦"
    at.text_input(key="new_script_question").input("可以七天无理由退货吗")
    _submit(at, "保存并审定")
    assert len(_scripts()) == before + 1
    assert [s.value for s in at.success] == ["已加入话术库：「可以七天无理由退货吗」。"]
    assert f"共 {before + 1} 条话术" in _captions(at)
    assert "破壁机" in at.selectbox(key="bank_product").options, "the new product is a filter at once"
    assert at.text_input(key="new_script_question").value == ""


# -- 组卷 -----------------------------------------------------------------------------------------

def _subheaders(at: AppTest) -> list[str]:
    return [h.value for h in at.subheader]


def test_new_paper_keeps_a_refused_entry_then_is_selected_and_items_count_at_once(demo_db: str) -> None:
    with Session(get_engine()) as session:  # an older paper, first in the box: the new one must be chosen
        trainer = session.get(User, _user(Role.TRAINER))
        create_paper(session=session, actor=trainer, title="旧试卷")
    at = _page(demo_db, Role.TRAINER, "pages/paper_builder.py")
    at.text_area(key="pb_description").input("物流类新人上岗")
    at.number_input(key="pb_minutes").set_value(45)
    _submit(at, "创建")  # no title
    assert at.error and at.text_area(key="pb_description").value == "物流类新人上岗"
    assert at.number_input(key="pb_minutes").value == 45

    at.text_input(key="pb_title").input("物流上岗考")
    _submit(at, "创建")
    with Session(get_engine()) as session:
        paper = session.exec(select(ExamPaper).where(ExamPaper.title == "物流上岗考")).one()
    assert paper.description == "物流类新人上岗" and paper.time_limit_minutes == 45
    assert at.selectbox(key="pb_paper").value == paper.id, "the new paper is selected"
    assert "题目（0）" in _subheaders(at)
    assert [s.value for s in at.success] == ["已创建试卷「物流上岗考」，下面可以为它加题。"]

    at.radio(key="pb_random_kind").set_value("objective")
    at.number_input(key="pb_random_count").set_value(2)
    at.button(key="pb_add_random").click().run()
    assert [s.value for s in at.success] == ["已加入 2 道随机知识题。"]
    assert "题目（2）" in _subheaders(at), "the count follows the action in the same run"

    assert at.selectbox(key="pb_remove_target").value is None and at.button(key="pb_remove").disabled
    at.selectbox(key="pb_remove_target").set_value(at.selectbox(key="pb_remove_target").options[0]).run()
    at.button(key="pb_remove").click().run()
    assert "题目（2）" in _subheaders(at) and "确认从「物流上岗考」移除第 1 题" in at.warning[0].value
    at.button(key="pb_remove_confirm").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("已移除第 1 题")
    assert "题目（1）" in _subheaders(at)


# -- 问题库 ---------------------------------------------------------------------------------------

class _Cluster:
    def __init__(self, question: str, frequency: int) -> None:
        self.question, self.frequency, self.category = question, frequency, "物流配送"
        self.examples, self.context, self.agent_replies = [question + "呀", question + "？"], [], []


def _mined() -> list[MinedQuestion]:
    with Session(get_engine()) as session:
        return list(session.exec(select(MinedQuestion).order_by(MinedQuestion.id)).all())


def test_question_bank_shows_promotion_and_merge_in_the_same_run(demo_db: str) -> None:
    with Session(get_engine()) as session:
        trainer = session.get(User, _user(Role.TRAINER))
        store_clusters(session=session, actor=trainer, import_id=None, clusters=[
            _Cluster("什么时候发货", 30), _Cluster("几号发货", 12), _Cluster("快递到哪了", 8)])
    at = _page(demo_db, Role.TRAINER, "pages/question_bank.py")
    ids = [q.id for q in _mined()]
    at.multiselect(key="qb_selected").set_value(ids[:2]).run()
    at.button(key="qb_bulk_加入题库").click().run()
    assert [s.value for s in at.success] == ["已加入题库 2 个问题。"]
    table = at.dataframe[0].value
    assert table.loc[table["ID"].isin(ids[:2]), "已入题库"].tolist() == ["是", "是"]
    assert any("其中 2 个已入题库" in c for c in _captions(at))
    assert at.button(key="qb_promote_filtered").label == "将筛选出的 1 个问题全部加入题库"

    at.button(key="qb_merge").click().run()
    assert len(_mined()) == 3, "nothing merged before the confirmation"
    assert "「#" in at.warning[0].value.replace("\\", "") and "什么时候发货" in at.warning[0].value
    at.button(key="qb_merge_confirm").click().run()
    assert not at.exception and len(_mined()) == 2
    assert at.success[0].value.replace("\\", "") == "已将 2 个问题合并为「什么时候发货」（42次）。"
    assert len(at.dataframe[0].value) == 2, "the merged-away question left the list in the same run"
    assert at.multiselect(key="qb_selected").value == []


# -- 逐题评阅 -------------------------------------------------------------------------------------

@pytest.mark.encoder
def test_a_saved_review_shows_in_the_counts_and_the_card_at_once(session: Session) -> None:
    demo = demo_people(session)
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    paper_id = publish(session, demo.trainer, "发货话术考试", scenario=True, objective=0)
    for candidate in more_candidates(session, admin, 2):
        sit(session, candidate, paper_id, reply="亲，付款后48小时内发货，发货后可在订单详情查看物流哦")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = demo.trainer.id
    at.run()
    at.switch_page("pages/answer_review.py").run()
    assert not at.exception, at.exception
    question = at.selectbox(key="ar_question")
    assert question.format_func(question.value).endswith("（已评 0/2）")
    answer_id = int(next(c.key for c in at.checkbox if c.key.startswith("pick_")).split("_")[1])
    for box in at.number_input:
        if box.key.startswith(f"lv_{answer_id}_"):
            box.set_value(4)
    at.text_input(key=f"cm_{answer_id}").input("要点齐全")
    next(b for b in at.button if b.label == "保存评分").click()  # the top card's form
    at.run()
    assert not at.exception, at.exception
    question = at.selectbox(key="ar_question")
    assert question.format_func(question.value).endswith("（已评 1/2）"), "counted in the same run"
    assert any("1 人评分，均分 100%" in m.value for m in at.markdown), "the card shows the review"
    assert [s.value for s in at.success] == ["评分已保存：100%。"]
    assert at.text_input(key=f"cm_{answer_id}").value == "要点齐全"


# -- 首页 -----------------------------------------------------------------------------------------

def test_home_counts_only_exams_still_to_take(session: Session) -> None:
    demo = demo_people(session)
    figures = home_summary(session=session, actor=demo.agent).figures
    start = figures["待参加的考试"]
    done = publish(session, demo.trainer, "已交卷的考试", scenario=False, objective=1)
    publish(session, demo.trainer, "待参加的考试", scenario=False, objective=1)
    assert home_summary(session=session, actor=demo.agent).figures["待参加的考试"] == start + 2
    sit(session, demo.agent, done)  # one attempt allowed, now used
    figures = home_summary(session=session, actor=demo.agent).figures
    assert figures["待参加的考试"] == start + 1
    entries = my_exams(session=session, actor=demo.agent)
    waiting = [e for e in entries if e.state in ("未开放", "可参加", "作答中")]
    assert figures["待参加的考试"] == len(waiting), "the home page agrees with 我的考试"
    assert figures["有效证书"] == len(duty_status(session=session, actor=demo.agent).certificates)

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = demo.agent.id
    at.run()
    assert next(m for m in at.metric if m.label == "待参加的考试").value == str(start + 1)
