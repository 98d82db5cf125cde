"""Automatic quality control of a segmentation, without ground truth.

Three signals, computed on the model grid:

* ``agreement``: mean Dice (foreground labels present in either map: :func:`fetalseg.masks.dice_per_label`
  with ``empty='skip'``) between each member's label
  map (every TTA pass of every ensemble model) and the merged label map before post-processing;
  ``nan`` with a single member. Low agreement means the prediction is unstable.
* ``topology_errors``: on the merged label map before post-processing, the sum over foreground labels
  of ``|b0 - expected b0| + |b2 - expected b2|`` (components and cavities, FeTA 6/26 convention,
  :func:`fetalseg.masks.betti_numbers`); a missing structure counts its expected components.
* ``relabelled_fraction``: voxels changed by topological post-processing / foreground voxels.
* ``confidence``: mean, over the voxels of the merged label map's foreground, of the merged probability
  of the chosen label (1 when every voxel is certain; ``None`` when no probabilities are given).

Two scores, both "0 is best":

* **calibrated** (``qc_method='calibrated'``), when the model card carries a :class:`QCCalibration`
  (fitted by :func:`fetalseg.infer.qc_fit.fit_calibration` on segmentations with known truth, see
  ``benchmarks/bench_qc.py``): ``predicted_dice = 1 - (intercept + sum_k w_k f_k)`` clipped to [0, 1], with the
  features ``f`` of :data:`FEATURES` (each >= 0, worse when larger) and weights ``w_k >= 0``;
  ``qc_score = 1 - predicted_dice`` and the subject is flagged when ``predicted_dice < flag_below``
  (``qc_threshold = 1 - flag_below``). The calibration belongs to one model: a retrained model needs its own.
* **heuristic** (``qc_method='heuristic'``, no calibration, e.g. ensembles of differently calibrated models):
  ``qc_score = (1 - agreement) + relabelled_fraction + 0.01 * topology_errors`` (agreement taken as 1
  when ``nan``), flagged when ``qc_score > QC_THRESHOLD`` (0.10): any of a flip agreement (Dice) below 0.90,
  post-processing having to relabel 10 % of the brain, or 10 stray components or cavities.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from ..labels import FETA
from ..masks import betti_numbers, dice_per_label

#: ``qc_score`` above this flags a subject for review (heuristic score, see module docstring).
QC_THRESHOLD = 0.10

#: Features of the calibrated score, each >= 0 and worse when larger (see :func:`qc_features`).
FEATURES = ("disagreement", "relabelled_fraction", "topology_errors_per_100", "uncertainty")


@dataclass(frozen=True)
class QCCalibration:
    """A model's linear QC calibration: predicted mean Dice error from the :data:`FEATURES`.

    ``intercept`` and ``weights`` (one per feature, >= 0) predict ``1 - mean Dice`` over labels 1-7;
    ``flag_below`` is the predicted mean Dice under which a subject is flagged. ``cases``, ``cv_mae``
    (cross-validated mean absolute error of the predicted Dice), ``spearman`` and ``source`` document the fit.
    """

    intercept: float
    weights: dict = field(default_factory=dict)
    flag_below: float = 0.5
    cases: int = 0
    cv_mae: float | None = None
    spearman: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"QCCalibration.weights: unknown feature(s) {unknown}; known: {list(FEATURES)}")
        if any(not math.isfinite(float(w)) or float(w) < 0 for w in self.weights.values()):
            raise ValueError("QCCalibration.weights must be finite and >= 0")
        if not 0.0 <= float(self.flag_below) <= 1.0:
            raise ValueError(f"QCCalibration.flag_below must be in [0, 1], got {self.flag_below}")

    @classmethod
    def from_card(cls, card: dict | None) -> "QCCalibration | None":
        """The calibration stored under ``card['qc_calibration']``, or None when the card has none."""
        d = (card or {}).get("qc_calibration")
        if d is None:
            return None
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:  # a hand-edited or foreign card
            raise ValueError(f"model card {card.get('name', '?')!r}: invalid qc_calibration ({exc})") from None

    def to_dict(self) -> dict:
        return asdict(self)

    def missing(self, report: dict) -> list[str]:
        """Features with a positive weight whose signal ``report`` lacks (agreement with one member,
        confidence without probabilities): the calibration does not apply to such a report."""
        absent = {"disagreement": report.get("agreement") is None, "uncertainty": report.get("confidence") is None}
        return [k for k, w in self.weights.items() if float(w) > 0 and absent.get(k, False)]

    def predicted_dice(self, features: dict) -> float:
        """``1 - (intercept + sum w f)`` clipped to [0, 1]; a feature missing from ``features`` counts 0."""
        err = float(self.intercept) + sum(float(w) * float(features.get(k) or 0.0) for k, w in self.weights.items())
        return float(min(1.0, max(0.0, 1.0 - err)))


def dice_agreement(members: Sequence[np.ndarray], reference: np.ndarray, n_classes: int = 8) -> float:
    """Mean over ``members`` of the mean foreground Dice against ``reference``; nan if < 2 members."""
    if len(members) < 2:
        return math.nan
    scores = []
    for m in members:
        d = dice_per_label(m, reference, range(1, n_classes), empty="skip")  # labels absent from both: left out
        scores.append(float(np.mean(list(d.values()))) if d else 1.0)
    return float(np.mean(scores))


def topology_errors(labels: np.ndarray, table=FETA) -> int:
    """Sum over foreground labels of ``|b0 - e0| + |b2 - e2|`` against the table's expected Betti numbers."""
    total = 0
    for lab in table.labels:
        if lab.value == 0 or lab.betti is None:
            continue
        mask = labels == lab.value
        b0, _, b2 = betti_numbers(mask) if mask.any() else (0, 0, 0)
        total += abs(b0 - lab.betti[0]) + abs(b2 - lab.betti[2])
    return int(total)


def qc_score(agreement: float, relabelled_fraction: float, n_topology_errors: int) -> float:
    """The combined score of the module docstring (higher is worse)."""
    a = 1.0 if agreement is None or math.isnan(agreement) else float(agreement)
    return (1.0 - a) + float(relabelled_fraction) + 0.01 * int(n_topology_errors)


def mean_confidence(chosen: np.ndarray, raw: np.ndarray) -> float | None:
    """Mean over the ``raw > 0`` voxels of ``chosen``; None when ``raw`` has no foreground.

    ``raw``: an arg-max label map ``[X, Y, Z]``; ``chosen``: the probability of its label at each voxel (the
    maximum over classes, as :func:`fetalseg.infer.postprocess.label_map` returns it), same shape.
    """
    if chosen.shape != raw.shape:
        raise ValueError(f"`chosen` has shape {chosen.shape}, `raw` {raw.shape}")
    fg = raw > 0
    return float(chosen[fg].mean()) if fg.any() else None


def qc_features(report: dict) -> dict:
    """The calibrated score's :data:`FEATURES` from a :func:`qc_report` dict (missing signals count 0)."""
    agree, conf = report.get("agreement"), report.get("confidence")
    return {"disagreement": 0.0 if agree is None else 1.0 - float(agree),
            "relabelled_fraction": float(report.get("relabelled_fraction") or 0.0),
            "topology_errors_per_100": float(report.get("topology_errors") or 0) / 100.0,
            "uncertainty": 0.0 if conf is None else 1.0 - float(conf)}


def qc_report(members: Sequence[np.ndarray], raw: np.ndarray, relabelled: int, table=FETA,
              n_classes: int = 8, threshold: float = QC_THRESHOLD, chosen: np.ndarray | None = None,
              calibration: QCCalibration | None = None) -> dict:
    """QC fields for one subject: agreement, topology_errors, relabelled_fraction, confidence, qc_score,
    qc_threshold, qc_flag, qc_method (and predicted_dice when calibrated).

    ``raw`` is the merged label map before post-processing, ``chosen`` the merged probability of its label at
    each voxel (optional; gives ``confidence``), ``relabelled`` the number of voxels post-processing changed;
    ``threshold`` applies to the heuristic score only (a calibration carries its own). A calibration whose
    weighted signals are missing (:meth:`QCCalibration.missing`) is not used: the heuristic score is given.
    """
    agree = dice_agreement(members, raw, n_classes)
    fg = max(1, int(np.count_nonzero(raw)))
    conf = None if chosen is None else mean_confidence(chosen, raw)
    out = {
        "members": len(members),
        "agreement": None if math.isnan(agree) else round(agree, 4),
        "topology_errors": topology_errors(raw, table),
        "relabelled_fraction": round(relabelled / fg, 5),
        "confidence": None if conf is None else round(conf, 4),
    }
    if calibration is not None and calibration.missing(out):
        calibration = None  # e.g. no TTA: the calibration's signal is absent, a prediction would be blind
    if calibration is None:
        score, thr, method = qc_score(agree, relabelled / fg, out["topology_errors"]), float(threshold), "heuristic"
    else:
        pred = calibration.predicted_dice(qc_features(out))
        out["predicted_dice"] = round(pred, 4)
        score, thr, method = 1.0 - pred, 1.0 - float(calibration.flag_below), "calibrated"
    out.update(qc_score=round(score, 4), qc_threshold=round(thr, 4), qc_flag=bool(score > thr), qc_method=method)
    return out
