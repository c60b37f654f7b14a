"""Shared test set-up: the demo people, a paper published to the demo cohort, a candidate sitting it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from training.auth.accounts import create_user
from training.exams import answering, papers, submission
from training.exams import attempts as exams
from training.exams import delivery as paper_delivery
from training.models import Cohort, KnowledgeItem, MinedQuestion, Role, User, utcnow
from training.ops.demo.seed import seed_demo


@dataclass
class Demo:
    trainer: User
    agent: User
    newhire: User


def demo_people(session: Session) -> Demo:
    """Seed the demo data and return its trainer, agent and new hire."""
    seed_demo(session=session)

    def one(role: Role) -> User:
        return session.exec(select(User).where(User.role == role.value)).one()

    return Demo(one(Role.TRAINER), one(Role.AGENT), one(Role.NEW_HIRE))


def more_candidates(session: Session, admin: User, count: int) -> list[User]:
    """``count`` extra agents in the demo cohort (for papers answered by many people)."""
    cohort = session.exec(select(Cohort)).one()
    return [create_user(session=session, actor=admin, username=f"cand{i}", display_name=f"考生{i}",
                        role=Role.AGENT, password="candidate-pass-1", cohort_id=cohort.id)
            for i in range(count)]


def knowledge(session: Session, count: int) -> list[KnowledgeItem]:
    """The first ``count`` demo single-choice items."""
    return list(session.exec(select(KnowledgeItem).where(KnowledgeItem.kind == "single")
                             .order_by(col(KnowledgeItem.id))).all()[:count])


def publish(session: Session, trainer: User, title: str, *, scenario: bool, objective: int,
            prompt: str = "什么时候发货") -> int:
    """A paper published to the demo cohort; returns its id."""
    paper = papers.create_paper(session=session, actor=trainer, title=title, shuffle=False, pass_mark=0.5)
    mined = []
    if scenario:
        question = MinedQuestion(question=prompt, category="物流配送", in_question_bank=True,
                                 context=[{"role": "customer", "text": "在吗"}])
        session.add(question)
        session.commit()
        mined = [question.id or 0]
    papers.add_questions(session=session, actor=trainer, paper_id=paper.id or 0, mined_question_ids=mined,
                         knowledge_item_ids=[i.id or 0 for i in knowledge(session, objective)])
    cohort = session.exec(select(Cohort)).one()
    paper_delivery.publish_paper(session=session, actor=trainer, paper_id=paper.id or 0,
                                 cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
    return paper.id or 0


def sit(session: Session, user: User, paper_id: int, *, reply: str = "") -> int:
    """The user takes the paper: right objective answers, ``reply`` to scenarios; returns the attempt id."""
    entry = next(e for e in exams.my_exams(session=session, actor=user) if e.paper_id == paper_id)
    attempt = exams.start_attempt(session=session, actor=user, assignment_id=entry.assignment_id)
    view = exams.open_attempt(session=session, actor=user, attempt_id=attempt.id or 0)
    for question in view.questions:
        if question.kind == papers.SCENARIO:
            answering.save_answer(session=session, actor=user, attempt_id=attempt.id or 0,
                                  slot_id=question.slot_id, text=reply, elapsed_seconds=30)
        else:
            item = session.get(KnowledgeItem, question.knowledge_item_id)
            assert item is not None
            answering.save_answer(session=session, actor=user, attempt_id=attempt.id or 0,
                                  slot_id=question.slot_id, choice=item.answer, elapsed_seconds=10)
    submission.submit_attempt(session=session, actor=user, attempt_id=attempt.id or 0)
    return attempt.id or 0


def run_jobs() -> int:
    """Run every queued job now, in this process, as a ``huashu worker`` would; returns how many ran."""
    import threading

    import scripts_bank.jobs  # noqa: F401 - registers the handlers
    from training.core.db import get_engine
    from training.ops import worker

    return worker.work(get_engine(), stop=threading.Event(), once=True)
