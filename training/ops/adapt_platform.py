"""``huashu adapt`` on the platform's own data: what it learns from, and one run end to end.

Learned from (all read from the database, nothing leaves the machine):
- question <-> approved script: each approved script's question and its approved reply, and
  every paraphrase of its mined question cluster with that reply;
- question clusters as paraphrase groups: each example of a cluster with the cluster question;
- reviewed answers: every reviewed written answer as a scored pair (customer turn with its last
  3 context lines, answer, mean review score), and per turn the best-reviewed answer (>= 0.75)
  against the worst (<= 0.4) as a ranking example with a hard negative.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from training.auth.permissions import STAFF, require_role
from training.core.clock import team_now
from training.core.config import get_settings
from training.core.errors import UserError
from training.exams.scores import scenario_groups
from training.exams.sittings import answers_of, reviews_of
from training.models import (
    Answer,
    Attempt,
    EncoderVersion,
    MinedQuestion,
    Review,
    User,
)
from training.models.scripts import approved_current_versions
from training.nlp.adapt.adapter import AdapterConfig
from training.nlp.adapt.data import PASSAGE, QUERY, AdaptData, RankExample, ScoredPair, split_data
from training.nlp.adapt.finetune import Progress, TrainConfig
from training.nlp.adapt.run import run_adaptation
from training.nlp.embeddings import DbEmbeddingStore, Embedder
from training.nlp.encoder.load import load_encoder
from training.nlp.model_versions import ADAPTED_DIR, active_model, register_version
from training.ranking.fusion_fit import fit_for_model

#: Fewest training items worth a run (below this the held-out figures mean nothing).
MIN_ITEMS = 20
#: Paraphrases taken per cluster (a huge cluster would otherwise dominate).
MAX_EXAMPLES_PER_CLUSTER = 10
GOOD_ANSWER = 0.75
POOR_ANSWER = 0.4
CONTEXT_LINES = 3


def _turn(prompt: str, context: list[dict[str, str]] | None) -> str:
    lines = [c.get("text", "") for c in (context or [])][-CONTEXT_LINES:]
    return " ".join([*(t for t in lines if t.strip()), prompt])


def _script_examples(session: Session) -> list[RankExample]:
    rows = session.exec(approved_current_versions()).all()
    clusters = {q.id: q for q in session.exec(select(MinedQuestion)).all()}
    out: list[RankExample] = []
    for script, version in rows:
        questions = [version.question]
        cluster = clusters.get(script.mined_question_id) if script.mined_question_id else None
        if cluster is not None:
            questions += [cluster.question, *(cluster.examples or [])[:MAX_EXAMPLES_PER_CLUSTER]]
        for question in dict.fromkeys(q.strip() for q in questions if q.strip()):
            out.append(RankExample(question, version.answer))
    return out


def _cluster_examples(session: Session) -> list[RankExample]:
    out: list[RankExample] = []
    for cluster in session.exec(select(MinedQuestion).where(col(MinedQuestion.hidden).is_(False))).all():
        for example in dict.fromkeys((cluster.examples or [])[:MAX_EXAMPLES_PER_CLUSTER]):
            if example.strip() and example.strip() != cluster.question.strip():
                out.append(RankExample(example, cluster.question, positive_prompt=QUERY))
    return out


def _reviewed_answers(session: Session) -> tuple[list[ScoredPair], list[RankExample]]:
    reviewed = select(Answer.attempt_id).join(Review, col(Review.answer_id) == col(Answer.id)).distinct()
    attempts = list(session.exec(select(Attempt).where(col(Attempt.id).in_(reviewed))).all())
    answers = answers_of(session=session, attempt_ids=[a.id for a in attempts if a.id is not None])
    scores = reviews_of(session=session, answer_ids=[a.id for a in answers.values() if a.id is not None])
    by_turn: dict[str, list[tuple[float, str]]] = defaultdict(list)
    pairs: list[ScoredPair] = []
    for group in scenario_groups(attempts, answers).values():
        for question, answer in group:
            marks = scores.get(answer.id or 0) if answer is not None else None
            if answer is None or not marks or not answer.text.strip():
                continue
            turn = _turn(question.prompt, question.context)
            mean = sum(marks) / len(marks)
            pairs.append(ScoredPair(turn, answer.text, mean, b_prompt=PASSAGE))
            by_turn[turn].append((mean, answer.text))
    examples: list[RankExample] = []
    for turn, scored in by_turn.items():
        best, worst = max(scored), min(scored)
        if best[0] >= GOOD_ANSWER:
            examples.append(RankExample(turn, best[1], worst[1] if worst[0] <= POOR_ANSWER else None))
    return pairs, examples


def platform_data(*, session: Session, actor: User | None) -> tuple[AdaptData, dict[str, int]]:
    """Everything the platform can learn from now, and how many items each source gave (staff only)."""
    require_role(actor, *STAFF)
    scripts = _script_examples(session)
    clusters = _cluster_examples(session)
    pairs, answer_examples = _reviewed_answers(session)
    counts = {"scripts": len(scripts), "clusters": len(clusters), "reviewed_answers": len(pairs),
              "best_vs_worst": len(answer_examples)}
    return AdaptData(examples=scripts + clusters + answer_examples, pairs=pairs), counts


def adapt_from_platform(
    *, session: Session, actor: User | None, budget_seconds: float, base_model: str | None = None,
    held_share: float = 0.2, progress: Progress | None = None,
    config: TrainConfig | AdapterConfig | None = None,
) -> EncoderVersion:
    """Fine-tune the active encoder on the platform's data and register the new version.

    Args:
        actor: a trainer or admin.
        budget_seconds: training time budget (evaluation and saving come on top).
        base_model: what to start from (default: the app's active encoder).
        held_share: share of anchors held out and evaluated before and after.
        progress: (fraction, message) callback.
        config: how to adapt (default: a projection adapter on cached features,
            ``AdapterConfig``; a ``TrainConfig`` fine-tunes every layer), its budget replaced by
            ``budget_seconds``. The base's vectors are cached in the app's database.

    Returns:
        The registered, not yet active, version; its ``report`` holds the before/after figures.
    """
    require_role(actor, *STAFF)
    data, counts = platform_data(session=session, actor=actor)
    if len(data) < MIN_ITEMS:
        raise UserError(f"可用于训练的数据太少：目前只有 {len(data)} 条（至少需要 {MIN_ITEMS} 条）。"
                        "请先审定话术、挖掘问题或评阅答卷。")
    train, held = split_data(data, held_share)
    base = base_model or active_model(session=session)
    name = team_now().strftime("adapted-%Y%m%d-%H%M%S")  # the name reads as the 创建时间 shown
    target = get_settings().data_dir / ADAPTED_DIR / name
    chosen = config or AdapterConfig()
    knobs: dict[str, Any] = dict(chosen.__dict__, budget_seconds=budget_seconds)
    store = DbEmbeddingStore(cast(Engine, session.get_bind()))
    card = run_adaptation(base_model=base, train=train, held=held, target=target,
                          config=type(chosen)(**knobs), version_id=name, progress=progress,
                          extra={"sources": counts}, store=store)
    # The shop's own mix of the ranking signals, fitted on turns the new model never trained on.
    fusion = fit_for_model(held.examples, embedder=Embedder(load_encoder(str(target)), store),
                           source="本店数据（未参加训练的部分）")
    if fusion is not None:
        fusion.save(target)
    card["fusion"] = fusion.as_dict() if fusion is not None else None
    return register_version(session=session, actor=actor, name=name, folder=target, base_model=base,
                            report={k: v for k, v in card.items() if k != "calibration"})
