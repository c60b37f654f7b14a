"""In a real browser, the trainer's whole flow on the demo store: chat log → questions → paper → script.

The trainer imports the demo chat log (data/demo/chatlog.tsv), mines its customer questions, puts
them in the bank, builds a paper by category quota and publishes it to the demo cohort. Five
candidates then sit it through the service layer with the demo's answers of very different quality
(data/demo/exam_answers.jsonl). Back in the browser the trainer reviews the first question blind,
scores the top answer on the rubric, merges the two best answers into a script with a placeholder
and approves it. Each step leaves a numbered screenshot in the test's tmp dir.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from exam_world import more_candidates, sit
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlmodel import Session, col, create_engine, select

from e2e.browser import Flow, fill_number, login, pick_in_multiselect
from training.models import (
    Answer,
    ChatImport,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    MinedQuestion,
    Review,
    Script,
    ScriptVersion,
    User,
)
from training.ops.demo.constants import DEMO_COHORT, DEMO_DIR

pytestmark = pytest.mark.e2e

CHAT_LOG = DEMO_DIR / "chatlog.tsv"
QUOTAS = {"物流配送": 2, "退换货": 1}
PAPER = "青禾小家电上岗考试"
# The demo's five answers to a shipping question, from excellent to useless.
SHIPPING_QUESTION = "今天下单啥时候能发"
USELESS = {"不知道，这个要问仓库", "亲，这款加湿器现在有满299减20的券哦，快去领吧"}
RUBRIC = ("礼貌称呼（0.2）", "准确解决（0.4）", "主动超预期（0.2）", "合规表达（0.2）")


@contextmanager
def _database(db_file: Path) -> Iterator[Session]:
    """A session on the server's SQLite file, for set-up and checks behind the browser's back."""
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def _demo_answers(question: str) -> list[str]:
    """The demo agents' answers to one question of data/demo/exam_answers.jsonl."""
    for line in (DEMO_DIR / "exam_answers.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["question"] == question:
            return [a["text"] for a in entry["answers"]]
    raise AssertionError(f"demo answers for {question!r} are missing")


def _candidates_sit(db_file: Path) -> tuple[list[str], str]:
    """Five candidates answer the published paper; returns their replies and its first scenario prompt."""
    replies = _demo_answers(SHIPPING_QUESTION)
    with _database(db_file) as session:
        admin = session.exec(select(User).where(User.username == "demo_admin")).one()
        paper = session.exec(select(ExamPaper).where(ExamPaper.title == PAPER)).one()
        for user, reply in zip(more_candidates(session, admin, len(replies)), replies, strict=True):
            sit(session, user, paper.id or 0, reply=reply)
        first = session.exec(select(ExamItem).where(ExamItem.paper_id == paper.id)
                             .order_by(col(ExamItem.position))).first()
        assert first is not None
        return replies, first.prompt


def _create_paper(page, db_file: Path) -> None:  # type: ignore[no-untyped-def]
    """Fill the new-paper form; a rerun landing between typing and clicking clears it, so retry."""
    page.get_by_role("heading", name="组卷").wait_for()
    page.wait_for_timeout(1000)  # let the page's first reruns settle before typing into its form
    page.get_by_text("新建试卷").click()
    for _ in range(3):
        page.get_by_label("试卷名称").fill(PAPER)
        page.get_by_role("button", name="创建").click()
        try:
            page.get_by_text(f"已创建试卷「{PAPER}」").wait_for(timeout=20_000)
            return
        except PlaywrightError:
            with _database(db_file) as session:
                if session.exec(select(ExamPaper)).first() is not None:
                    return  # created, only the message was missed: do not create a second one
    raise AssertionError("试卷未能创建（已重试 3 次）")


def _card_text(page, rank: int) -> str:  # type: ignore[no-untyped-def]
    """The answer text shown on the review card ranked ``rank``."""
    heading = page.get_by_text(re.compile(f"^第 {rank} 名 · ")).first
    return str(heading.locator("xpath=following::*[@data-testid='stText'][1]").inner_text()).strip()


def test_demo_chat_log_to_approved_script(server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    db_file = tmp_path / "e2e.db"
    flow = Flow(page, tmp_path)

    with flow.step("登录", "home"):
        login(page, server, "trainer", "trainer-demo-2026")
        page.get_by_text("你好，王培训").wait_for()

    with flow.step("聊天记录导入", "imported"):
        page.get_by_role("link", name="聊天记录导入").click()
        page.locator('input[type="file"]').set_input_files(str(CHAT_LOG))
        page.get_by_role("button", name="开始导入").click()
        page.get_by_text("60 个会话、420 条消息").wait_for(timeout=120_000)
        page.get_by_text("[身份证号] 1 处").wait_for()  # the demo's fake ID-card number was masked

    with flow.step("聊天记录导入", "mined"):
        page.get_by_role("button", name="开始挖掘").click()
        page.get_by_text("挖掘出").wait_for(timeout=600_000)  # the first mining loads the encoder

    with flow.step("问题库", "bank"):
        page.get_by_role("link", name="问题库").click()
        page.get_by_role("button", name=re.compile("全部加入题库")).click()
        page.get_by_text(re.compile(r"已加入题库 \d+ 个问题。")).wait_for(timeout=120_000)

    with flow.step("组卷", "paper"):
        page.get_by_role("link", name="组卷").click()
        _create_paper(page, db_file)
        for category, count in QUOTAS.items():
            fill_number(page, category, count)
        page.get_by_role("button", name="按配额加入").click()
        page.get_by_text(f"已加入 {sum(QUOTAS.values())} 题。").wait_for()
        page.get_by_text("显示预览").click()
        page.get_by_text(f"第 {sum(QUOTAS.values())} 题").wait_for()

    with flow.step("组卷", "published"):
        pick_in_multiselect(page, "发布给班组", DEMO_COHORT)
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="发布", exact=True).click()
        page.get_by_text(f"已将「{PAPER}」发布给 {DEMO_COHORT}").wait_for()

    replies, prompt = _candidates_sit(db_file)

    with flow.step("逐题评阅", "ranked"):
        page.get_by_role("link", name="逐题评阅").click()
        page.get_by_text("第 1 名").first.wait_for(timeout=180_000)
        page.get_by_role("button", name="保存话术").wait_for()  # the whole page has rendered
        page.get_by_text(prompt, exact=True).first.wait_for()  # the paper's first question is open
        assert page.get_by_text(re.compile("考生[0-9]")).count() == 0, "回答显示了作者姓名（应为盲评）"
        top, second = _card_text(page, 1), _card_text(page, 2)
        assert top in replies and second in replies, f"排名卡片上的回答不是考生的回答：{top!r} {second!r}"
        assert top not in USELESS and second not in USELESS, f"无用回答排在前两名：{top!r} {second!r}"

    with flow.step("逐题评阅", "reviewed"):
        for criterion in RUBRIC:
            level = page.get_by_role("spinbutton", name=criterion).first  # the top card's rubric
            level.click()
            level.press_sequentially("4")
            level.press("Tab")
            assert level.input_value() == "4", f"评分项「{criterion}」没有记下 4 分"
        page.get_by_role("button", name="保存评分").first.click()
        page.get_by_text("评分已保存：").wait_for()

    with flow.step("逐题评阅", "approved"):
        top, second = _card_text(page, 1), _card_text(page, 2)  # the review may have re-ranked them
        picks = page.get_by_text("纳入最佳话术")
        picks.nth(0).click()
        picks.nth(1).click()
        page.get_by_role("button", name="合并所选回答（2 条）到编辑框").click()
        editor = page.get_by_label("话术（可用占位符 {客户称呼} {订单号} 等）")
        expect(editor, "编辑框里的合并结果不是前两名回答").to_have_value(f"{top}\n{second}")
        script_text = "{客户称呼}您好～" + top
        editor.fill(script_text)
        page.get_by_role("button", name="保存话术").click()
        page.get_by_text("已审定发布到话术库：").wait_for()

    with _database(db_file) as session:
        chat_import = session.exec(select(ChatImport)).one()
        assert (chat_import.session_count, chat_import.message_count) == (60, 420)
        assert chat_import.question_count > 0
        paper = session.exec(select(ExamPaper)).one()
        assert paper.status == "published"
        items = session.exec(select(ExamItem).where(ExamItem.paper_id == paper.id)).all()
        mined = {i.mined_question_id: session.get(MinedQuestion, i.mined_question_id) for i in items}
        assert sorted(q.category for q in mined.values() if q) == sorted(
            c for c, n in QUOTAS.items() for _ in range(n))
        assert session.exec(select(ExamAssignment)).one().paper_id == paper.id
        assert len(session.exec(select(Answer)).all()) == len(replies) * len(items)
        review = session.exec(select(Review)).one()
        assert review.score == pytest.approx(1.0)
        script = session.exec(select(Script).where(col(Script.mined_question_id).is_not(None))).one()
        assert script.question == prompt and script.mined_question_id in mined
        version = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
        assert script.status == "approved" and version.answer == script_text
        sources = [session.get(Answer, i) for i in version.source_answer_ids or []]
        assert sorted(a.text for a in sources if a) == sorted([top, second])
