"""Review rubrics: weighted criteria scored on a 0–4 scale, plus auto-fail items."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.models import Rubric, User, utcnow

#: Each criterion is scored 0 (absent) … TOP_LEVEL (exemplary).
TOP_LEVEL = 4
LEVEL_LABELS = {0: "0 未做到", 1: "1 较差", 2: "2 一般", 3: "3 良好", 4: "4 优秀"}
DEFAULT_NAME = "标准评分表"


class RubricError(UserError):
    """A user-facing problem with a rubric or a rubric review."""


@dataclass(frozen=True)
class Criterion:
    """One weighted rubric criterion."""

    name: str
    weight: float
    hint: str = ""


@dataclass(frozen=True)
class RubricView:
    """A rubric as reviewers and the editor see it."""

    id: int
    name: str
    criteria: list[Criterion]
    auto_fail: list[str]
    is_default: bool


DEFAULT_CRITERIA = (
    Criterion("礼貌称呼", 0.2, "称呼亲切、语气礼貌，有问候与致谢"),
    Criterion("准确解决", 0.4, "信息准确，正面解决了顾客的问题"),
    Criterion("主动超预期", 0.2, "主动提供额外帮助、安抚情绪或给出下一步"),
    Criterion("合规表达", 0.2, "无广告法极限词，无无法兑现的承诺，无禁用语"),
)
DEFAULT_AUTO_FAIL = ("辱骂、讽刺或指责顾客", "泄露顾客或他人隐私", "承诺违规赔付或引导私下交易", "答非所问")


def _view(rubric: Rubric) -> RubricView:
    assert rubric.id is not None
    criteria = [Criterion(str(c["name"]), float(c["weight"]), str(c.get("hint", "")))
                for c in rubric.criteria or []]
    return RubricView(rubric.id, rubric.name, criteria, list(rubric.auto_fail or []), rubric.is_default)


def default_rubric(*, session: Session) -> RubricView:
    """The rubric reviews use unless a trainer picks another; created on first use."""
    found = session.exec(select(Rubric).where(col(Rubric.is_default).is_(True))).first()
    if found is not None:
        return _view(found)
    rubric = Rubric(name=DEFAULT_NAME, is_default=True,
                    criteria=[{"name": c.name, "weight": c.weight, "hint": c.hint} for c in DEFAULT_CRITERIA],
                    auto_fail=list(DEFAULT_AUTO_FAIL))
    session.add(rubric)
    try:
        session.commit()
    except IntegrityError:  # another session created it first
        session.rollback()
        found = session.exec(select(Rubric).where(Rubric.name == DEFAULT_NAME)).one()
        return _view(found)
    session.refresh(rubric)
    return _view(rubric)


def list_rubrics(*, session: Session, actor: User | None) -> list[RubricView]:
    """Every rubric, the default first (trainers and admins)."""
    require_role(actor, *STAFF)
    default_rubric(session=session)
    rows = session.exec(select(Rubric).order_by(col(Rubric.is_default).desc(), col(Rubric.id))).all()
    return [_view(r) for r in rows]


def get_rubric(*, session: Session, rubric_id: int | None) -> RubricView:
    """A rubric by id, or the default one."""
    rubric = session.get(Rubric, rubric_id) if rubric_id else None
    return _view(rubric) if rubric is not None else default_rubric(session=session)


def save_rubric(
    *, session: Session, actor: User | None, name: str, criteria: Sequence[Criterion],
    auto_fail: Sequence[str], rubric_id: int | None = None,
) -> RubricView:
    """Create or edit a rubric (trainers and admins); earlier reviews keep their scores."""
    editor = require_role(actor, *STAFF)
    name = name.strip()
    kept = [Criterion(c.name.strip(), float(c.weight), c.hint.strip()) for c in criteria if c.name.strip()]
    if not name:
        raise RubricError("评分表名称不能为空。")
    if not kept:
        raise RubricError("评分表至少需要一个评分项。")
    if any(not math.isfinite(c.weight) or c.weight <= 0 for c in kept):
        raise RubricError("评分项的权重必须大于 0。")
    if len({c.name for c in kept}) != len(kept):
        raise RubricError("评分项名称不能重复。")
    rubric = session.get(Rubric, rubric_id) if rubric_id else Rubric(name=name, created_by=editor.id)
    if rubric is None:
        raise RubricError("评分表不存在。")
    clash = session.exec(select(Rubric).where(Rubric.name == name)).first()
    if clash is not None and clash.id != rubric.id:
        raise RubricError(f"已有名为「{name}」的评分表。")
    rubric.name = name
    rubric.criteria = [{"name": c.name, "weight": c.weight, "hint": c.hint} for c in kept]
    rubric.auto_fail = [a.strip() for a in auto_fail if a.strip()]
    rubric.updated_at = utcnow()
    session.add(rubric)
    session.flush()
    audit.record(session=session, actor=editor, action="rubric.save", target=str(rubric.id),
                 detail={"criteria": rubric.criteria, "auto_fail": rubric.auto_fail})
    session.commit()
    session.refresh(rubric)
    return _view(rubric)


def rubric_score(rubric: RubricView, levels: Mapping[str, int], failed: Sequence[str]) -> float:
    """Weighted mean of the criterion levels on [0, 1]; any auto-fail item scores 0.

    Every criterion must be scored: a missing one is an error, not a silent zero.
    """
    unknown = [f for f in failed if f not in rubric.auto_fail]
    if unknown:
        raise RubricError(f"评分表没有否决项「{unknown[0]}」。")
    missing = [c.name for c in rubric.criteria if c.name not in levels]
    if missing:
        raise RubricError("请给每一项打分：" + "、".join(missing))
    if any(not 0 <= levels[c.name] <= TOP_LEVEL for c in rubric.criteria):
        raise RubricError(f"每项得分应在 0–{TOP_LEVEL} 之间。")
    if failed:
        return 0.0
    total = sum(c.weight for c in rubric.criteria)
    return sum(c.weight * levels[c.name] / TOP_LEVEL for c in rubric.criteria) / total
