"""Encoder versions: the shipped encoder and the models ``huashu adapt`` saved; which one is active.

A saved model folder holds a card (``huashu_model.json``) with its id, the held-out figures before
and after adaptation, and a cosine calibration: fine-tuning moves the whole cosine scale (e5's
unrelated pairs sit near 0.8, an adapted model's lower), so every threshold tuned on the shipped
encoder (same question 0.92, coverage 0.92, weak lookup 0.9) is mapped through the quantiles of
both models' cosines on the same held-out pairs before it is applied.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from training.auth.audit import record
from training.auth.permissions import STAFF, require_role
from training.core.config import EMBEDDED_MODEL, get_settings
from training.core.errors import UserError
from training.models import EncoderVersion, User
from training.nlp.encoder.embedded import embedded_model_id
from training.nlp.encoder.model_ids import MODEL_CARD, backend_model_id, local_model_id

#: Folder under the data dir where ``huashu adapt`` saves model versions.
ADAPTED_DIR = "models"
#: Held-out figures a version is judged on, each higher-is-better: ranking hit rate at the top,
#: mean reciprocal rank, and the rank correlation of pair cosines with trainers' scores.
JUDGED_FIGURES = ("rank_r1", "rank_mrr", "pairs_spearman")
#: A change smaller than this (on a 0-1 figure) is noise: neither better nor worse.
MIN_CHANGE = 0.01
#: Fewer held-out examples and pairs than this make a verdict a rough guide only.
MIN_HELD_OUT = 30
#: Label of the shipped encoder in lists (it has no row until a trainer switches away from it).
SHIPPED_NAME = "内置模型（多语种小型语义模型）"


def model_folder(version: EncoderVersion) -> Path:
    """Absolute folder of a saved version (relative paths are under the data dir)."""
    path = Path(version.path)
    return path if path.is_absolute() else get_settings().data_dir / path


def read_card(folder: Path) -> dict[str, Any]:
    """The model card of ``folder``; empty when absent or unreadable."""
    try:
        card = json.loads((folder / MODEL_CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


@functools.lru_cache(maxsize=16)
def _calibration(model_id: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    folder = Path(model_id.rsplit("@", 1)[0])
    if "@" not in model_id or not folder.is_dir():
        return None
    table = read_card(folder).get("calibration") or {}
    base, mine = table.get("base_quantiles"), table.get("model_quantiles")
    if not base or not mine or len(base) != len(mine):
        return None
    if float(base[-1]) < 1.0:  # tables saved before the cosine-1 anchor (see calibration_table)
        base, mine = [*base, 1.0], [*mine, 1.0]
    return tuple(float(x) for x in base), tuple(float(x) for x in mine)


def model_threshold(model_id: str, base_threshold: float) -> float:
    """``base_threshold`` (tuned on the shipped encoder) on the cosine scale of ``model_id``.

    Args:
        model_id: the embedder's model id; a saved version's id is ``<folder>@<version>``.
        base_threshold: a cosine threshold tuned on the shipped encoder.

    Returns:
        The cosine with the same quantile under ``model_id`` on the card's held-out pairs, or
        ``base_threshold`` unchanged for the shipped encoder and models without a card.
    """
    table = _calibration(model_id)
    if table is None:
        return base_threshold
    base, mine = table
    return float(np.interp(base_threshold, base, mine))


def calibration_table(base_cosines: np.ndarray, model_cosines: np.ndarray) -> dict[str, list[float]]:
    """Quantiles of both models' cosines on the same pairs, dense in the upper tail."""
    probs = np.unique(np.concatenate([np.linspace(0.0, 0.9, 46), 1.0 - np.geomspace(0.1, 1e-4, 60), [1.0]]))
    base = np.quantile(base_cosines, probs)
    mine = np.quantile(model_cosines, probs)
    # np.interp needs increasing x: ties in the base quantiles collapse to their first point.
    keep = np.concatenate([[True], np.diff(base) > 0])
    base, mine = base[keep], mine[keep]
    if base[-1] < 1.0:
        # A text and itself have cosine 1 under every model: past the sample's largest cosine,
        # thresholds map linearly up to that point instead of all collapsing onto the sample's
        # maximum (with a small sample, every high threshold became one value and lookups
        # rated unrelated scripts 可信度高).
        base, mine = np.append(base, 1.0), np.append(mine, 1.0)
    return {"base_quantiles": [round(float(x), 6) for x in base],
            "model_quantiles": [round(float(x), 6) for x in mine]}


def list_versions(*, session: Session, actor: User | None) -> list[EncoderVersion]:
    """Every saved encoder version, newest first (trainers and admins)."""
    require_role(actor, *STAFF)
    return list(session.exec(select(EncoderVersion).order_by(col(EncoderVersion.created_at).desc())).all())


def active_version(*, session: Session) -> EncoderVersion | None:
    """The version trainers switched to, if any."""
    return session.exec(select(EncoderVersion).where(col(EncoderVersion.active).is_(True))).first()


def active_model(*, session: Session) -> str:
    """What ``load_encoder`` should load for the app: the active version's folder or the setting."""
    version = active_version(session=session)
    if version is None or not version.path:
        return get_settings().model
    folder = model_folder(version)
    return str(folder) if folder.is_dir() else get_settings().model


def model_id_of(model: str) -> str:
    """The cache/model id ``load_encoder(model)`` will have, without loading it."""
    base = embedded_model_id() if model == EMBEDDED_MODEL else local_model_id(model)
    backend = get_settings().encoder_backend
    # ONNX runs only local folders; a name the library resolves stays on torch.
    return backend_model_id(base, backend) if model == EMBEDDED_MODEL or Path(model).is_dir() else base


def active_model_id(*, session: Session) -> str:
    """The cache/model id of the active encoder, without loading it."""
    return model_id_of(active_model(session=session))


def register_version(
    *, session: Session, actor: User | None, name: str, folder: Path, base_model: str,
    report: dict[str, Any],
) -> EncoderVersion:
    """Record a model folder saved by ``huashu adapt`` (not active until switched to)."""
    require_role(actor, *STAFF)
    if session.exec(select(EncoderVersion).where(EncoderVersion.name == name)).first() is not None:
        raise UserError(f"模型版本“{name}”已存在。")
    data_dir = get_settings().data_dir.resolve()
    folder = folder.resolve()
    path = str(folder.relative_to(data_dir)) if folder.is_relative_to(data_dir) else str(folder)
    version = EncoderVersion(name=name, path=path, base_model=base_model, report=report,
                             created_by=actor.id if actor else None)
    session.add(version)
    session.flush()
    record(session=session, actor=actor, action="encoder.register", target=f"encoder:{version.id}",
           detail={"name": name, "path": path})
    session.commit()
    session.refresh(version)
    return version


def activate_version(*, session: Session, actor: User | None, version_id: int | None) -> str:
    """Make ``version_id`` the app's encoder (None = back to the shipped one); returns its model."""
    require_role(actor, *STAFF)
    target = None
    if version_id is not None:
        target = session.get(EncoderVersion, version_id)
        if target is None:
            raise UserError("找不到该模型版本。")
        if not model_folder(target).is_dir():
            raise UserError(f"模型文件夹不存在：{model_folder(target)}，请重新训练或恢复该文件夹。")
    previous = active_version(session=session)
    for row in session.exec(select(EncoderVersion).where(col(EncoderVersion.active).is_(True))).all():
        row.active = False
        session.add(row)
    if target is not None:
        target.active = True
        session.add(target)
    record(session=session, actor=actor, action="encoder.activate",
           target=f"encoder:{version_id}" if version_id else "encoder:shipped",
           detail={"previous": previous.name if previous else SHIPPED_NAME,
                   "now": target.name if target else SHIPPED_NAME})
    session.commit()
    return active_model(session=session)


@dataclass(frozen=True)
class FigureChange:
    """One held-out figure before (base model) and after adaptation."""

    key: str
    before: float
    after: float

    @property
    def change(self) -> float:
        """After minus before (positive = better)."""
        return self.after - self.before


@dataclass(frozen=True)
class VersionVerdict:
    """Whether switching to a version is advised, and on which figures it got better or worse."""

    recommended: bool
    figures: tuple[FigureChange, ...]
    better: tuple[str, ...]
    worse: tuple[str, ...]
    held_out: int

    @property
    def enough_data(self) -> bool:
        """Whether the held-out set is large enough to trust the figures."""
        return self.held_out >= MIN_HELD_OUT


def judge_version(report: dict[str, Any] | None) -> VersionVerdict:
    """Verdict on a saved version from its card's before/after figures on held-out data.

    Args:
        report: the version's report (``before``/``after`` figures, ``held_out`` counts).

    Returns:
        Recommended when at least one figure rose by ``MIN_CHANGE`` or more and none fell by as
        much; never recommended without figures to compare.
    """
    report = report or {}
    before, after = (report.get(side) or {} for side in ("before", "after"))
    figures = tuple(FigureChange(key, float(before[key]), float(after[key]))
                    for key in JUDGED_FIGURES if key in before and key in after)
    better = tuple(f.key for f in figures if f.change >= MIN_CHANGE)
    worse = tuple(f.key for f in figures if f.change <= -MIN_CHANGE)
    held = report.get("held_out") or {}
    held_out = int(held.get("examples", 0) or 0) + int(held.get("pairs", 0) or 0)
    return VersionVerdict(bool(better) and not worse, figures, better, worse, held_out)
