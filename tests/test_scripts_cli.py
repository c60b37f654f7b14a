"""`huashu scripts import|export` and `huashu init` on the configured database, and the Zammad export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from exam_world import Demo, demo_people
from sqlmodel import Session, col, select

from scripts_bank import authoring
from scripts_bank.cli.main import main
from scripts_bank.io import ScriptRow
from scripts_bank.qianniu import HEADER
from scripts_bank.zammad import zammad_csv
from training.core.config import get_settings
from training.core.db import get_engine
from training.models import Script, ScriptVersion, User

pytestmark = pytest.mark.db

PHRASES = ("快捷短语编码,快捷短语,快捷短语分组\r\n1,亲，现货哦，今天下单今天发,售前咨询\r\n"
           "2,亲，退款一般 1-3 个工作日到账,退款\r\n")


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def _drafts(session: Session) -> list[str]:
    session.expire_all()
    return [v.answer for _, v in session.exec(select(Script, ScriptVersion).where(
        col(Script.status) == "draft", col(ScriptVersion.script_id) == col(Script.id))).all()]


def test_scripts_import_reads_qianniu_phrases_as_drafts_and_dry_run_stores_nothing(
        session: Session, demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "快捷短语.csv"
    source.write_bytes(PHRASES.encode("gbk"))
    assert main(["scripts", "import", str(source), "--dry-run"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["answer"], line["category"], line["status"]) for line in lines] == [
        ("亲，现货哦，今天下单今天发", "售前咨询", "draft"),
        ("亲，退款一般 1-3 个工作日到账", "退款", "draft")]
    assert not _drafts(session)
    assert main(["scripts", "import", str(source), "--as", demo.trainer.username]) == 0
    assert sorted(_drafts(session)) == sorted(line["answer"] for line in lines)
    assert "已导入 2 条草稿话术" in capsys.readouterr().err
    assert main(["scripts", "import", str(source)]) == 0  # again, as admin: both already drafts
    assert len(_drafts(session)) == 2


def test_scripts_export_qianniu_gbk_and_zammad(session: Session, demo: Demo, tmp_path: Path) -> None:
    authoring.create_script(session=session, actor=demo.trainer, question="开专票",
                            answer="=亲，可以开专票\n请留税号", category="发票", tags=["专票测试"])
    out = tmp_path / "快捷短语.csv"
    assert main(["scripts", "export", "--format", "qianniu", "--encoding", "gbk", "--output", str(out),
                 "--category", "发票"]) == 0
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("gbk"))))
    assert tuple(rows[0]) == HEADER and rows[-1][1] == "'=亲，可以开专票\n请留税号"
    assert {row[2] for row in rows[1:]} == {"发票"}
    zammad = tmp_path / "zammad.csv"
    assert main(["scripts", "export", "--format", "zammad", "--output", str(zammad),
                 "--tag", "专票测试"]) == 0
    table = list(csv.DictReader(io.StringIO(zammad.read_text("utf-8"))))
    assert [row["name"] for row in table] == ["开专票"]
    assert table[0]["content"] == "'=亲，可以开专票<br>请留税号" and table[0]["keywords"] == "发票 专票测试"
    xlsx = tmp_path / "话术.xlsx"
    assert main(["scripts", "export", "--format", "xlsx", "--output", str(xlsx)]) == 0
    assert xlsx.read_bytes().startswith(b"PK")


def test_zammad_escapes_html_and_neutralises_formulas() -> None:
    data = zammad_csv([ScriptRow("<b>问</b>", "+1 <script>", "其他", ["a"], "手机", "简洁版")]).decode()
    row = next(csv.DictReader(io.StringIO(data)))
    assert row["content"] == "'+1 &lt;script&gt;" and row["name"] == "<b>问</b>（简洁版）"
    assert row["keywords"] == "其他 a 手机"


def test_init_migrates_an_empty_database_and_seeds_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("HUASHU_DATABASE_URL", url)
    monkeypatch.setenv("HUASHU_ADMIN_PASSWORD", "admin-pass-123")
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        assert main(["init", "--demo"]) == 0
        assert "数据库已就绪" in capsys.readouterr().err
        with Session(get_engine()) as session:
            names = set(session.exec(select(User.username)).all())
        assert "admin" in names and len(names) > 1
        assert main(["init"]) == 0  # again: nothing to do, no error
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        get_settings.cache_clear()


def test_bank_page_offers_the_zammad_export(session: Session, demo: Demo) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.session_state["user_id"] = demo.trainer.id
    at.run()
    at.switch_page("pages/script_bank.py")
    at.run()
    radio = at.radio(key="bank_export_fmt")
    assert radio.options == ["Excel（xlsx）", "CSV", "Zammad 文本模块（CSV）"]
    radio.set_value("zammad")
    next(b for b in at.button if b.key == "bank_export").click()
    at.run()
    assert not at.exception, at.exception
    [download] = [d for d in at.get("download_button") if "Zammad" in d.proto.label]
    assert download.proto.label == "下载 话术库-Zammad文本模块.csv"
