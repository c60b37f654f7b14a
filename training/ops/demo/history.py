"""Demo history: four months of a fictional team's exams, reviews and certificates (deterministic).

Two cohorts of learners joined 2 to 17 weeks before ``now``; each sat the demo papers on a fixed
schedule of days after joining. Right answers, reply quality, typing speed and the two trainers'
review scores follow a seeded random draw around each learner's ability, improving week by
week, so every figure of the 训练看板 (pass rates, item analysis, reviewer agreement,
certificates and their expiry, ramp-up, uncovered questions) has data. Rows are written
directly: history cannot go through services that stamp the current time.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from training.analytics.learner import PRACTICE_ACTION
from training.auth import audit
from training.auth.accounts import hash_password
from training.certification.programmes import certificate_number
from training.exams.attempts import SUBMITTED
from training.exams.delivery import candidate_seed, draw_paper
from training.exams.feedback import mistakes
from training.exams.papers import OBJECTIVE, SCENARIO
from training.models import (
    Answer,
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
    Review,
    Role,
    Script,
    User,
    utcnow,
)
from training.ops.demo.seed import DEMO_COHORT, DEMO_DIR

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
#: An item strong candidates get wrong as often as weak ones (a trick question to spot in the figures).
TRICK_ITEM = 14


def _clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(high, max(low, value))


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
        replies[len(bank) - 1] = sorted((a["text"] for a in entry["answers"]), key=len, reverse=True)
    for text, category, frequency, script in CLUSTERS:
        session.add(MinedQuestion(question=text, category=category, frequency=frequency, examples=[text],
                                  context=[], agent_replies=[], covered_by_script_id=scripts.get(script)))
    session.flush()
    return bank, replies


def _wrong_choice(item: KnowledgeItem) -> str:
    if item.kind == "truefalse":
        return "错" if item.answer == "对" else "对"
    return next(letter for letter in "ABCD" if letter not in item.answer)


@dataclass
class _World:
    """What generating one sitting needs: the seeded draw, questions, reply texts and reviewers."""

    rng: random.Random
    bank: list[MinedQuestion]
    replies: dict[int, list[str]]
    items: list[KnowledgeItem]
    reviewers: tuple[User, User]
    hardness: list[float] = field(default_factory=list)
    reviews: int = 0

    def __post_init__(self) -> None:
        self.hardness = [self.rng.uniform(0.0, 0.25) for _ in self.items]


def seed_demo_history(
    session: Session, demo_dir: Path = DEMO_DIR, *, now: datetime | None = None
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
    world = _World(random.Random(20261123), bank, replies, items, (trainer, second))
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
                attempt = _sit(session, world, paper, assignment, user, ability, number, offset, submitted)
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


def _paper(session: Session, world: _World, spec: tuple[str, int, tuple[int, ...], tuple[int, ...], str],
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


def _sit(session: Session, world: _World, paper: ExamPaper, assignment: ExamAssignment, user: User,
         ability: float, number: int, offset: int, submitted: datetime) -> Attempt:
    """One released sitting: answers drawn around ``ability`` (better each week and on a retake)."""
    week = offset // 7
    questions = draw_paper(session, paper, candidate_seed(paper.id or 0, user.id or 0))
    attempt = Attempt(assignment_id=assignment.id or 0, user_id=user.id or 0, number=number + 1,
                      started_at=submitted - timedelta(minutes=25),
                      deadline_at=submitted + timedelta(minutes=35), submitted_at=submitted,
                      status=SUBMITTED, released_at=submitted + timedelta(days=1),
                      questions=[asdict(q) for q in questions])
    session.add(attempt)
    session.flush()
    rng, earned = world.rng, 0.0
    for question in questions:
        answer = Answer(attempt_id=attempt.id or 0, item_id=question.slot_id,
                        saved_at=submitted - timedelta(minutes=1))
        marks: list[float] = []
        if question.kind == SCENARIO:
            index = next(i for i, q in enumerate(world.bank) if q.id == question.mined_question_id)
            quality = _clip(ability + 0.025 * week + rng.gauss(0, 0.08), 0.05)
            texts = world.replies[index]
            answer.text = texts[round((1 - quality) * (len(texts) - 1))]
            speed = _clip(35 + 60 * ability + 4 * week + rng.gauss(0, 6), 20, 160)
            answer.time_spent_seconds = max(5.0, len(answer.text) / speed * 60)
            answer.chars_per_minute = len(answer.text) / (answer.time_spent_seconds / 60)
            marks = [round(_clip(quality + rng.gauss(0, sd)) * 20) / 20 for sd in (0.05, 0.1)]
            answer.score = sum(marks) / len(marks)
        else:
            index = next(i for i, k in enumerate(world.items) if k.id == question.knowledge_item_id)
            item = world.items[index]
            chance = (0.9 - 0.6 * ability if index == TRICK_ITEM else
                      _clip(ability + 0.02 * week - world.hardness[index] + 0.1 * number, 0.05, 0.97))
            right = rng.random() < chance
            answer.choice = item.answer if right else _wrong_choice(item)
            answer.auto_score = answer.score = 1.0 if right else 0.0
            answer.time_spent_seconds = float(rng.randint(15, 45))
        session.add(answer)
        session.flush()
        for reviewer, mark in zip(world.reviewers, marks, strict=False):
            session.add(Review(answer_id=answer.id or 0, reviewer_id=reviewer.id or 0, score=mark,
                               created_at=submitted + timedelta(hours=20)))
            world.reviews += 1
        earned += question.points * (answer.score or 0.0)
    attempt.score = earned / sum(q.points for q in questions)
    session.add(attempt)
    return attempt


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
