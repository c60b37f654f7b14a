"""One time zone: stored in UTC, entered and shown in the team's zone (HUASHU_TIMEZONE), never the server's.

The page tests run with the process in UTC (as containers do) and in New York: before
``training.core.clock`` the pages formatted with ``astimezone()``, i.e. in the server's zone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from exam_world import demo_people, knowledge, publish
from pydantic import ValidationError
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from training.analytics.base import local_day, local_week
from training.analytics.dashboards import Filters
from training.analytics.learner import my_certificates
from training.certification.certificate_page import certificate_html, certificate_view
from training.certification.certificates import expiry_date
from training.chats.importer import DuplicateImportError, import_chat_log, list_imports
from training.core import clock
from training.core.config import Settings, get_settings
from training.core.db import get_engine
from training.exams import attempts as exams
from training.exams import papers
from training.models import AuditLog, Certificate, Certification, ChatImport, Cohort, ExamAssignment, User

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
DEMO_LOG = ROOT / "data" / "demo" / "chatlog.tsv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Where the server process may run: a container (UTC) and a zone on the other side of the date line.
SERVER_ZONES = ["UTC", "America/New_York"]


@pytest.fixture
def server_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The whole process runs in this zone (TZ and ``time.tzset``), as a server might."""
    name: str = request.param
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield name
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def team_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests that change HUASHU_TIMEZONE get fresh settings before and after."""
    monkeypatch.delenv("HUASHU_TIMEZONE", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _page(user_id: int | None, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = user_id
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


# --- the clock itself -----------------------------------------------------------------------------


@pytest.mark.parametrize("server_zone", SERVER_ZONES, indirect=True)
def test_conversion_both_ways_across_the_date_boundary(server_zone: str, team_zone: None) -> None:
    utc = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on 12-02 in Shanghai
    assert clock.to_team(utc) == datetime(2026, 12, 2, 0, 30, tzinfo=SHANGHAI)
    assert clock.to_team(utc).utcoffset() == timedelta(hours=8)
    assert clock.to_team(utc.replace(tzinfo=None)) == clock.to_team(utc)  # naive values are UTC
    assert clock.team_date(utc) == date(2026, 12, 2)
    assert clock.team_today(utc) == date(2026, 12, 2)
    assert clock.from_team(datetime(2026, 12, 2, 0, 30)) == utc
    assert clock.from_team(datetime(2026, 12, 2, 0, 30)).tzinfo == UTC
    assert clock.from_team(clock.to_team(utc)) == utc
    assert clock.day_start(date(2026, 12, 2)) == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert clock.day_end(date(2026, 12, 2)) == datetime(2026, 12, 2, 15, 59, 59, 999999, tzinfo=UTC)
    assert clock.fmt_datetime(utc) == "2026-12-02 00:30"
    assert clock.fmt_datetime(utc, seconds=True) == "2026-12-02 00:30:00"
    assert clock.fmt_date(utc) == "2026-12-02"
    assert clock.fmt_date(date(2026, 12, 1)) == "2026-12-01"  # a calendar date is shown as it is
    assert clock.fmt_time(utc) == "00:30:00"
    assert clock.fmt_datetime(None) == clock.fmt_date(None) == clock.fmt_time(None) == "—"
    assert clock.team_zone_label() == "北京时间"


def test_ranges_show_the_year_when_they_span_years_or_leave_this_one(team_zone: None) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    week = clock.fmt_range(clock.day_start(date(2026, 12, 2)), clock.day_end(date(2026, 12, 9)), now=now)
    assert week == "12-02 00:00 至 12-09 23:59"
    assert clock.fmt_range(clock.day_start(date(2026, 12, 2)), None, now=now) == "12-02 00:00 起"
    assert clock.fmt_range(clock.day_start(date(2026, 12, 29)), clock.day_end(date(2027, 1, 4)),
                           now=now) == "2026-12-29 00:00 至 2027-01-04 23:59"
    # UTC 16:30 on 12-31 is already next year in Shanghai: the range spans years in team time.
    assert clock.fmt_range(datetime(2026, 12, 30, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, 30, tzinfo=UTC),
                           now=now) == "2026-12-31 00:00 至 2027-01-01 00:30"
    assert clock.fmt_range(date(2025, 3, 1), date(2025, 3, 2), now=now) == "2025-03-01 至 2025-03-02"
    assert clock.fmt_range(date(2026, 3, 1), date(2026, 3, 2), now=now) == "03-01 至 03-02"
    assert clock.fmt_range(date(2026, 12, 29), date(2027, 1, 4), now=now) == "2026-12-29 至 2027-01-04"


def test_another_team_zone_follows_daylight_saving(monkeypatch: pytest.MonkeyPatch, team_zone: None) -> None:
    monkeypatch.setenv("HUASHU_TIMEZONE", "America/New_York")
    get_settings.cache_clear()
    assert clock.team_zone_label() == "America/New_York"
    assert clock.from_team(datetime(2026, 3, 7, 12, 0)) == datetime(2026, 3, 7, 17, 0, tzinfo=UTC)  # EST
    assert clock.from_team(datetime(2026, 3, 9, 12, 0)) == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)  # EDT
    assert clock.fmt_datetime(datetime(2026, 12, 2, 3, 0, tzinfo=UTC)) == "2026-12-01 22:00"
    assert clock.fixed_utc_offset("America/New_York") is None
    assert clock.fixed_utc_offset("Asia/Shanghai") == timedelta(hours=8)


def test_an_unknown_zone_is_refused_at_startup(monkeypatch: pytest.MonkeyPatch, team_zone: None) -> None:
    monkeypatch.setenv("HUASHU_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="HUASHU_TIMEZONE='Mars/Olympus_Mons' is not a known time zone"):
        Settings()
    monkeypatch.setenv("HUASHU_TIMEZONE", "../etc/passwd")
    with pytest.raises(ValidationError, match="not a known time zone"):
        Settings()
    monkeypatch.setenv("HUASHU_TIMEZONE", "Asia/Hong_Kong")
    assert Settings().timezone == "Asia/Hong_Kong"


def test_the_app_does_not_start_with_an_unknown_zone(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HUASHU_")},
           "HUASHU_TIMEZONE": "Asia/Beijing", "HUASHU_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "training.ops.bootstrap"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "配置有误，未启动：HUASHU_TIMEZONE='Asia/Beijing' is not a known time zone; "
        "use an IANA name such as Asia/Shanghai, Asia/Hong_Kong or Europe/Berlin")
    assert not (tmp_path / "data").exists()


_PROBE = """
import json
from datetime import UTC, date, datetime
from sqlalchemy import select
from sqlmodel import Session, SQLModel
from training.core import clock
from training.analytics.base import local_day, local_week
from training.certification.certificates import certificate_number, expiry_date
from training.core.db import make_engine
from training.models import AuditLog

moments = [datetime(2026, 12, 6, 15, 59, tzinfo=UTC), datetime(2026, 12, 6, 16, 0, tzinfo=UTC)]
engine = make_engine("sqlite://")
SQLModel.metadata.create_all(engine)
with Session(engine) as session:
    session.add_all(AuditLog(at=m, action="probe") for m in moments)
    session.commit()
    query = select(local_day(AuditLog.at), local_week(AuditLog.at)).order_by(AuditLog.id)
    rows = session.execute(query).all()
print(json.dumps({
    "shown": [clock.fmt_datetime(m, seconds=True) for m in moments],
    "days": [clock.fmt_date(m) for m in moments],
    "today": clock.team_today(moments[1]).isoformat(),
    "entered": clock.from_team(datetime(2026, 12, 2)).isoformat(),
    "window": clock.fmt_range(clock.day_start(date(2026, 12, 2)), clock.day_end(date(2026, 12, 9)),
                              now=moments[0]),
    "expiry": expiry_date(moments[1]).isoformat(),
    "number": certificate_number(moments[1], 7),
    "sql": [[str(d), str(w)] for d, w in rows],
}, ensure_ascii=False, sort_keys=True))
"""


def test_output_is_the_same_whatever_zone_the_server_runs_in() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUASHU_")}
    outputs = {}
    for zone in ("UTC", "America/New_York", "Asia/Kolkata"):
        done = subprocess.run([sys.executable, "-c", _PROBE], env={**env, "TZ": zone}, cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=True)
        outputs[zone] = json.loads(done.stdout)
    assert outputs["UTC"] == outputs["America/New_York"] == outputs["Asia/Kolkata"]
    assert outputs["UTC"] == {
        "shown": ["2026-12-06 23:59:00", "2026-12-07 00:00:00"],
        "days": ["2026-12-06", "2026-12-07"],
        "today": "2026-12-07",
        "entered": "2026-12-01T16:00:00+00:00",
        "window": "12-02 00:00 至 12-09 23:59",
        "expiry": "2026-12-07",
        "number": "HS-20261207-00007",
        "sql": [["2026-12-06", "2026-11-30"], ["2026-12-07", "2026-12-07"]],  # Sunday, then Monday
    }


def test_no_server_local_time_in_user_facing_code() -> None:
    naive = re.compile(r"\.astimezone\(\)|date\.today\(\)|datetime\.now\(\)|\.now\(\)\.date\(\)|"
                       r"time\.localtime|datetime\.fromtimestamp\([^,()]*\)|CHINA_TZ|'\+8 hours'")
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for folder in ("pages", "training", "scripts_bank")
                 for path in sorted((ROOT / folder).rglob("*.py"))
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if naive.search(line)]
    assert offenders == []


# --- SQL buckets ----------------------------------------------------------------------------------


def _buckets(session: Session, moments: list[datetime]) -> list[tuple[date, date]]:
    """The SQL day and week of each instant, stored as an audit entry's time."""
    entries = [AuditLog(at=m, action="clock.probe") for m in moments]
    session.add_all(entries)
    session.commit()
    rows = session.execute(sa_select(local_day(col(AuditLog.at)), local_week(col(AuditLog.at)))
                           .where(col(AuditLog.id).in_([e.id for e in entries]))
                           .order_by(col(AuditLog.id))).all()
    return [(date.fromisoformat(str(d)[:10]), date.fromisoformat(str(w)[:10])) for d, w in rows]


def _expected(moments: list[datetime]) -> list[tuple[date, date]]:
    days = [clock.team_date(m) for m in moments]
    return [(d, d - timedelta(days=d.weekday())) for d in days]


def test_sql_days_and_weeks_are_the_team_zone_s(session: Session, monkeypatch: pytest.MonkeyPatch,
                                                team_zone: None) -> None:
    # Sunday 23:59 and Monday 00:00 in Shanghai.
    sunday_night, monday = datetime(2026, 12, 6, 15, 59, tzinfo=UTC), datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert _buckets(session, [sunday_night, monday]) == [
        (date(2026, 12, 6), date(2026, 11, 30)), (date(2026, 12, 7), date(2026, 12, 7))]
    # A zone with daylight saving: every half hour across both of Berlin's 2026 switches.
    monkeypatch.setenv("HUASHU_TIMEZONE", "Europe/Berlin")
    get_settings.cache_clear()
    moments = [start + timedelta(minutes=30 * i)
               for start in (datetime(2026, 3, 28, 20, tzinfo=UTC), datetime(2026, 10, 24, 20, tzinfo=UTC))
               for i in range(12)]
    assert _buckets(session, moments) == _expected(moments)
    assert _buckets(session, [datetime(2026, 3, 28, 22, 59, tzinfo=UTC)]) == [
        (date(2026, 3, 28), date(2026, 3, 23))]  # 23:59 CET, Saturday
    assert _buckets(session, [datetime(2026, 10, 24, 22, 30, tzinfo=UTC)]) == [
        (date(2026, 10, 25), date(2026, 10, 19))]  # 00:30 CEST on Sunday the 25th


# --- what trainers enter and what everyone reads --------------------------------------------------


@pytest.mark.parametrize("server_zone", SERVER_ZONES, indirect=True)
def test_a_trainer_entered_exam_window_round_trip(server_zone: str, db_url: str) -> None:
    with Session(get_engine()) as session:
        demo = demo_people(session)
        paper = papers.create_paper(session=session, actor=demo.trainer, title="十二月上岗考", shuffle=False)
        papers.add_questions(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                             mined_question_ids=[],
                             knowledge_item_ids=[i.id or 0 for i in knowledge(session, 2)])
        cohort = session.exec(select(Cohort)).one()
        trainer_id, agent_id, cohort_id = demo.trainer.id, demo.agent.id, cohort.id
    trainer = _page(trainer_id, "pages/paper_builder.py")
    trainer.date_input(key="pb_open").set_value(date(2026, 12, 2))
    trainer.date_input(key="pb_close").set_value(date(2026, 12, 9))
    trainer.multiselect(key="pb_cohorts").set_value([cohort_id]).run()
    trainer.button(key="pb_publish").click()
    trainer.run()
    assert not trainer.exception
    with Session(get_engine()) as session:
        window = session.exec(select(ExamAssignment)).one()
        # 00:00 Beijing time on 12-02 is 16:00 UTC on 12-01; the window ends 23:59:59 Beijing time on 12-09.
        assert window.opens_at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
        assert window.closes_at == datetime(2026, 12, 9, 15, 59, 59, 999999, tzinfo=UTC)
        agent = session.get(User, agent_id)
        before = exams.my_exams(session=session, actor=agent, now=datetime(2026, 12, 1, 15, 59, tzinfo=UTC))
        after = exams.my_exams(session=session, actor=agent, now=datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
        late = exams.my_exams(session=session, actor=agent, now=datetime(2026, 12, 9, 16, 0, tzinfo=UTC))
    assert [e.state for e in before + after + late] == ["未开放", "可参加", "已结束"]
    assert clock.fmt_range(after[0].opens_at, after[0].closes_at, now=datetime(2026, 6, 1, tzinfo=UTC)) \
        == "12-02 00:00 至 12-09 23:59"
    candidate = _page(agent_id, "pages/my_exams.py")
    caption = next(c.value for c in candidate.caption if "限时" in c.value)
    assert "12-02 00:00 至 " in caption and "12-09 23:59" in caption, caption


@pytest.mark.parametrize("server_zone", SERVER_ZONES, indirect=True)
def test_the_duplicate_import_message_and_the_import_list_agree(server_zone: str, db_url: str) -> None:
    with Session(get_engine()) as session:
        demo = demo_people(session)
        raw = DEMO_LOG.read_bytes()
        import_chat_log(session=session, actor=demo.trainer, raw=raw, file_name="chatlog.tsv")
        record = session.exec(select(ChatImport)).one()
        record.imported_at = datetime(2026, 12, 2, 15, 10, tzinfo=UTC)  # 23:10 in Beijing
        session.add(record)
        session.commit()
        with pytest.raises(DuplicateImportError) as refused:
            import_chat_log(session=session, actor=demo.trainer, raw=raw, file_name="again.tsv")
        listed = list_imports(session=session, actor=demo.trainer)
        trainer_id = demo.trainer.id
    assert "2026-12-02 23:10" in str(refused.value)
    assert clock.fmt_datetime(listed[0].imported_at) == "2026-12-02 23:10"
    at = _page(trainer_id, "pages/chat_import.py")
    assert list(at.dataframe[0].value["导入时间"]) == ["2026-12-02 23:10"]
    at.file_uploader(key="ci_upload").set_value(("again.tsv", DEMO_LOG.read_bytes(), "text/plain"))
    at.run()
    at.button(key="ci_import").click()
    at.run()
    assert "2026-12-02 23:10" in at.error[0].value.replace("\\", "")


@pytest.mark.parametrize("server_zone", SERVER_ZONES, indirect=True)
def test_a_certificate_expires_on_the_same_day_on_every_page(server_zone: str, db_url: str) -> None:
    # 17:00 UTC is 01:00 the next day in Beijing: a page in the server's zone shows the day before.
    expires = (datetime.now(UTC) + timedelta(days=100)).replace(hour=17, minute=0, second=0, microsecond=0)
    issued = expires - timedelta(days=180)
    shown = expires.date() + timedelta(days=1)
    with Session(get_engine()) as session:
        demo = demo_people(session)
        programme = Certification(name="上岗认证（手机）", required_for_duty=False)
        session.add(programme)
        session.commit()
        cert = Certificate(certification_id=programme.id or 0, user_id=demo.agent.id or 0, issued_at=issued,
                           expires_at=expires, number="HS-TEST-00001")
        session.add(cert)
        session.commit()
        assert expiry_date(cert.expires_at) == shown
        view = certificate_view(session=session, actor=demo.agent, certificate_id=cert.id or 0)
        mine = my_certificates(session=session, actor=demo.agent, filters=Filters())
        agent_id, cert_id = demo.agent.id, cert.id
    assert view.expires_on == mine.certificates[0].expires_on == shown
    assert view.issued_on == mine.certificates[0].issued_on == issued.date() + timedelta(days=1)
    assert f"{shown:%Y年%m月%d日}" in certificate_html(view)
    assert mine.certificates[0].days_left(datetime.now(UTC)) == (shown - clock.team_today()).days

    exams_page = _page(agent_id, "pages/my_exams.py")
    line = next(m.value for m in exams_page.markdown if "HS-TEST-00001" in m.value)
    assert f"有效期至 {shown:%Y-%m-%d}" in line, line
    exams_page.button(key=f"cert_{cert_id}").click()
    exams_page.run()
    assert any(f"有效期至：{shown:%Y-%m-%d}" in t.value for t in exams_page.text)

    progress = _page(agent_id, "pages/my_progress.py")
    assert list(progress.dataframe[0].value["到期日期"]) == [f"{shown:%Y-%m-%d}"]
    assert any(f"{shown:%Y-%m-%d} 到期" in i.value for i in progress.info)


@pytest.mark.parametrize("server_zone", SERVER_ZONES, indirect=True)
def test_the_autosave_time_is_team_time(server_zone: str, db_url: str) -> None:
    with Session(get_engine()) as session:
        demo = demo_people(session)
        publish(session, demo.trainer, "自动保存时间", scenario=True, objective=0)
        [entry] = exams.my_exams(session=session, actor=demo.agent)
        agent_id = demo.agent.id
    at = _page(agent_id, "pages/my_exams.py")
    at.button(key=f"start_{entry.assignment_id}").click().run()
    at.text_area[0].input("亲，16点前付款当天发货哦").run()
    assert not at.exception
    saved = next(c.value for c in at.caption if c.value.startswith("已自动保存 "))
    shown = datetime.strptime(saved.removeprefix("已自动保存 "), "%H:%M:%S")
    now = clock.team_now()
    seconds = abs((now.hour * 3600 + now.minute * 60 + now.second)
                  - (shown.hour * 3600 + shown.minute * 60 + shown.second))
    assert min(seconds, 86400 - seconds) < 120, (saved, now)
