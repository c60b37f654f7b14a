"""What a drill produced: a run's transcript (the candidate and trainers), and the trainer's view
per drill and per person: scores per turn, the slowest turns, the customer turns most candidates fail."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from training.auth.permissions import EVERYONE, STAFF, require_role
from training.drills.building import DrillError, drill_turns, get_drill
from training.drills.runs import target_seconds
from training.drills.scoring import REAL_REPLY, yardsticks
from training.models import DrillRun, DrillTurn, Role, User


@dataclass(frozen=True)
class TranscriptRow:
    """One turn of a finished (or running) run, as the transcript shows it."""

    index: int
    customer: str
    reply: str
    real_reply: str
    script: str | None  # the approved script covering the turn, if any
    score: float | None
    reasons: list[str]
    response_seconds: float | None
    target_seconds: int
    target_met: bool | None
    chars_per_minute: float | None
    model_name: str


@dataclass(frozen=True)
class Transcript:
    """A run turn by turn, with its overall score and whether it passed."""

    run_id: int
    title: str
    user_name: str
    finished: bool
    score: float | None
    passed: bool | None
    model_name: str
    rows: list[TranscriptRow]


def transcript(*, session: Session, actor: User | None, run_id: int) -> Transcript:
    """A run's transcript: the candidate sees only their own; trainers and admins any."""
    user = require_role(actor, *EVERYONE)
    run = session.get(DrillRun, run_id)
    if run is None or (run.user_id != user.id and user.role not in {r.value for r in STAFF}):
        raise DrillError("找不到这次模拟接待。")
    drill = get_drill(session=session, drill_id=run.drill_id)
    turns = drill_turns(drill)
    rows = {t.index: t for t in session.exec(select(DrillTurn).where(col(DrillTurn.run_id) == run.id)).all()}
    out = []
    for i, turn in enumerate(turns):
        row = rows.get(i)
        if row is None:
            continue
        if row.sent_at is None and run.finished_at is None:
            continue  # the turn on screen: nothing to show yet
        variants = yardsticks(session=session, turn=turn)
        script = variants[0].text if variants and variants[0].label != REAL_REPLY else None
        target = target_seconds(drill, i)
        seconds = row.response_seconds
        out.append(TranscriptRow(
            index=i, customer=str(turn["customer"]), reply=row.reply, real_reply=str(turn.get("agent") or ""),
            script=script, score=row.score, reasons=list(row.reasons or []), response_seconds=seconds,
            target_seconds=target, target_met=None if seconds is None else seconds <= target,
            chars_per_minute=row.chars_per_minute, model_name=row.model_name))
    owner = session.get(User, run.user_id)
    finished = run.finished_at is not None
    return Transcript(run.id or 0, drill.title, owner.display_name if owner else "", finished, run.score,
                      None if run.score is None else run.score >= drill.pass_mark, run.model_name, out)


@dataclass(frozen=True)
class PersonResult:
    """One finished run of a drill."""

    run_id: int
    user_name: str
    score: float
    passed: bool
    turn_scores: list[float]
    mean_seconds: float | None
    targets_met: int


@dataclass(frozen=True)
class TurnResult:
    """One customer turn across every finished run."""

    index: int
    customer: str
    mean_score: float
    failed: int  # runs scoring this turn below the pass mark
    runs: int
    mean_seconds: float | None
    slowest_seconds: float | None


@dataclass(frozen=True)
class DrillResults:
    """A drill's results for its trainer."""

    drill_id: int
    title: str
    people: list[PersonResult]
    turns: list[TurnResult]

    @property
    def slowest(self) -> list[TurnResult]:
        """Turns by mean response time, slowest first."""
        return sorted((t for t in self.turns if t.mean_seconds is not None),
                      key=lambda t: -(t.mean_seconds or 0.0))

    @property
    def most_failed(self) -> list[TurnResult]:
        """Turns most candidates fail, worst first (turns nobody failed left out)."""
        return sorted((t for t in self.turns if t.failed), key=lambda t: (-t.failed, t.mean_score))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def drill_results(*, session: Session, actor: User | None, drill_id: int) -> DrillResults:
    """Every finished run of a drill, per person and per turn (trainers and admins)."""
    require_role(actor, Role.ADMIN, Role.TRAINER)
    drill = get_drill(session=session, drill_id=drill_id)
    turns = drill_turns(drill)
    runs = session.exec(select(DrillRun).where(col(DrillRun.drill_id) == drill_id,
                                               col(DrillRun.finished_at).is_not(None))
                        .order_by(col(DrillRun.finished_at))).all()
    by_run: dict[int, dict[int, DrillTurn]] = defaultdict(dict)
    for row in session.exec(select(DrillTurn).where(col(DrillTurn.run_id).in_([r.id for r in runs]))).all():
        by_run[row.run_id][row.index] = row
    names = {u.id: u.display_name for u in session.exec(select(User).where(
        col(User.id).in_({r.user_id for r in runs}))).all()}
    people = []
    for run in runs:
        rows = [by_run[run.id or 0].get(i) for i in range(len(turns))]
        seconds = [r.response_seconds for r in rows if r is not None and r.response_seconds is not None]
        met = sum(1 for i, r in enumerate(rows) if r is not None and r.response_seconds is not None
                  and r.response_seconds <= target_seconds(drill, i))
        people.append(PersonResult(run.id or 0, names.get(run.user_id, ""), run.score or 0.0,
                                   (run.score or 0.0) >= drill.pass_mark,
                                   [(r.score or 0.0) if r else 0.0 for r in rows], _mean(seconds), met))
    per_turn = []
    for i, turn in enumerate(turns):
        answered = [by_run[r.id or 0][i] for r in runs if i in by_run[r.id or 0]]
        scores = [r.score or 0.0 for r in answered]
        seconds = [r.response_seconds for r in answered if r.response_seconds is not None]
        failed = sum(1 for s in scores if s < drill.pass_mark)
        per_turn.append(TurnResult(i, str(turn["customer"]), _mean(scores) or 0.0, failed, len(answered),
                                   _mean(seconds), max(seconds) if seconds else None))
    return DrillResults(drill.id or 0, drill.title, people, per_turn)
