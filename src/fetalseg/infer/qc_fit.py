"""Fitting a model's QC calibration (:class:`fetalseg.infer.qc.QCCalibration`) on segmentations with known truth.

The calibration is a linear model, with non-negative weights (each QC feature can only lower the predicted
Dice), of ``1 - mean Dice`` over labels 1-7 on the :data:`fetalseg.infer.qc.FEATURES` of each case's QC report
(ordinary least squares, :class:`sklearn.linear_model.LinearRegression` with ``positive=True``). Its quality is
measured by cross-validation that leaves out one subject at a time (all perturbed copies of a subject together):
mean absolute error of the predicted Dice and Spearman's rank correlation with the true Dice.

The review threshold is relative to the model's own typical result: ``flag_below = median(true Dice) - margin``
(a subject is flagged when its predicted Dice is ``margin`` below what the model usually reaches), so that the
flag points to the failures of a model rather than flagging every case of a weak one.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .qc import FEATURES, QCCalibration, qc_features


def _matrix(reports: Sequence[dict]) -> np.ndarray:
    rows = [qc_features(r) for r in reports]
    return np.array([[row[k] for k in FEATURES] for row in rows], dtype=np.float64)


def fit_calibration(reports: Sequence[dict], dice: Sequence[float], groups: Sequence[str] | None = None, *,
                    margin: float = 0.1, source: str = "") -> tuple[QCCalibration, np.ndarray]:
    """Fit a :class:`QCCalibration` and return it with the cross-validated predicted Dice of every case.

    Parameters
    ----------
    reports : sequence of dict
        QC reports (:func:`fetalseg.infer.qc.qc_report` output, e.g. ``SegmentResult.qc``), one per case.
    dice : sequence of float
        True mean Dice over labels 1-7 of each case, in [0, 1].
    groups : sequence of str, optional
        Subject of each case; cross-validation leaves one group out at a time (default: one case at a time).
    margin : float
        ``flag_below = median(dice) - margin``, clipped to [0, 1].
    source : str
        Free text stored in the calibration (what it was fitted on).

    Returns
    -------
    calibration : QCCalibration
        With ``cases``, ``cv_mae`` and ``spearman`` filled in from the cross-validation.
    predicted : ndarray of float, shape (n,)
        Cross-validated predicted Dice of each case (each predicted by a model fitted without its group).
    """
    from scipy.stats import spearmanr
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict

    y = 1.0 - np.asarray(dice, dtype=np.float64)
    if y.ndim != 1 or len(y) != len(reports):
        raise ValueError(f"`dice` must hold one value per report ({len(reports)}), got shape {y.shape}")
    if not np.all(np.isfinite(y)) or y.min() < 0 or y.max() > 1:
        raise ValueError("`dice` values must be finite and in [0, 1]")
    g = np.asarray([str(x) for x in (groups if groups is not None else range(len(y)))])
    if len(g) != len(y):
        raise ValueError(f"`groups` must hold one value per report ({len(y)}), got {len(g)}")
    if len(set(g)) < 3:
        raise ValueError(f"need cases from at least 3 groups to cross-validate, got {len(set(g))}")
    if not 0 <= margin <= 1:
        raise ValueError(f"`margin` must be in [0, 1], got {margin}")
    x = _matrix(reports)
    model = LinearRegression(positive=True).fit(x, y)
    cv = cross_val_predict(LinearRegression(positive=True), x, y, groups=g, cv=LeaveOneGroupOut())
    predicted = np.clip(1.0 - cv, 0.0, 1.0)
    truth = 1.0 - y
    rho = spearmanr(predicted, truth).statistic if np.ptp(predicted) > 0 else math.nan
    cal = QCCalibration(
        intercept=float(model.intercept_), weights={k: float(w) for k, w in zip(FEATURES, model.coef_)},
        flag_below=float(np.clip(np.median(truth) - margin, 0.0, 1.0)), cases=int(len(y)),
        cv_mae=float(np.mean(np.abs(predicted - truth))), spearman=None if math.isnan(rho) else float(rho),
        source=source)
    return cal, predicted


def flag_agreement(predicted: Sequence[float], dice: Sequence[float], flag_below: float) -> dict:
    """How the flag ``predicted < flag_below`` finds the cases with ``dice < flag_below``.

    Returns ``{"failures", "flagged", "hits", "recall", "precision"}`` (recall / precision nan when undefined).
    """
    p = np.asarray(predicted) < flag_below
    t = np.asarray(dice) < flag_below
    hits = int(np.sum(p & t))
    return {"failures": int(t.sum()), "flagged": int(p.sum()), "hits": hits,
            "recall": hits / int(t.sum()) if t.any() else math.nan,
            "precision": hits / int(p.sum()) if p.any() else math.nan}
