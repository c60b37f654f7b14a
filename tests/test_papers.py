"""Question bank curation and the paper builder: quotas, random draws, preview, publish, export."""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pytest
from sqlmodel import Session, select

from training.auth.permissions import PermissionDenied
from training.exams import delivery, papers
from training.mining import question_bank
from training.mining.mine import QuestionCluster as Cluster
from training.models import Cohort, ExamAssignment, ExamItem, MinedQuestion, Role, User, utcnow
from training.ops.demo.seed import seed_demo

CLUSTERS = [
    Cluster("什么时候发货", 37, "物流配送", ["啥时候能发货", "几号发货"],
            [{"role": "customer", "text": "在吗"}], ["亲，48小时内发货哦"]),
    Cluster("快递到哪了", 20, "物流配送", ["我的快递到哪了"]),
    Cluster("能开发票吗", 12, "发票", ["可以开票吗"]),
    Cluster("怎么退货", 9, "退换货", ["想退货"]),
    Cluster("=HYPERLINK(\"http://evil\")", 2, "其他"),
    Cluster("退款多久到账", 8, "退款", ["钱什么时候退回来"]),
]


@pytest.fixture
def trainer(session: Session) -> User:
    seed_demo(session=session)
    return session.exec(select(User).where(User.role == Role.TRAINER.value)).one()


@pytest.fixture
def bank(trainer: User, session: Session) -> list[MinedQuestion]:
    rows = question_bank.store_clusters(session=session, actor=trainer, import_id=None,
                                        clusters=CLUSTERS)
    for row in rows:
        question_bank.update_cluster(session=session, actor=trainer, cluster_id=row.id or 0,
                                     in_bank=True)
    return rows


def test_filters_merge_and_split(trainer: User, session: Session, bank: list[MinedQuestion]) -> None:
    logistics = question_bank.list_clusters(session=session, actor=trainer, category="物流配送")
    assert [c.question for c in logistics] == ["什么时候发货", "快递到哪了"]
    merged = question_bank.merge_clusters(session=session, actor=trainer,
                                          cluster_ids=[c.id or 0 for c in logistics])
    assert merged.frequency == 57 and "快递到哪了" in (merged.examples or [])
    assert len(question_bank.list_clusters(session=session, actor=trainer, category="物流配送")) == 1
    new = question_bank.split_cluster(session=session, actor=trainer, cluster_id=merged.id or 0,
                                      examples=["快递到哪了", "我的快递到哪了"])
    assert new.frequency == 2 and new.question == "快递到哪了"
    again = session.get(MinedQuestion, merged.id)
    assert again is not None and again.frequency == 55
    question_bank.update_cluster(session=session, actor=trainer, cluster_id=new.id or 0,
                                 hidden=True)
    assert new.id not in {c.id for c in question_bank.list_clusters(session=session, actor=trainer)}
    with pytest.raises(question_bank.BankError):
        question_bank.merge_clusters(session=session, actor=trainer, cluster_ids=[merged.id or 0])


def test_quota_prefers_frequent_uncovered_questions(
    trainer: User, session: Session, bank: list[MinedQuestion],
) -> None:
    bank[0].covered_by_script_id = 1
    session.add(bank[0])
    session.commit()
    paper = papers.create_paper(session=session, actor=trainer, title="物流上岗考", shuffle=False)
    added = papers.add_by_quota(session=session, actor=trainer, paper_id=paper.id or 0,
                                quotas={"物流配送": 1, "发票": 5})
    assert added == {"物流配送": 1, "发票": 1}
    prompts = [i.prompt for i in papers.paper_items(session=session, actor=trainer,
                                                    paper_id=paper.id or 0)]
    assert prompts == ["快递到哪了", "能开发票吗"]


def test_random_draws_differ_per_candidate_but_are_stable(
    trainer: User, session: Session, bank: list[MinedQuestion],
) -> None:
    paper = papers.create_paper(session=session, actor=trainer, title="随机卷")
    pid = paper.id or 0
    papers.add_questions(session=session, actor=trainer, paper_id=pid,
                         mined_question_ids=[bank[0].id or 0])
    papers.add_random_slots(session=session, actor=trainer, paper_id=pid, kind="scenario",
                            count=3)
    papers.add_random_slots(session=session, actor=trainer, paper_id=pid, kind="objective",
                            count=3, category="质保")
    draws = {seed: delivery.preview_paper(session=session, actor=trainer, paper_id=pid, seed=seed)
             for seed in range(12)}
    for questions in draws.values():
        assert len(questions) == 7
        assert [q.position for q in questions] == list(range(1, 8))
        scenario_ids = [q.mined_question_id for q in questions if q.kind == "scenario"]
        assert len(set(scenario_ids)) == 4 and bank[0].id in scenario_ids
        assert all(q.options for q in questions if q.kind == "objective")
    assert delivery.preview_paper(session=session, actor=trainer, paper_id=pid, seed=3) == draws[3]
    assert len({tuple(q.prompt for q in qs) for qs in draws.values()}) > 1
    seed_a, seed_b = delivery.candidate_seed(pid, 1), delivery.candidate_seed(pid, 2)
    assert seed_a != seed_b and seed_a == delivery.candidate_seed(pid, 1)


def test_publish_requires_enough_questions_and_freezes_the_paper(
    trainer: User, session: Session, bank: list[MinedQuestion],
) -> None:
    cohort = session.exec(select(Cohort)).first()
    assert cohort is not None
    paper = papers.create_paper(session=session, actor=trainer, title="发票专项")
    pid = paper.id or 0
    now = utcnow()
    with pytest.raises(papers.PaperError, match="还没有题目"):
        delivery.publish_paper(session=session, actor=trainer, paper_id=pid,
                               cohort_ids=[cohort.id or 0], opens_at=now, closes_at=None)
    papers.add_random_slots(session=session, actor=trainer, paper_id=pid, kind="scenario",
                            count=2, category="发票")
    with pytest.raises(papers.PaperError, match="不够抽取"):
        delivery.publish_paper(session=session, actor=trainer, paper_id=pid,
                               cohort_ids=[cohort.id or 0], opens_at=now, closes_at=None)
    slot = papers.paper_items(session=session, actor=trainer, paper_id=pid)[-1]
    papers.remove_item(session=session, actor=trainer, paper_id=pid, item_id=slot.id or 0)
    with pytest.raises(papers.PaperError, match="结束时间"):
        delivery.publish_paper(session=session, actor=trainer, paper_id=pid,
                               cohort_ids=[cohort.id or 0], opens_at=now, closes_at=now)
    delivery.publish_paper(session=session, actor=trainer, paper_id=pid,
                           cohort_ids=[cohort.id or 0], opens_at=now,
                           closes_at=now + timedelta(days=7))
    assert session.exec(select(ExamAssignment).where(ExamAssignment.paper_id == pid)).one()
    with pytest.raises(papers.PaperError, match="已发布"):
        papers.add_random_slots(session=session, actor=trainer, paper_id=pid, kind="scenario",
                                count=1)


def test_export_is_formula_safe(trainer: User, session: Session, bank: list[MinedQuestion]) -> None:
    paper = papers.create_paper(session=session, actor=trainer, title="导出")
    papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0,
                         mined_question_ids=[q.id or 0 for q in bank], knowledge_item_ids=[1])
    raw = delivery.export_paper_xlsx(session=session, actor=trainer, paper_id=paper.id or 0)
    frame = pd.read_excel(io.BytesIO(raw), sheet_name="试卷", dtype=str)
    assert len(frame) == len(bank) + 1
    assert "'=HYPERLINK(\"http://evil\")" in set(frame["题目"])
    assert not any(str(v).startswith("=") for v in frame.to_numpy().ravel())
    about = pd.read_excel(io.BytesIO(raw), sheet_name="说明", dtype=str)
    assert about["状态"].tolist() == ["草稿"]  # the status in Chinese, never the stored code
    cohort = session.exec(select(Cohort)).first()
    assert cohort is not None
    delivery.publish_paper(session=session, actor=trainer, paper_id=paper.id or 0,
                           cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
    raw = delivery.export_paper_xlsx(session=session, actor=trainer, paper_id=paper.id or 0)
    about = pd.read_excel(io.BytesIO(raw), sheet_name="说明", dtype=str)
    assert about["状态"].tolist() == ["已发布"] and "published" not in about.to_numpy().ravel()


@pytest.mark.parametrize("role", [Role.AGENT, Role.NEW_HIRE])
def test_candidates_cannot_build_or_preview(session: Session, trainer: User, role: Role) -> None:
    actor = session.exec(select(User).where(User.role == role.value)).one()
    with pytest.raises(PermissionDenied):
        papers.create_paper(session=session, actor=actor, title="x")
    paper = papers.create_paper(session=session, actor=trainer, title="y")
    with pytest.raises(PermissionDenied):
        delivery.preview_paper(session=session, actor=actor, paper_id=paper.id or 0)
    with pytest.raises(PermissionDenied):
        papers.paper_items(session=session, actor=actor, paper_id=paper.id or 0)
    assert session.exec(select(ExamItem)).first() is None
