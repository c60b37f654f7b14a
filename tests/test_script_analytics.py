"""Script-bank analytics: SQL aggregations against a hand-counted lookup log (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from scripts_bank import analytics
from training.auth.permissions import PermissionDenied
from training.core.clock import team_date
from training.models import (
    LookupLog,
    MinedQuestion,
    Role,
    Script,
    ScriptFeedback,
    ScriptVersion,
    User,
    utcnow,
)

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@dataclass
class World:
    admin: User
    trainer: User
    agents: list[User]
    scripts: dict[str, int]
    t1: datetime  # yesterday
    t2: datetime  # the day before
    t40: datetime  # outside the default 30-day window


def _user(session: Session, name: str, role: Role) -> User:
    user = User(username=name, display_name=name, role=role.value, password_hash="x")
    session.add(user)
    session.commit()
    return user


def _script(session: Session, key: str, category: str, *, product: str = "", status: str = "approved",
            versions: int = 1) -> int:
    script = Script(question=key, category=category, product=product, status=status, current_version=versions)
    session.add(script)
    session.commit()
    for v in range(1, versions + 1):
        session.add(ScriptVersion(script_id=script.id or 0, version=v, question=f"{key} v{v}",
                                  answer="亲，您好"))
    session.commit()
    return script.id or 0


@pytest.fixture
def world(session: Session) -> World:
    """Four approved scripts, a draft, an archived one; ten lookups by two agents; feedback.

    Counts over the last 30 days (S = shown, T = top hit): s1 S3 T2, s2 S4 T3, s3 S2 T1, s4 none
    (one lookup 40 days ago). Weak lookups: 能开专票吗 twice by two agents (best 0.80), plus once
    40 days ago (0.50); 赠品怎么还没到 once (0.85).
    """
    admin, trainer = _user(session, "admin", Role.ADMIN), _user(session, "trainer", Role.TRAINER)
    g1, g2 = _user(session, "agent1", Role.AGENT), _user(session, "agent2", Role.AGENT)
    ids = {"s1": _script(session, "s1", "退款", versions=2),
           "s2": _script(session, "s2", "物流配送", product="空气炸锅"),
           "s3": _script(session, "s3", "物流配送"),
           "s4": _script(session, "s4", "退款"),
           "draft": _script(session, "draft", "退款", status="draft"),
           "archived": _script(session, "archived", "退款", status="archived")}
    now = utcnow()
    t1, t2, t40 = now - timedelta(days=1), now - timedelta(days=2), now - timedelta(days=40)
    logs = [
        (g1, "退款多久到账", ["s1", "s2"], 0.95, t1),
        (g2, "退款什么时候到", ["s1", "s3"], 0.97, t1),
        (g1, "发什么快递", ["s2", "s1"], 0.93, t2),
        (g1, "能开专票吗", ["s3"], 0.80, t2),
        (g2, "能开专票吗", None, None, t2),
        (g1, "多久退款", ["s4"], 0.95, t40),
        (g2, "赠品怎么还没到", ["s2"], 0.85, t1),
        (g2, "能开专票吗", [], 0.50, t40),
        (g1, "旧活动", ["archived"], 0.95, t1),
        (g1, "炸锅几天到", ["s2"], 0.96, t1),
    ]
    for user, query, hits, top, at in logs:
        session.add(LookupLog(user_id=user.id, query=query, top_score=top, created_at=at,
                              hits=None if hits is None else [ids[h] for h in hits]))
    feedback = [("s1", 1, g1, "outdated", "旧版本的意见"), ("s1", 2, g1, "useful", ""),
                ("s1", 2, g2, "useful", ""),
                ("s3", 1, g1, "outdated", "运费规则已改"), ("s3", 1, g2, "outdated", ""),
                ("s2", 1, g2, "outdated", "赠品活动结束了")]
    for key, version, user, kind, comment in feedback:
        session.add(ScriptFeedback(script_id=ids[key], version=version, user_id=user.id or 0, kind=kind,
                                   comment=comment))
    session.commit()
    return World(admin, trainer, [g1, g2], ids, t1, t2, t40)


def _keys(world: World, stats: list[analytics.ScriptStats]) -> list[str]:
    names = {v: k for k, v in world.scripts.items()}
    return [names[s.script_id] for s in stats]


def _local(at: datetime) -> date:
    return team_date(at)


def test_lookups_per_day_counts_lookups_weak_ones_and_agents(session: Session, world: World) -> None:
    recent = analytics.lookups_per_day(session=session, actor=world.trainer)
    assert [(d.day, d.lookups, d.weak, d.agents) for d in recent] == [
        (_local(world.t2), 3, 2, 2), (_local(world.t1), 5, 1, 2)]
    everything = analytics.lookups_per_day(session=session, actor=world.admin, days=None)
    assert [(d.day, d.lookups, d.weak) for d in everything][0] == (_local(world.t40), 2, 1)
    strict = analytics.lookups_per_day(session=session, actor=world.trainer, below=0.99)
    assert [d.weak for d in strict] == [3, 5]


def test_top_scripts_by_each_measure_and_filters(session: Session, world: World) -> None:
    top = analytics.top_scripts(session=session, actor=world.trainer)
    assert _keys(world, top) == ["s2", "s1", "s3", "s4"]  # the draft and the archived one never show
    assert [(s.top_hits, s.shown, s.useful, s.outdated) for s in top] == [
        (3, 4, 0, 1), (2, 3, 2, 0), (1, 2, 0, 2), (0, 0, 0, 0)]
    assert top[1].question == "s1 v2"  # the current version's text
    assert top[0].last_shown is not None and top[3].last_shown is None
    by_useful = analytics.top_scripts(session=session, actor=world.trainer, order="useful")
    assert _keys(world, by_useful) == ["s1", "s2", "s3", "s4"]
    by_outdated = analytics.top_scripts(session=session, actor=world.trainer, order="outdated", limit=2)
    assert _keys(world, by_outdated) == ["s3", "s2"]
    logistics = analytics.top_scripts(session=session, actor=world.trainer, category="物流配送")
    assert _keys(world, logistics) == ["s2", "s3"]
    fryer = analytics.top_scripts(session=session, actor=world.trainer, product="空气炸锅")
    assert _keys(world, fryer) == ["s2"]
    all_time = analytics.top_scripts(session=session, actor=world.trainer, days=None)
    assert [(s.top_hits, s.shown) for s in all_time if s.script_id == world.scripts["s4"]] == [(1, 1)]


def test_unused_and_outdated_scripts(session: Session, world: World) -> None:
    assert _keys(world, analytics.unused_scripts(session=session, actor=world.trainer)) == ["s4"]
    assert analytics.unused_scripts(session=session, actor=world.trainer, days=None) == []
    assert analytics.unused_scripts(session=session, actor=world.trainer, category="物流配送") == []
    flagged = analytics.outdated_scripts(session=session, actor=world.trainer)
    assert _keys(world, flagged) == ["s3", "s2"]  # s1's 过时 was on version 1, since revised
    assert [(s.outdated, s.comments) for s in flagged] == [(2, ["运费规则已改"]), (1, ["赠品活动结束了"])]
    fryer = analytics.outdated_scripts(session=session, actor=world.trainer, product="空气炸锅")
    assert [s.outdated for s in fryer] == [1]


def test_weak_queries_with_counts_agents_and_categories(session: Session, world: World) -> None:
    weak = analytics.weak_queries(session=session, actor=world.trainer)
    assert [(w.query, w.times, w.agents, round(w.best_similarity or 0, 6)) for w in weak] == [
        ("能开专票吗", 2, 2, 0.80), ("赠品怎么还没到", 1, 1, 0.85)]
    assert weak[0].category == "发票"
    assert weak[0].last_asked.replace(tzinfo=None) == pytest.approx(world.t2.replace(tzinfo=None),
                                                                    abs=timedelta(seconds=1))
    invoices = analytics.weak_queries(session=session, actor=world.trainer, category="发票")
    assert [w.query for w in invoices] == ["能开专票吗"]
    assert [w.query for w in analytics.weak_queries(session=session, actor=world.trainer, below=0.84)] == [
        "能开专票吗"]
    all_time = analytics.weak_queries(session=session, actor=world.trainer, days=None, limit=1)
    assert [(w.query, w.times, round(w.best_similarity or 0, 6)) for w in all_time] == [
        ("能开专票吗", 3, 0.80)]


def test_weak_queries_go_to_the_question_bank_once(session: Session, world: World) -> None:
    weak = analytics.weak_queries(session=session, actor=world.trainer)
    added = analytics.add_to_question_bank(session=session, actor=world.trainer, queries=weak)
    assert added == analytics.BankAddition(2, 0, [])
    rows = session.exec(select(MinedQuestion).order_by(MinedQuestion.frequency.desc())).all()  # type: ignore[attr-defined]
    assert [(q.question, q.frequency, q.category, q.in_question_bank) for q in rows] == [
        ("能开专票吗", 2, "发票", True), ("赠品怎么还没到", 1, weak[1].category, True)]
    again = analytics.add_to_question_bank(session=session, actor=world.trainer, queries=weak)
    assert again == analytics.BankAddition(0, 2, [])


def test_only_chosen_questions_go_to_the_bank_never_junk(session: Session, world: World) -> None:
    """Issue 17.11: the trainer picks the weak queries; markup and the like are refused by name."""
    for query in ("<script>alert(1)</script>", "今天天气怎么样", "https://example.com/x", "。。。"):
        session.add(LookupLog(user_id=world.agents[0].id, query=query, top_score=None, created_at=world.t1))
    session.commit()
    weak = {w.query: w for w in analytics.weak_queries(session=session, actor=world.trainer)}
    picks = ("<script>alert(1)</script>", "赠品怎么还没到", "https://example.com/x", "。。。")
    chosen = [weak[q] for q in picks]
    added = analytics.add_to_question_bank(session=session, actor=world.trainer, queries=chosen)
    assert added == analytics.BankAddition(1, 0, [
        ("<script>alert(1)</script>", "含网页代码"), ("https://example.com/x", "是网址"),
        ("。。。", "没有文字")])
    assert [q.question for q in session.exec(select(MinedQuestion)).all()] == ["赠品怎么还没到"]


def test_empty_database_gives_empty_results(session: Session) -> None:
    trainer = _user(session, "trainer", Role.TRAINER)
    assert all(query(session, trainer) == [] for query in analytics.QUERIES.values())


@pytest.mark.parametrize("name", sorted(analytics.QUERIES))
def test_only_staff_see_analytics(session: Session, world: World, name: str) -> None:
    query = analytics.QUERIES[name]
    for outsider in (world.agents[0], None):
        with pytest.raises(PermissionDenied):
            query(session, outsider)  # type: ignore[arg-type]
    assert query(session, world.admin) == query(session, world.trainer)


def test_only_staff_add_to_the_question_bank(session: Session, world: World) -> None:
    weak = analytics.weak_queries(session=session, actor=world.trainer)
    with pytest.raises(PermissionDenied):
        analytics.add_to_question_bank(session=session, actor=world.agents[1], queries=weak)
    assert session.exec(select(MinedQuestion)).all() == []


def _page(user: User) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user_id"] = user.id
    at.run()
    at.switch_page("pages/script_analytics.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_shows_charts_downloads_and_fills_the_question_bank(session: Session, world: World) -> None:
    at = _page(world.trainer)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 5  # per day, top, unused, outdated, weak
    titles = [json.loads(c.proto.spec)["title"] for c in charts]
    assert titles[0] == "每日话术查询" and titles[3] == "过时票数"
    assert len(at.get("download_button")) == 10  # CSV and XLSX of each chart
    assert not at.info
    tables = [t.value for t in at.dataframe]
    assert list(tables[0]["话术"]) == ["s2 v1", "s1 v2", "s3 v1", "s4 v1"]
    assert list(tables[-1]["查询"]) == ["能开专票吗", "赠品怎么还没到"]
    similarity = tables[-1]["最接近话术的相似度"].dropna()
    assert all(v == round(v, 2) for v in similarity)
    assert json.loads(at.dataframe[-1].proto.columns)["最接近话术的相似度"]["type_config"]["format"] == "%.2f"
    assert not any("余弦" in c.value for c in at.caption)
    for spec in (json.loads(c.proto.spec) for c in charts):
        counts = spec["encoding"]["y" if spec["title"] == "每日话术查询" else "x"]
        assert counts["axis"]["format"] == "d" and counts["axis"]["tickMinStep"] == 1, spec["title"]
        if spec["title"] != "每日话术查询":  # bar labels (scripts, queries) in full, wrapped
            assert spec["encoding"]["y"]["axis"]["labelLimit"] == 0, spec["title"]
    picker = at.multiselect(key="sa_bank_pick")
    assert picker.value == [] and at.button(key="sa_to_bank").disabled, "nothing is chosen for the trainer"
    picker.set_value(["能开专票吗", "赠品怎么还没到"]).run()
    at.button(key="sa_to_bank").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success][0].startswith("已加入问题库 2 条")
    assert at.multiselect(key="sa_bank_pick").value == []
    assert {q.question for q in session.exec(select(MinedQuestion)).all()} == {"能开专票吗", "赠品怎么还没到"}

    at.selectbox(key="sa_category").set_value("发票").run()
    assert [list(t.value.get("查询", [])) for t in at.dataframe][-1] == ["能开专票吗"]


def test_page_names_junk_and_adds_only_what_was_chosen(session: Session, world: World) -> None:
    session.add(LookupLog(user_id=world.agents[0].id, query="<script>alert(1)</script>", top_score=None,
                          created_at=world.t1))
    session.commit()
    at = _page(world.trainer)
    picker = at.multiselect(key="sa_bank_pick")
    assert "<script>alert(1)</script>（不像顾客问题：含网页代码，不会加入）" in picker.options
    picker.set_value(["<script>alert(1)</script>", "赠品怎么还没到"]).run()
    at.button(key="sa_to_bank").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["已加入问题库 1 条，可在「问题库」「组卷」中使用。"]
    assert [w.value.replace("\\", "") for w in at.warning] == [
        "没有加入：「<script>alert(1)</script>」含网页代码。这些不是顾客问题。"]
    assert [q.question for q in session.exec(select(MinedQuestion)).all()] == ["赠品怎么还没到"]


def test_page_on_an_empty_database_explains_instead_of_charting(session: Session) -> None:
    at = _page(_user(session, "trainer", Role.TRAINER))
    assert at.get("vega_lite_chart") == [] and at.get("download_button") == []
    assert len(at.info) == 5
    assert "还没有话术查询记录" in at.info[0].value


def test_agents_do_not_get_the_page(session: Session, world: World) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user_id"] = world.agents[0].id
    at.run()
    with pytest.raises(Exception, match="script_analytics"):
        at.switch_page("pages/script_analytics.py")
        at.run()


def test_script_bank_usage_tab_speaks_of_similarity_not_cosines(session: Session, world: World) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user_id"] = world.trainer.id
    at.run()
    at.switch_page("pages/script_bank.py")
    at.run()
    assert not at.exception, at.exception
    weak = next(t for t in at.dataframe if "最接近话术的相似度" in t.value.columns)
    assert list(weak.value["查询"]) == ["能开专票吗", "赠品怎么还没到"]
    assert all(v == round(v, 2) for v in weak.value["最接近话术的相似度"].dropna())
    assert json.loads(weak.proto.columns)["最接近话术的相似度"]["type_config"]["format"] == "%.2f"
    assert not any("余弦" in m.value for m in at.markdown)
