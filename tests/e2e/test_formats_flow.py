"""In a real browser: a trainer brings the team's own files in and the approved bank out again.

The trainer imports a GIFT question file on 知识题库 (preview first, the unsupported numerical
question listed as skipped), imports a 千牛 快捷短语 file on 话术库 as drafts, approves one of the
drafts, and downloads the approved bank as a 千牛 CSV: its header and the approved phrase's row are
checked in the downloaded file, and the phrase still waiting for approval is not in it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, create_engine, select

from e2e.browser import Flow, login
from training.models import KnowledgeItem

pytestmark = pytest.mark.e2e

GIFT = """$CATEGORY: $course$/top/售后维修

::质保期::本店破壁机的质保期是多久？{=两年 ~一年 ~三个月}

::拆封退货::已拆封的破壁机支持七天无理由退货。{F}

::运费::偏远地区的运费是多少元？{#12}
"""
APPROVED = "亲，破壁机主机两年质保，刀组一年，凭订单号即可申请售后哦"
WAITING = "亲，偏远地区满 99 元包邮，不满加收 12 元运费哦"
PHRASES = (f"快捷短语编码,快捷短语,快捷短语分组\r\nzb,{APPROVED},售后维修\r\nyf,{WAITING},物流配送\r\n"
           ).encode("gbk")


def _stems(db_file: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine) as session:
        stems = {item.stem for item in session.exec(select(KnowledgeItem)).all()}
    engine.dispose()
    return stems


def test_trainer_imports_gift_and_qianniu_files_and_downloads_the_bank(  # type: ignore[no-untyped-def]
        server: str, browser_page, tmp_path: Path) -> None:
    page = browser_page
    flow = Flow(page, tmp_path)
    gift = tmp_path / "售后题库.gift"
    gift.write_text(GIFT, encoding="utf-8")
    phrases = tmp_path / "快捷短语.csv"
    phrases.write_bytes(PHRASES)

    with flow.step("登录", "home"):
        login(page, server, "trainer", "trainer-demo-2026")
        page.get_by_text("你好，").first.wait_for()

    with flow.step("知识题库", "gift-preview"):
        page.get_by_role("link", name="知识题库").click()
        page.get_by_text("与其他考试系统互通").wait_for()
        page.get_by_test_id("stFileUploader").filter(has_text="选择题目文件").locator(
            "input[type=file]").set_input_files(str(gift))
        page.get_by_text("新题 2 道").first.wait_for()
        page.get_by_text("「运费」：数值题").first.wait_for()  # the numerical question, listed as skipped
        assert "本店破壁机的质保期是多久？" not in _stems(tmp_path / "e2e.db"), "预览时就写入了题库"

    with flow.step("知识题库", "gift-imported"):
        page.get_by_role("button", name="导入 2 道新题").click()
        page.get_by_text("已导入知识题 2 道、情景题 0 道").wait_for()
        stems = _stems(tmp_path / "e2e.db")
        assert {"本店破壁机的质保期是多久？", "已拆封的破壁机支持七天无理由退货。"} <= stems

    with flow.step("话术库", "qianniu-imported"):
        page.get_by_role("link", name="话术库").click()
        page.get_by_role("tab", name="新增与导入导出").click()
        page.get_by_test_id("stFileUploader").filter(has_text="选择快捷短语文件").locator(
            "input[type=file]").set_input_files(str(phrases))
        page.get_by_text("2 条快捷短语").first.wait_for()
        page.get_by_role("button", name="导入为草稿").click()
        page.get_by_text("已导入 2 条草稿话术").wait_for()

    with flow.step("话术库", "approved"):
        page.get_by_role("tab", name="话术列表").click()
        page.get_by_label("搜索问题或话术").fill("刀组一年")
        page.get_by_label("搜索问题或话术").press("Enter")
        page.get_by_test_id("stSelectbox").filter(has_text="状态").click()
        page.get_by_role("option", name="已审定和草稿").click()
        panel = page.get_by_test_id("stExpander").filter(has_text="草稿")
        expect(panel).to_have_count(1, timeout=15_000)
        panel.get_by_text("草稿").first.click()
        panel.get_by_role("button", name="审定第 1 版").click()
        page.get_by_text("已审定发布第 1 版").wait_for()

    with flow.step("话术库", "downloaded"):
        page.get_by_role("tab", name="新增与导入导出").click()
        page.get_by_role("button", name="生成快捷短语文件").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="下载").filter(has_text="快捷短语").click()
        saved = tmp_path / "千牛快捷短语.csv"
        download.value.save_as(saved)
        rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
        assert rows[0] == ["快捷短语编码", "快捷短语", "快捷短语分组"]
        assert [APPROVED, "售后维修"] in [row[1:] for row in rows[1:]]
        assert all(len(row) == 3 and 1 <= len(row[0]) <= 4 for row in rows[1:])
        assert WAITING not in {row[1] for row in rows[1:]}, "待审定的短语被导出了"
