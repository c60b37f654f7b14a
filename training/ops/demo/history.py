"""Demo history: four months of a fictional team's exams, reviews and certificates (deterministic).

Two cohorts of learners joined 2 to 17 weeks before ``now``; each sat the demo papers on a fixed
schedule of days after joining. Right answers, reply quality, typing speed and the two trainers'
review scores follow a seeded random draw around each learner's ability, improving week by
week, so every figure of the 训练看板 (pass rates, item analysis, reviewer agreement,
certificates and their expiry, ramp-up, uncovered questions) has data. Rows are written
directly: history cannot go through services that stamp the current time. One sitting is
simulated in ``training.ops.demo.sittings``.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from training.analytics.learner import PRACTICE_ACTION
from training.auth import audit
from training.auth.accounts import hash_password
from training.certification.certificates import certificate_number
from training.exams.feedback import mistakes
from training.exams.papers import OBJECTIVE, SCENARIO
from training.models import (
    Attempt,
    AuditLog,
    Certificate,
    Certification,
    CertificationPaper,
    Cohort,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    KnowledgeItem,
    MinedQuestion,
    Role,
    Script,
    User,
    utcnow,
)
from training.ops.demo.constants import DEMO_COHORT, DEMO_DIR
from training.ops.demo.sittings import World, sit

HISTORY_COHORT = "早期新人班"
#: Password of the extra demo learners (they can log in to see their own progress).
LEARNER_PASSWORD = "learner-demo-2026"
#: (username, display name, role, early cohort, weeks since joining, ability); the two demo
#: learners "agent" and "newhire" already exist and only get a joining date. "newhire" joined
#: two weeks ago: the 上岗综合考试 (day 16) is still ahead, so the README's account meets the gate.
LEARNERS = (
    ("demo_chen", "陈晓雨", Role.AGENT, True, 17, 0.9),
    ("demo_liu", "刘佳", Role.AGENT, True, 16, 0.7),
    ("demo_zhao", "赵敏", Role.AGENT, True, 15, 0.5),
    ("demo_sun", "孙浩", Role.AGENT, True, 14, 0.8),
    ("agent", "", Role.AGENT, True, 13, 0.75),
    ("newhire", "", Role.NEW_HIRE, False, 2, 0.75),
    ("demo_zhou", "周婷", Role.NEW_HIRE, False, 4, 0.85),
    ("demo_wu", "吴磊", Role.NEW_HIRE, False, 3, 0.45),
    ("demo_zheng", "郑洁", Role.NEW_HIRE, False, 2, 0.6),
)
#: Bank questions from exam_answers.jsonl: (category, frequency, script question covering it or "").
BANK = (("物流配送", 41, "什么时候发货"), ("价格优惠", 27, "买了就降价了能退差价吗"), ("退换货", 19, ""),
        ("物流配送", 12, ""), ("售后维修", 15, "坏了能修吗，保修多久"), ("发票", 9, ""))
#: Further mined clusters: (question, category, frequency, covering script question or "").
CLUSTERS = (
    ("能发顺丰吗", "物流配送", 33, "发什么快递，能发顺丰吗"), ("有优惠券吗", "价格优惠", 29, "有优惠券吗"),
    ("可以指定送货时间吗", "物流配送", 23, ""), ("滤网多久换一次，在哪买", "售前咨询", 21, ""),
    ("以旧换新怎么参加", "价格优惠", 15, ""), ("赠品没收到怎么办", "其他", 14, ""),
    ("说明书丢了怎么办", "售后维修", 11, ""), ("企业采购能便宜点吗", "价格优惠", 8, ""),
    ("能送到村里吗", "物流配送", 7, ""), ("账号被冻结了还能付款吗", "账户支付", 5, ""),
)
#: (title, day after joining, bank question indexes, knowledge item indexes, certification).
PAPERS = (
    ("发货与物流基础", 2, (0, 3), (2, 3, 4, 16, 17), ""),
    ("价格与退换货", 9, (1, 2), (5, 6, 13, 14, 18), ""),
    ("上岗综合考试", 16, (0, 1, 4), (0, 1, 7, 9, 10, 19), "上岗认证"),
    ("售后维修专项", 37, (4,), (0, 1, 8, 15, 21), "售后专项认证"),
    ("月度复训", 65, (5, 2), (11, 12, 20), ""),
    ("季度复训", 86, (3, 5), (2, 5, 10, 19), ""),
)
#: Programmes: name → (valid days, required for duty). A failed 上岗 exam is retaken a week later.
PROGRAMMES = {"上岗认证": (120, True), "售后专项认证": (60, False)}
RETAKE_AFTER_DAYS = 7


def _learners(session: Session, now: datetime) -> list[tuple[User, float]]:
    cohorts = {True: Cohort(name=HISTORY_COHORT, description="演示用：已上岗的老员工"),
               False: session.exec(select(Cohort).where(Cohort.name == DEMO_COHORT)).one()}
    session.add(cohorts[True])
    session.flush()
    people = []
    for username, name, role, early, weeks, ability in LEARNERS:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            user = User(username=username, display_name=name, role=role.value,
                        password_hash=hash_password(LEARNER_PASSWORD))
        user.cohort_id, user.joined_at = cohorts[early].id, now - timedelta(weeks=weeks)
        session.add(user)
        people.append((user, ability))
    session.flush()
    return people


def _questions(session: Session, demo_dir: Path) -> tuple[list[MinedQuestion], dict[int, list[str]]]:
    scripts = {s.question: s.id for s in session.exec(select(Script)).all()}
    bank, replies = [], {}
    entries = [json.loads(line) for line in (demo_dir / "exam_answers.jsonl").read_text(encoding="utf-8")
               .splitlines() if line.strip()]
    for entry, (category, frequency, script) in zip(entries, BANK, strict=True):
        question = MinedQuestion(question=entry["question"], category=category, frequency=frequency,
                                 examples=[entry["question"]], context=entry["context"], agent_replies=[],
                                 in_question_bank=True, covered_by_script_id=scripts.get(script))
        session.add(question)
        bank.append(question)
        # best first, as a trainer ranked them in the file (by length, an off-topic coupon reply
        # came second and the history's reviews rated it 80 %)
        replies[len(bank) - 1] = [a["text"] for a in sorted(entry["answers"], key=lambda a: a["rank"])]
    for text, category, frequency, script in CLUSTERS:
        session.add(MinedQuestion(question=text, category=category, frequency=frequency, examples=[text],
                                  context=[], agent_replies=[], covered_by_script_id=scripts.get(script)))
    session.flush()
    return bank, replies


def seed_demo_history(
    *, session: Session, demo_dir: Path = DEMO_DIR, now: datetime | None = None
) -> dict[str, int]:
    """Add the demo team's history once (after ``seed_demo``); returns counts of what was added."""
    if session.exec(select(Cohort).where(Cohort.name == HISTORY_COHORT)).first() is not None:
        return {}
    now = now or utcnow()
    trainer = session.exec(select(User).where(User.username == "trainer")).one()
    second = session.exec(select(User).where(User.username == "demo_admin")).one()
    people = _learners(session, now)
    bank, replies = _questions(session, demo_dir)
    items = list(session.exec(select(KnowledgeItem).order_by(col(KnowledgeItem.id))).all())
    world = World(random.Random(20261123), bank, replies, items, (trainer, second))
    first_day = now - timedelta(weeks=max(w for *_, w, _ in LEARNERS))
    programmes = {name: Certification(name=name, valid_days=days, required_for_duty=duty, pass_mark=0.6,
                                      product_line="青禾小家电", description="演示认证项目")
                  for name, (days, duty) in PROGRAMMES.items()}
    session.add_all(programmes.values())
    papers = [_paper(session, world, spec, programmes, trainer, first_day) for spec in PAPERS]
    counts = {"attempts": 0, "certificates": 0}
    for user, ability in people:
        for (paper, assignments), (_, day, _, _, programme) in zip(papers, PAPERS, strict=True):
            assignment = next(a for a in assignments if a.cohort_id == user.cohort_id)
            retake = (day + RETAKE_AFTER_DAYS,) if programme == "上岗认证" else ()
            for number, offset in enumerate((day, *retake)):
                submitted = user.joined_at + timedelta(days=offset, hours=2 + world.rng.randint(0, 6))
                if submitted + timedelta(days=2) > now:
                    break
                attempt = sit(session=session, world=world, paper=paper, assignment=assignment, user=user,
                              ability=ability, number=number, offset=offset, submitted=submitted)
                counts["attempts"] += 1
                if programme and (attempt.score or 0.0) >= programmes[programme].pass_mark:
                    _certify(session, programmes[programme], user, attempt)
                    counts["certificates"] += 1
                    break
    _flag_one(session, programmes["上岗认证"], now)
    session.commit()
    counts["practice"] = _practice(session, [u for u, _ in people if u.username in ("agent", "newhire")], now)
    counts["reviews"] = world.reviews
    audit.record(session=session, actor=None, action="demo.seed_history", target=str(demo_dir.name),
                 detail=counts)
    session.commit()
    return counts


def _paper(session: Session, world: World, spec: tuple[str, int, tuple[int, ...], tuple[int, ...], str],
           programmes: dict[str, Certification], trainer: User,
           first_day: datetime) -> tuple[ExamPaper, list[ExamAssignment]]:
    """A published paper assigned to both cohorts (and required by its programme, if any)."""
    title, _, scenario, objective, programme = spec
    paper = ExamPaper(title=title, status="published", pass_mark=0.6, shuffle=False,
                      created_by=trainer.id, created_at=first_day, published_at=first_day)
    session.add(paper)
    session.flush()
    assert paper.id is not None
    slots = [ExamItem(paper_id=paper.id, position=0, kind=SCENARIO, mined_question_id=world.bank[i].id,
                      prompt=world.bank[i].question, context=world.bank[i].context) for i in scenario]
    slots += [ExamItem(paper_id=paper.id, position=0, kind=OBJECTIVE, knowledge_item_id=world.items[i].id,
                       prompt=world.items[i].stem) for i in objective]
    for position, slot in enumerate(slots, start=1):
        slot.position = position
    session.add_all(slots)
    cohorts = session.exec(select(Cohort).order_by(col(Cohort.id))).all()
    assignments = [ExamAssignment(paper_id=paper.id, cohort_id=c.id, opens_at=first_day, max_attempts=2)
                   for c in cohorts]
    session.add_all(assignments)
    session.flush()
    if programme:
        session.add(CertificationPaper(certification_id=programmes[programme].id or 0, paper_id=paper.id))
    return paper, assignments


def _practice(session: Session, learners: list[User], now: datetime) -> int:
    """The demo learners practised some 错题本 entries lately (audit entries, as ``practise`` writes them)."""
    added = 0
    for user in learners:
        for i, entry in enumerate(mistakes(session=session, actor=user)[:4]):
            for repeat in range(1 + i % 2):
                session.add(AuditLog(at=now - timedelta(days=2 + 5 * i + repeat), actor_id=user.id,
                                     action=PRACTICE_ACTION, target=entry.key))
                added += 1
    return added


def _certify(session: Session, programme: Certification, user: User, attempt: Attempt) -> None:
    issued = attempt.released_at or utcnow()
    cert = Certificate(certification_id=programme.id or 0, user_id=user.id or 0, attempt_id=attempt.id,
                       issued_at=issued, expires_at=issued + timedelta(days=programme.valid_days))
    session.add(cert)
    session.flush()
    cert.number = certificate_number(issued, cert.id or 0)


def _flag_one(session: Session, programme: Certification, now: datetime) -> None:
    """The oldest valid 上岗 certificate waits for re-certification after a script change."""
    cert = session.exec(select(Certificate).where(Certificate.certification_id == programme.id,
                                                  col(Certificate.expires_at) > now)
                        .order_by(col(Certificate.issued_at))).first()
    if cert is not None:
        cert.recert_flagged_at = now - timedelta(days=3)
        cert.recert_reason = "话术「什么时候发货」已更新"
        session.add(cert)
