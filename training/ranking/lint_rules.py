"""The answer lint's phrase lists as data trainers edit (stored in the database)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.models import LintPhrase, User, utcnow
from training.ranking.lint import DEFAULT_RULES, LINT_KINDS, LintRule

#: Kinds trainers can add phrases to (empty and copies-the-question are structural checks).
PHRASE_KINDS = {k: v for k, v in LINT_KINDS.items() if k not in {"empty", "copies_question"}}


class LintRuleError(UserError):
    """A user-facing problem with a lint phrase."""


def _rule(row: LintPhrase) -> LintRule:
    return LintRule(row.phrase, row.kind, row.reason, row.whole_reply, row.penalty,
                    tuple(row.exceptions or ()))


def _seed(session: Session) -> None:
    """Copy the default lists into the table the first time anyone reads or edits them."""
    if session.exec(select(LintPhrase.id).limit(1)).first() is not None:
        return
    for rule in DEFAULT_RULES:
        session.add(LintPhrase(phrase=rule.phrase, kind=rule.kind, reason=rule.reason,
                               whole_reply=rule.whole_reply, penalty=rule.penalty,
                               exceptions=list(rule.exceptions) or None))
    try:
        session.commit()
    except IntegrityError:  # another session seeded first
        session.rollback()


def lint_rules(*, session: Session) -> list[LintRule]:
    """The active rules the ranking applies (the defaults until trainers change them)."""
    _seed(session)
    return [_rule(r) for r in session.exec(
        select(LintPhrase).where(col(LintPhrase.active).is_(True)).order_by(col(LintPhrase.id))).all()]


def list_phrases(*, session: Session, actor: User | None) -> list[LintPhrase]:
    """Every phrase, active or not, by kind (trainers and admins)."""
    require_role(actor, *STAFF)
    _seed(session)
    return list(session.exec(select(LintPhrase).order_by(col(LintPhrase.kind), col(LintPhrase.id))).all())


def save_phrase(
    *, session: Session, actor: User | None, phrase: str, kind: str, reason: str = "",
    whole_reply: bool = False, penalty: float = 0.2, exceptions: list[str] | None = None,
    active: bool = True,
) -> LintPhrase:
    """Add a phrase or change an existing one (same kind and text); audited."""
    editor = require_role(actor, *STAFF)
    phrase = phrase.strip()
    if not phrase or len(phrase) > 50:
        raise LintRuleError("短语不能为空，且不超过 50 字。")
    if kind not in PHRASE_KINDS:
        raise LintRuleError(f"未知的规则类型「{kind}」。")
    if not 0.0 < penalty <= 1.0:
        raise LintRuleError("扣分应在 0–1 之间（大于 0）。")
    _seed(session)
    row = session.exec(select(LintPhrase).where(LintPhrase.kind == kind, LintPhrase.phrase == phrase)).first()
    row = row or LintPhrase(phrase=phrase, kind=kind)
    row.reason, row.whole_reply, row.penalty, row.active = reason.strip(), whole_reply, penalty, active
    row.exceptions = [e.strip() for e in exceptions or [] if e.strip()] or None
    row.updated_by, row.updated_at = editor.id, utcnow()
    session.add(row)
    audit.record(session=session, actor=editor, action="lint.save", target=f"{kind}:{phrase}",
                 detail={"active": active, "penalty": penalty})
    session.commit()
    session.refresh(row)
    return row
