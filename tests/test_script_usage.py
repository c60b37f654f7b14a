"""Using the bank: live lookup with the real encoder, filters, highlights, logging, feedback, reports."""

from __future__ import annotations

import pytest
from exam_world import Demo, demo_people, publish
from sqlmodel import Session, col, select

from scripts_bank import authoring, service, usage
from scripts_bank.service import ScriptError, ScriptView
from training.auth.permissions import PermissionDenied
from training.exams import attempts as exams
from training.exams import submission
from training.models import LookupLog, User
from training.nlp.embeddings import Embedder

pytestmark = pytest.mark.encoder
WEIGHT = 0.7


@pytest.fixture
def demo(session: Session) -> Demo:
    return demo_people(session)


def bank(session: Session, demo: Demo, needle: str) -> ScriptView:
    """The demo script whose question contains ``needle``."""
    return next(v for v in service.list_scripts(session=session, actor=demo.trainer) if needle in v.question)


def find(
    session: Session, user: User, query: str, embedder: Embedder, **filters: str,
) -> list[service.LookupHit]:
    return service.lookup_scripts(session=session, actor=user, query=query, embedder=embedder,
                                  semantic_weight=WEIGHT, k=3, **filters)


def test_paraphrase_finds_the_script_and_marks_shared_words(
    session: Session, demo: Demo, embedder: Embedder,
) -> None:
    target = bank(session, demo, "退款什么时候到账")
    query = "我退的款多久能到账啊"
    hits = find(session, demo.newhire, query, embedder)
    assert hits[0].script.id == target.id
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = hits[0]
    assert "".join(text for text, _ in top.question_segments) == target.question
    assert "".join(text for text, _ in top.answer_segments) == target.answer
    # only the words the agent typed light up (退款 is typed as 退的款, so it stays plain)
    assert top.question_segments == [("退款什么时候", False), ("到账", True)]
    assert [text for text, on in top.answer_segments if on] == ["到账"] * target.answer.count("到账")

    [log] = session.exec(select(LookupLog).where(LookupLog.user_id == demo.newhire.id)).all()
    assert (log.query, log.hits) == (query, [h.script.id for h in hits])
    assert log.top_score == pytest.approx(top.semantic)


def test_filters_restrict_the_hits(session: Session, demo: Demo, embedder: Embedder) -> None:
    query = "东西坏了怎么办"
    unfiltered = find(session, demo.agent, query, embedder)
    assert {h.script.category for h in unfiltered} != {"售后维修"}  # without a filter other categories show
    repairs = find(session, demo.agent, query, embedder, category="售后维修")
    assert [h.script.category for h in repairs] == ["售后维修"]
    tagged = find(session, demo.agent, query, embedder, tag="换货")
    assert [h.script.tags for h in tagged] == [["换货", "质量问题"]]

    fryer = authoring.create_script(session=session, actor=demo.trainer, question="空气炸锅坏了怎么保修",
                                    answer="亲，空气炸锅整机保修一年，请提供订单号{订单号}",
                                    category="售后维修", product="空气炸锅")
    by_product = find(session, demo.agent, query, embedder, product="空气炸锅")
    assert [h.script.id for h in by_product] == [fryer.id]
    assert find(session, demo.agent, query, embedder, product="不存在的商品") == []
    assert find(session, demo.agent, "   ", embedder) == []


def test_index_follows_approval_details_and_archive(session: Session, demo: Demo, embedder: Embedder) -> None:
    query = "可以用京东白条付款吗"
    before = find(session, demo.agent, query, embedder)
    draft = authoring.create_script(session=session, actor=demo.trainer, question="能用京东白条吗",
                                    answer="亲，本店暂不支持京东白条，可以用花呗分期哦", category="账户支付",
                                    approve=False)
    assert draft.id not in {h.script.id for h in find(session, demo.agent, query, embedder)}
    assert draft.id not in {h.script.id for h in find(session, demo.trainer, query, embedder)}

    authoring.approve_version(session=session, actor=demo.trainer, script_id=draft.id, version=1)
    hits = find(session, demo.agent, query, embedder)
    assert hits[0].script.id == draft.id and hits[0].script.id not in {h.script.id for h in before}

    authoring.update_details(session=session, actor=demo.trainer, script_id=draft.id, category="账户支付",
                             tags=["白条"])
    assert [h.script.id for h in find(session, demo.agent, query, embedder, tag="白条")] == [draft.id]

    authoring.revise_script(session=session, actor=demo.trainer, script_id=draft.id,
                            answer="亲，白条暂不支持，花呗3期免息哦")
    assert find(session, demo.agent, query, embedder)[0].script.answer == "亲，白条暂不支持，花呗3期免息哦"

    authoring.archive_script(session=session, actor=demo.trainer, script_id=draft.id)
    assert draft.id not in {h.script.id for h in find(session, demo.agent, query, embedder)}
    assert draft.id not in {v.id for v in service.list_scripts(session=session, actor=demo.trainer,
                                                                include_drafts=True)}


def test_a_candidate_sitting_an_exam_cannot_read_scripts(
    session: Session, demo: Demo, embedder: Embedder,
) -> None:
    paper_id = publish(session, demo.trainer, "上岗考试", scenario=True, objective=1)
    entry = next(e for e in exams.my_exams(session=session, actor=demo.agent) if e.paper_id == paper_id)
    attempt = exams.start_attempt(session=session, actor=demo.agent, assignment_id=entry.assignment_id)
    with pytest.raises(PermissionDenied, match="考试进行中"):
        find(session, demo.agent, "什么时候发货", embedder)
    with pytest.raises(PermissionDenied, match="考试进行中"):
        service.list_scripts(session=session, actor=demo.agent)
    assert session.exec(select(LookupLog)).all() == []
    assert find(session, demo.newhire, "什么时候发货", embedder)  # others are not affected
    assert find(session, demo.trainer, "什么时候发货", embedder)

    submission.submit_attempt(session=session, actor=demo.agent, attempt_id=attempt.id or 0)
    assert find(session, demo.agent, "什么时候发货", embedder)[0].script.question == "什么时候发货"


def test_feedback_once_per_user_and_version(session: Session, demo: Demo) -> None:
    script = bank(session, demo, "包邮")
    give = usage.give_feedback
    assert give(session=session, actor=demo.agent, script_id=script.id, kind="outdated", comment="运费变了")
    assert not give(session=session, actor=demo.agent, script_id=script.id, kind="outdated")
    assert give(session=session, actor=demo.agent, script_id=script.id, kind="useful")
    assert give(session=session, actor=demo.newhire, script_id=script.id, kind="outdated")
    with pytest.raises(ScriptError, match="未知的反馈"):
        give(session=session, actor=demo.agent, script_id=script.id, kind="赞")

    [row] = [u for u in usage.usage_report(session=session, actor=demo.trainer) if u.script.id == script.id]
    assert (row.useful, row.outdated) == (1, 2)

    authoring.revise_script(session=session, actor=demo.trainer, script_id=script.id,
                            answer="亲，全店包邮，偏远地区补运费20元")
    [row] = [u for u in usage.usage_report(session=session, actor=demo.trainer) if u.script.id == script.id]
    assert (row.script.version, row.useful, row.outdated) == (2, 0, 0)  # votes were on version 1
    assert give(session=session, actor=demo.agent, script_id=script.id, kind="outdated")

    authoring.archive_script(session=session, actor=demo.trainer, script_id=script.id)
    with pytest.raises(ScriptError, match="已停用"):
        give(session=session, actor=demo.newhire, script_id=script.id, kind="useful")


def test_usage_report_and_weak_lookups(session: Session, demo: Demo, embedder: Embedder) -> None:
    with pytest.raises(PermissionDenied):
        usage.usage_report(session=session, actor=demo.agent)
    with pytest.raises(PermissionDenied):
        usage.weak_lookups(session=session, actor=demo.agent, below=0.5)
    invoice, shipping = bank(session, demo, "发票"), bank(session, demo, "什么时候发货")
    firsts = [find(session, demo.agent, q, embedder)[0] for q in ("能开发票吗亲", "发票可以开公司抬头吗")]
    firsts.append(find(session, demo.newhire, "啥时候能发货", embedder)[0])
    assert [h.script.id for h in firsts] == [invoice.id, invoice.id, shipping.id]
    unrelated = find(session, demo.agent, "你们老板是男的还是女的", embedder)[0]
    find(session, demo.agent, "包邮吗", embedder, product="不存在的商品")  # no hit at all

    report = usage.usage_report(session=session, actor=demo.trainer)
    assert len(report) == 16
    assert [(u.script.id, u.top_hits) for u in report[:2]] == [(invoice.id, 2), (shipping.id, 1)]
    assert all(a.top_hits >= b.top_hits for a, b in zip(report, report[1:], strict=False))
    assert report[0].shown >= 2 and report[0].last_shown is not None
    never = [u for u in report if u.shown == 0]
    assert never and all(u.last_shown is None for u in never)

    # the off-topic question matches worse than every on-topic paraphrase
    assert unrelated.semantic < min(h.semantic for h in firsts)
    threshold = (unrelated.semantic + min(h.semantic for h in firsts)) / 2
    weak = usage.weak_lookups(session=session, actor=demo.trainer, below=threshold)
    assert {(w.query, w.times) for w in weak} == {("你们老板是男的还是女的", 1), ("包邮吗", 1)}
    [no_hit] = [w for w in weak if w.query == "包邮吗"]
    assert no_hit.best_similarity is None
    # ``below`` only judges lookups logged before the relevance floor; these were judged by it
    none_above = usage.weak_lookups(session=session, actor=demo.trainer, below=-1.0)
    assert {w.query for w in none_above} == {"你们老板是男的还是女的", "包邮吗"}
    logs = session.exec(select(LookupLog).order_by(col(LookupLog.id))).all()
    assert len(logs) == 5
