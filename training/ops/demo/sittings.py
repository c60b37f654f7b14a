"""One simulated exam sitting of the demo history: answers, typing speed and reviews, drawn at random.

Right answers, reply quality, typing speed and the two trainers' review scores follow the seeded
draw of ``World`` around the learner's ability, improving week by week and on a retake.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from training.exams.choices import TRUE_FALSE, TRUE_FALSE_KIND
from training.exams.delivery import candidate_seed, draw_paper
from training.exams.papers import SCENARIO
from training.exams.sitting_figures import file_sittings
from training.models import (
    Answer,
    Attempt,
    AttemptStatus,
    ExamAssignment,
    ExamPaper,
    KnowledgeItem,
    MinedQuestion,
    Review,
    User,
)

#: An item strong candidates get wrong as often as weak ones (a trick question to spot in the figures).
TRICK_ITEM = 14


def _clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(high, max(low, value))


def _wrong_choice(item: KnowledgeItem) -> str:
    if item.kind == TRUE_FALSE_KIND:
        right, wrong = TRUE_FALSE
        return wrong if item.answer == right else right
    return next(letter for letter in "ABCD" if letter not in item.answer)


@dataclass
class World:
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


def sit(*, session: Session, world: World, paper: ExamPaper, assignment: ExamAssignment, user: User,
        ability: float, number: int, offset: int, submitted: datetime) -> Attempt:
    """One released sitting: answers drawn around ``ability`` (better each week and on a retake)."""
    week = offset // 7
    questions = draw_paper(session=session, paper=paper, seed=candidate_seed(paper.id or 0, user.id or 0))
    attempt = Attempt(assignment_id=assignment.id or 0, user_id=user.id or 0, number=number + 1,
                      started_at=submitted - timedelta(minutes=25),
                      deadline_at=submitted + timedelta(minutes=35), submitted_at=submitted,
                      status=AttemptStatus.SUBMITTED.value, released_at=submitted + timedelta(days=1),
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
    file_sittings(session=session, attempts=[attempt])  # as a release files them
    return attempt
