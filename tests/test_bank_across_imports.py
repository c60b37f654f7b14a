"""One question bank across imports: a new import joins the clusters it repeats (issue 17, point 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exam_world import run_jobs
from sqlmodel import Session, select

from scripts_bank.authoring import import_scripts
from scripts_bank.io import ScriptRow
from training.chats.importer import import_chat_log
from training.mining.duplicates import merge_candidates
from training.mining.question_bank import mark_coverage, merge_clusters, store_clusters, update_cluster
from training.mining.service import MiningError, mine_import
from training.mining.trends import frequencies_by_import, import_trend
from training.models import ChatImport, MinedQuestion, QuestionFrequency, Role, User
from training.nlp.embeddings import Embedder

# Enough JD sessions for a few hundred questions, few enough for the encoder to take seconds.
JD_SESSIONS = 60


@pytest.fixture
def trainer(session: Session) -> User:
    user = User(username="trainer", display_name="培训师", role=Role.TRAINER.value, password_hash="x")
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def first_sessions(raw: bytes, count: int) -> bytes:
    """The lines of the first ``count`` sessions of a JD TSV export."""
    keep: list[str] = []
    seen: set[str] = set()
    for line in raw.decode("utf-8").splitlines():
        key = line.split("\t", 1)[0]
        if key not in seen:
            if len(seen) == count:
                break
            seen.add(key)
        keep.append(line)
    return ("\n".join(keep) + "\n").encode("utf-8")


def renamed(raw: bytes, prefix: str) -> bytes:
    """The same JD TSV with every session id prefixed: next month's export of the same sessions."""
    return ("\n".join(prefix + line for line in raw.decode("utf-8").splitlines()) + "\n").encode("utf-8")


def jsonl(month: str, *sessions: list[str]) -> bytes:
    """A JSONL chat log: each session a list of customer messages, each answered by the agent."""
    rows = []
    for n, texts in enumerate(sessions):
        for text in texts:
            rows.append({"session": f"{month}-{n}", "role": "customer", "text": text})
            rows.append({"session": f"{month}-{n}", "role": "agent", "text": f"答复：{text}"})
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()


def import_and_mine(session: Session, trainer: User, embedder: Embedder, raw: bytes, name: str) -> int:
    import_id = import_chat_log(session=session, actor=trainer, raw=raw, file_name=name).import_id
    mine_import(session=session, actor=trainer, import_id=import_id, embedder=embedder)
    return import_id


def bank(session: Session) -> dict[int, MinedQuestion]:
    return {q.id or 0: q for q in session.exec(select(MinedQuestion)).all()}


@pytest.mark.encoder
def test_reimporting_the_jd_sample_with_new_session_ids_doubles_frequencies_not_clusters(
    session: Session, trainer: User, embedder: Embedder, shared_data: Path,
) -> None:
    raw = first_sessions((shared_data / "jddc_chat_sample" / "chat_0.1per.txt").read_bytes(), JD_SESSIONS)
    first = import_and_mine(session, trainer, embedder, raw, "十一月.tsv")
    before = {i: (q.frequency, q.question) for i, q in bank(session).items()}
    assert len(before) > 50
    # The trainer curates: the most asked question goes into the bank and gets an approved script.
    top = max(bank(session).values(), key=lambda q: q.frequency)
    update_cluster(session=session, actor=trainer, cluster_id=top.id or 0, in_bank=True)
    script = ScriptRow(top.question, "亲，这就为您处理", top.category)
    import_scripts(session=session, actor=trainer, rows=[script])
    mark_coverage(session=session, embedder=embedder)
    covered = {i for i, q in bank(session).items() if q.covered_by_script_id}
    assert top.id in covered

    second = import_and_mine(session, trainer, embedder, renamed(raw, "next-"), "十二月.tsv")
    after = bank(session)
    print(f"\nJD sample, {JD_SESSIONS} sessions: {len(before)} clusters after one import, "
          f"{len(after)} after two")
    assert len(after) == len(before)
    assert {i: (q.frequency, q.question) for i, q in after.items()} == \
        {i: (2 * f, text) for i, (f, text) in before.items()}
    assert after[top.id or 0].in_question_bank
    assert {i for i, q in after.items() if q.covered_by_script_id} == covered
    per_import = frequencies_by_import(session=session, actor=trainer)
    assert all(per_import[i] == {first: f, second: f} for i, (f, _) in before.items())
    counts = [session.get(ChatImport, i).question_count for i in (first, second)]  # type: ignore[union-attr]
    assert counts[0] == counts[1] == sum(f for f, _ in before.values())


@pytest.mark.encoder
def test_paraphrases_join_the_bank_new_questions_make_clusters_and_the_trend_shows_both(
    session: Session, trainer: User, embedder: Embedder,
) -> None:
    first = import_and_mine(session, trainer, embedder, jsonl(
        "11", ["我的地址填错了能改吗"], ["地址填错了能改吗"], ["退款什么时候到账"]), "十一月.jsonl")
    address = next(q for q in bank(session).values() if "地址" in q.question)
    assert address.frequency == 2 and len(bank(session)) == 2
    december = jsonl("12", ["地址写错了可以修改吗"], ["收货地址填错了可以改吗"], ["地址填错了能改吗"],
                     ["能开发票吗"])
    second = import_and_mine(session, trainer, embedder, december, "十二月.jsonl")
    after = bank(session)
    assert len(after) == 3, [q.question for q in after.values()]  # only the invoice question is new
    assert after[address.id or 0].frequency == 5
    assert "地址写错了可以修改吗" in (after[address.id or 0].member_texts or [])
    invoice = next(q for q in after.values() if "发票" in q.question)
    assert invoice.import_id == second and invoice.frequency == 1
    trend = import_trend(session=session, actor=trainer)
    assert trend.latest is not None and trend.latest.id == second
    assert trend.previous is not None and trend.previous.id == first
    assert trend.latest_counts[address.id or 0] == 3 and trend.previous_counts[address.id or 0] == 2
    assert trend.change(address.id or 0) == 1 and trend.change(invoice.id or 0) == 1
    with pytest.raises(MiningError, match="已经挖掘过"):
        mine_import(session=session, actor=trainer, import_id=second, embedder=embedder)


@pytest.mark.encoder
def test_near_duplicate_clusters_are_offered_for_merging(
    session: Session, trainer: User, embedder: Embedder,
) -> None:
    from training.mining.mine import QuestionCluster

    rows = store_clusters(session=session, actor=trainer, import_id=None, clusters=[
        QuestionCluster("今天下单啥时候能发", 41, "物流配送"), QuestionCluster("什么时候发货", 6, "物流配送"),
        QuestionCluster("有优惠券吗", 5, "价格优惠"), QuestionCluster("有没有券啊", 2, "价格优惠"),
        QuestionCluster("能开发票吗", 3, "发票"), QuestionCluster("能退款吗", 3, "退换退款"),
    ])
    ids = {r.question: r.id for r in rows}
    pairs = merge_candidates(session=session, actor=trainer, embedder=embedder)
    found = {(p.first.question, p.second.question) for p in pairs}
    assert ("今天下单啥时候能发", "什么时候发货") in found and ("有优惠券吗", "有没有券啊") in found
    assert not any("发票" in a + b and "退款" in a + b for a, b in found)
    assert all(0 < p.similarity <= 1 and p.first.frequency >= p.second.frequency for p in pairs)
    update_cluster(session=session, actor=trainer, cluster_id=ids["有没有券啊"] or 0, hidden=True)
    found = {(p.first.question, p.second.question)
             for p in merge_candidates(session=session, actor=trainer, embedder=embedder)}
    assert ("有优惠券吗", "有没有券啊") not in found  # hidden questions are not offered


def test_merging_adds_up_the_per_import_frequencies_and_wordings(session: Session, trainer: User) -> None:
    chat_import = ChatImport(file_name="a.tsv", file_sha256="a" * 64, file_format="jddc")
    session.add(chat_import)
    session.commit()
    one = MinedQuestion(import_id=chat_import.id, question="什么时候发货", frequency=6,
                        member_texts=["几号发货"])
    two = MinedQuestion(import_id=chat_import.id, question="今天下单啥时候能发", frequency=41)
    session.add_all([one, two])
    session.commit()
    session.add_all([QuestionFrequency(question_id=one.id or 0, import_id=chat_import.id or 0, frequency=6),
                     QuestionFrequency(question_id=two.id or 0, import_id=chat_import.id or 0, frequency=41)])
    session.commit()
    kept = merge_clusters(session=session, actor=trainer, cluster_ids=[one.id or 0, two.id or 0])
    assert kept.id == two.id and kept.frequency == 47
    assert {"什么时候发货", "几号发货"} <= set(kept.member_texts or [])
    assert frequencies_by_import(session=session, actor=trainer) == {two.id: {chat_import.id: 47}}


@pytest.mark.encoder
def test_question_bank_page_offers_near_duplicates_and_merges_only_after_asking(
    db_url: str, real_encoder: object,
) -> None:
    from streamlit.testing.v1 import AppTest

    from training.core.db import get_engine
    from training.mining.mine import QuestionCluster

    with Session(get_engine(), expire_on_commit=False) as session:
        user = User(username="trainer", display_name="培训师", role=Role.TRAINER.value, password_hash="x")
        session.add(user)
        session.commit()
        store_clusters(session=session, actor=user, import_id=None, clusters=[
            QuestionCluster("今天下单啥时候能发", 41, "物流配送"),
            QuestionCluster("什么时候发货", 6, "物流配送"), QuestionCluster("能开发票吗", 3, "发票")])
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
    at.session_state["user_id"] = user.id
    at.run()
    at.switch_page("pages/question_bank.py")
    at.run()
    assert not at.exception
    assert "最近一次导入" in at.dataframe[0].value.columns and "较上一次" in at.dataframe[0].value.columns
    at.button(key="qb_find_duplicates").click()
    at.run()
    pair = [m.value for m in at.markdown if "↔" in m.value]
    assert len(pair) == 1 and "今天下单啥时候能发" in pair[0] and "什么时候发货" in pair[0], pair
    at.button(key="qb_pair_0").click()
    at.run()
    with Session(get_engine()) as session:
        assert len(session.exec(select(MinedQuestion)).all()) == 3  # nothing merged before confirming
    at.button(key="qb_merge_confirm").click()
    at.run()
    assert not at.exception
    with Session(get_engine()) as session:
        rows = session.exec(select(MinedQuestion)).all()
        kept = sorted((q.question, q.frequency) for q in rows)
        assert kept == [("今天下单啥时候能发", 47), ("能开发票吗", 3)]
    assert not [m.value for m in at.markdown if "↔" in m.value]  # the merged pair is no longer offered


@pytest.mark.encoder
def test_chat_import_page_says_what_joined_the_bank(db_url: str, real_encoder: object) -> None:
    from streamlit.testing.v1 import AppTest

    from training.core.db import get_engine

    with Session(get_engine(), expire_on_commit=False) as session:
        user = User(username="trainer", display_name="培训师", role=Role.TRAINER.value, password_hash="x")
        session.add(user)
        session.commit()
    demo = (Path(__file__).resolve().parents[1] / "data" / "demo" / "chatlog.tsv").read_bytes()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
    at.session_state["user_id"] = user.id
    at.run()
    at.switch_page("pages/chat_import.py")
    at.run()
    messages = []
    for name, raw in (("十一月.tsv", demo), ("十二月.tsv", renamed(demo, "m12-"))):
        at.file_uploader(key="ci_upload").set_value((name, raw, "text/plain"))
        at.run()
        at.button(key="ci_import").click()
        at.run()
        at.button(key="ci_mine").click()
        at.run()
        assert run_jobs() == 1
        at.run()
        assert not at.exception
        messages.append(next(s.value for s in at.success if s.value.startswith("挖掘出 ")))
    with Session(get_engine()) as session:
        clusters = len(session.exec(select(MinedQuestion)).all())
    assert messages[0] == f"挖掘出 106 次提问：{clusters} 个是新问题，已放入「问题库」。"
    assert messages[1] == (f"挖掘出 106 次提问：{clusters} 个是问题库中已有的问题（频次已累加），"
                           "0 个是新问题，已放入「问题库」。")
