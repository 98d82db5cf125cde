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

``qc_score = (1 - agreement) + relabelled_fraction + 0.01 * topology_errors`` (agreement taken as 1
when ``nan``); 0 is a perfect, stable, topologically clean segmentation. A subject is flagged for
visual review when ``qc_score > QC_THRESHOLD`` (0.10): this is reached by any of a flip agreement
(Dice) below 0.90, post-processing having to relabel 10 % of the brain, or 10 stray components or
cavities; the threshold is a heuristic to calibrate on a cohort's score distribution.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..labels import FETA
from ..masks import betti_numbers, dice_per_label

#: ``qc_score`` above this flags a subject for review (see module docstring).
QC_THRESHOLD = 0.10


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


def qc_report(members: Sequence[np.ndarray], raw: np.ndarray, relabelled: int, table=FETA,
              n_classes: int = 8, threshold: float = QC_THRESHOLD) -> dict:
    """QC fields for one subject: agreement, topology_errors, relabelled_fraction, qc_score, qc_flag.

    ``raw`` is the merged label map before post-processing, ``relabelled`` the number of voxels
    post-processing changed.
    """
    agree = dice_agreement(members, raw, n_classes)
    topo = topology_errors(raw, table)
    fg = max(1, int(np.count_nonzero(raw)))
    frac = relabelled / fg
    score = qc_score(agree, frac, topo)
    return {
        "members": len(members),
        "agreement": None if math.isnan(agree) else round(agree, 4),
        "topology_errors": topo,
        "relabelled_fraction": round(frac, 5),
        "qc_score": round(score, 4),
        "qc_flag": bool(score > threshold),
    }
