"""Mapping answer features to the reviewers' 0-1 scale: logistic fits and isotonic (PAV) fits.

Plain numpy (scikit-learn is not a dependency): a ridge-penalised logistic regression fitted by
Newton's method, and the pool-adjacent-violators algorithm for a monotone fit of reviewers'
scores on a suggested score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

#: A shop's own fit needs at least this many reviewed answers ...
MIN_SHOP_REVIEWS = 30
#: ... whose reviewer means spread at least this much (standard deviation on the 0-1 scale).
MIN_SHOP_SPREAD = 0.08


def _sigmoid(z: Floats) -> Floats:
    out: Floats = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return out


@dataclass(frozen=True)
class Logistic:
    """``sigmoid(intercept + coef · features)``, the features named in order."""

    names: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float

    def predict(self, features: Floats) -> Floats:
        """Probabilities for a matrix of features (one row per answer, columns in ``names`` order)."""
        return _sigmoid(self.intercept + np.asarray(features, dtype=np.float64) @ np.asarray(self.coef))


def fit_logistic(
    features: npt.ArrayLike, targets: npt.ArrayLike, names: Sequence[str], *, l2: float = 1.0,
    iterations: int = 50,
) -> Logistic:
    """Ridge-penalised logistic regression by Newton's method (targets in [0, 1], soft labels allowed).

    Args:
        features: one row per example.
        targets: 0/1 labels or reviewer scores in [0, 1].
        names: the feature names, in column order.
        l2: penalty on the coefficients (not the intercept).
        iterations: Newton steps at most (it stops earlier once converged).

    Returns:
        The fitted model.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = _sigmoid(design @ w)
        gradient = design.T @ (p - y) + penalty @ w
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Logistic(tuple(names), tuple(float(c) for c in w[1:]), float(w[0]))


@dataclass(frozen=True)
class Isotonic:
    """A non-decreasing step map fitted by pool-adjacent-violators, read by linear interpolation."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def predict(self, values: npt.ArrayLike) -> Floats:
        """The fitted values at ``values`` (flat beyond the fitted range)."""
        out: Floats = np.interp(np.asarray(values, dtype=np.float64), self.xs, self.ys)
        return out


def fit_isotonic(values: npt.ArrayLike, targets: npt.ArrayLike) -> Isotonic:
    """The non-decreasing fit of ``targets`` on ``values`` that minimises squared error (PAV)."""
    x = np.asarray(values, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    blocks: list[list[float]] = []  # [sum of y, count, mean x]
    for i in order:
        blocks.append([float(y[i]), 1.0, float(x[i])])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, n, mx = blocks.pop()
            blocks[-1][2] = (blocks[-1][2] * blocks[-1][1] + mx * n) / (blocks[-1][1] + n)
            blocks[-1][0] += s
            blocks[-1][1] += n
    xs = [b[2] for b in blocks]
    ys = [b[0] / b[1] for b in blocks]
    if len(xs) == 1:  # one pooled block: a flat map
        xs, ys = [xs[0] - 1.0, xs[0] + 1.0], [ys[0], ys[0]]
    return Isotonic(tuple(xs), tuple(ys))


def shop_calibration(suggested: Sequence[float], reviewed: Sequence[float]) -> Isotonic | None:
    """The shop's own map from the default suggestion to its reviewers' scale, when there is enough data.

    Args:
        suggested: the default (uncalibrated-to-the-shop) suggestion of each reviewed answer.
        reviewed: the reviewers' mean score of the same answers.

    Returns:
        An isotonic fit when there are at least ``MIN_SHOP_REVIEWS`` answers whose reviewer means
        spread at least ``MIN_SHOP_SPREAD``; otherwise None (the default mapping stays).
    """
    if len(reviewed) < MIN_SHOP_REVIEWS or float(np.std(reviewed)) < MIN_SHOP_SPREAD:
        return None
    return fit_isotonic(suggested, reviewed)
