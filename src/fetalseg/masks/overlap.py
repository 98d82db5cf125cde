"""Overlap of binary masks and label maps: voxel counts and the Dice coefficient.

One Dice rule, ``2 |P ∩ T| / (|P| + |T|)``, with an explicit policy for a label that is absent
from both maps (where Dice is 0/0):

* ``'one'``: 1.0, perfect agreement on absence (the FeTA metrics, :mod:`fetalseg.metrics`);
* ``'nan'``: NaN, to be left out of later means (training validation);
* ``'skip'``: the label is left out of the result (QC agreement between predictions).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

__all__ = ["EMPTY_POLICIES", "confusion", "dice_from_counts", "dice_per_label", "label_overlap"]

EMPTY_POLICIES = ("one", "nan", "skip")


def confusion(gt: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    """Voxel counts ``(TP, FP, FN)`` of ``pred`` against ``gt`` (same shape, nonzero is foreground)."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"masks differ in shape: {gt.shape} and {pred.shape}")
    g = gt if gt.dtype == bool else gt != 0
    p = pred if pred.dtype == bool else pred != 0
    tp = int(np.count_nonzero(g & p))
    return tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(g)) - tp


def dice_from_counts(tp: int, fp: int, fn: int, *, empty: str) -> float:
    """Dice = 2TP / (2TP + FP + FN) from voxel counts.

    ``empty`` ('one' or 'nan') is the value when both masks are empty (``2TP + FP + FN == 0``):
    1.0 or NaN (see the module docstring; 'skip' has no meaning for a single pair of masks).
    """
    if empty not in ("one", "nan"):
        raise ValueError(f"empty must be 'one' or 'nan' for a single Dice, got {empty!r}")
    den = 2 * tp + fp + fn
    if den == 0:
        return 1.0 if empty == "one" else math.nan
    return 2.0 * tp / den


def label_overlap(pred: np.ndarray, target: np.ndarray, labels: Iterable[int]):
    """Per label of ``labels``: ``(|P ∩ T|, |P|, |T|)`` voxel counts as three int64 arrays.

    ``pred`` and ``target`` are label maps of the same shape with non-negative integer values; one
    joint histogram of the two maps gives every count at once.
    """
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape:
        raise ValueError(f"label maps differ in shape: {p.shape} and {t.shape}")
    labels = [int(v) for v in labels]
    if any(v < 0 for v in labels):
        raise ValueError(f"labels must be non-negative, got {labels}")
    p, t = p.ravel().astype(np.int64), t.ravel().astype(np.int64)
    n = max([*labels, int(p.max()) if p.size else 0, int(t.max()) if t.size else 0]) + 1
    if p.size and min(int(p.min()), int(t.min())) < 0:
        raise ValueError("label maps must hold non-negative integers")
    joint = np.bincount(t * n + p, minlength=n * n).reshape(n, n)
    return np.diag(joint)[labels], joint.sum(axis=0)[labels], joint.sum(axis=1)[labels]


def dice_per_label(pred: np.ndarray, target: np.ndarray, labels: Iterable[int], *, empty: str) -> dict[int, float]:
    """Dice ``2|P∩T| / (|P| + |T|)`` of each label of ``labels`` between two label maps.

    Parameters
    ----------
    pred, target : ndarray of non-negative integers, same shape
        Label maps (Dice is symmetric in them).
    labels : iterable of int
        Label values to score.
    empty : {'one', 'nan', 'skip'}
        A label absent from both maps gives 1.0, NaN, or no entry (module docstring). Required:
        every caller states its policy.

    Returns
    -------
    dict[int, float]
        ``{label: dice}`` in the order of ``labels``.
    """
    if empty not in EMPTY_POLICIES:
        raise ValueError(f"empty must be one of {', '.join(EMPTY_POLICIES)}, got {empty!r}")
    labels = [int(v) for v in labels]
    inter, n_pred, n_target = label_overlap(pred, target, labels)
    out = {}
    for v, i, s in zip(labels, inter.tolist(), (n_pred + n_target).tolist()):
        if s == 0:
            if empty != "skip":
                out[v] = 1.0 if empty == "one" else math.nan
            continue
        out[v] = 2.0 * i / s
    return out
