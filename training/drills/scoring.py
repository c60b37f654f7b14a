"""Scoring a finished run, turn by turn, with the one absolute answer score (建议分).

The yardstick of a turn is the approved script covering its customer question (its variants and
older approved versions too, as exams use them); without one, the real agent's reply. The score
is the 建议分 (closeness, key points covered, relevance, minus lint penalties); response time is
judged separately against the drill's targets. Each score records the model version that made it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from training.drills.building import drill_turns, get_drill
from training.drills.certify import evaluate_drill_certificates
from training.exams.scores import approved_variants
from training.models import DrillRun, DrillTurn
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import SHIPPED_NAME, active_version
from training.ranking.absolute import Variant, bigram_overlap, suggest_scores
from training.ranking.key_points import key_points
from training.ranking.lint import lint_answer
from training.ranking.lint_rules import lint_rules
from training.ranking.rank import ChatTurn, RankGroup

REAL_REPLY = "真实客服回复"
NO_MODEL = "未使用语义模型（按字面重合计分）"


def yardsticks(*, session: Session, turn: dict[str, object]) -> list[Variant]:
    """The approved wordings covering a turn, else the real agent's reply."""
    mined = turn.get("mined_question_id")
    variants = approved_variants(session=session, mined_question_id=mined if isinstance(mined, int) else None)
    agent = str(turn.get("agent") or "")
    return variants or ([Variant(agent, REAL_REPLY)] if agent.strip() else [])


def _group(turn: dict[str, object], reply: str) -> RankGroup:
    context = turn.get("context")
    lines = context if isinstance(context, list) else []
    return RankGroup(question=str(turn["customer"]), answers=[reply],
                     context=[ChatTurn(str(c.get("role", "")), str(c.get("text", ""))) for c in lines])


def _without_encoder(session: Session, turn: dict[str, object], reply: str,
                     variants: list[Variant]) -> tuple[float, list[str]]:
    """Wording overlap with the closest yardstick, minus lint penalties (the encoder unavailable)."""
    reasons = ["语义模型不可用，得分按与参考回复的字面重合程度计算，请培训师复核。"]
    score = 0.0
    if variants:
        best = max(variants, key=lambda v: bigram_overlap(reply, v.plain))
        score = bigram_overlap(reply, best.plain)
        missed = key_points(best.text, reply).missed
        reasons.append(f"参考：{best.label}")
        reasons.append("漏掉的要点：" + "、".join(missed) if missed else "参考回复的要点都已覆盖")
    for finding in lint_answer(reply, str(turn["customer"]), lint_rules(session=session)):
        score -= finding.penalty
        reasons.append(f"扣分 {finding.penalty:.2f}：{finding.reason}")
    return max(0.0, min(1.0, score)), reasons


def finish_run(*, session: Session, run: DrillRun, embedder: Embedder | None, now: datetime) -> None:
    """Score every turn of the run and close it (turns never sent score 0)."""
    drill = get_drill(session=session, drill_id=run.drill_id)
    turns = drill_turns(drill)
    rows = {t.index: t for t in session.exec(select(DrillTurn).where(col(DrillTurn.run_id) == run.id)).all()}
    sent = [(i, rows[i]) for i in range(len(turns)) if i in rows and rows[i].sent_at is not None]
    version = active_version(session=session)
    version_id = version.id if version is not None and embedder is not None else None
    name = NO_MODEL if embedder is None else version.name if version is not None else SHIPPED_NAME
    variants = [yardsticks(session=session, turn=turns[i]) for i, _ in sent]
    scored: dict[int, tuple[float, list[str]]] = {}
    if embedder is not None and sent:
        groups = [_group(turns[i], row.reply) for i, row in sent]
        suggested = suggest_scores(groups, embedder=embedder, rules=lint_rules(session=session),
                                   variants=variants)
        for (i, _), found in zip(sent, suggested, strict=True):
            if found[0] is not None:
                scored[i] = (found[0].score, found[0].candidate_reasons)
    for (i, row), vs in zip(sent, variants, strict=True):
        score, reasons = scored.get(i) or _without_encoder(session, turns[i], row.reply, vs)
        if vs and vs[0].label == REAL_REPLY:
            reasons = ["这一轮没有审定话术，按真实客服回复比较。",
                       *(r.replace(f"最接近的审定话术：{REAL_REPLY}", "参考的真实客服回复") for r in reasons)]
        row.score, row.reasons = score, reasons
        row.model_version_id, row.model_name = version_id, name
        session.add(row)
    final: list[float] = []
    for i in range(len(turns)):
        row = rows.get(i) or DrillTurn(run_id=run.id or 0, index=i, shown_at=now)
        if row.sent_at is None:
            row.score, row.reasons, row.model_name = 0.0, ["没有回复，得分为 0。"], name
            session.add(row)
        final.append(row.score or 0.0)
    run.score = sum(final) / len(final) if final else 0.0
    run.finished_at, run.draft = now, ""
    run.model_version_id, run.model_name = version_id, name
    session.add(run)
    session.commit()
    evaluate_drill_certificates(session=session, user_id=run.user_id, now=now)
