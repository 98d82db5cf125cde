"""Overlap metrics of two binary masks: Dice and volume similarity (FeTA definitions).

Dice is :func:`fetalseg.masks.dice_from_counts` with the FeTA policy for two empty masks (1.0).
"""

from __future__ import annotations

import numpy as np

from ..masks import overlap as _overlap
from ..masks.overlap import confusion

__all__ = ["confusion", "dice", "volume_similarity", "dice_from_counts", "vs_from_counts"]


def dice_from_counts(tp: int, fp: int, fn: int) -> float:
    """Dice = 2TP / (2TP + FP + FN); 1.0 when both masks are empty (perfect agreement on absence)."""
    return _overlap.dice_from_counts(tp, fp, fn, empty="one")


def vs_from_counts(tp: int, fp: int, fn: int) -> float:
    """Volume similarity = 1 - |FN - FP| / (2TP + FP + FN); 1.0 when both masks are empty."""
    den = 2 * tp + fp + fn
    return 1.0 if den == 0 else 1.0 - abs(fn - fp) / den


def dice(gt: np.ndarray, pred: np.ndarray) -> float:
    """Dice coefficient of two binary masks in [0, 1] (symmetric); 1.0 when both are empty."""
    return dice_from_counts(*confusion(gt, pred))


def volume_similarity(gt: np.ndarray, pred: np.ndarray) -> float:
    """Volume similarity 1 - |V_pred - V_gt| / (V_pred + V_gt) in [0, 1]; 1.0 when both are empty."""
    return vs_from_counts(*confusion(gt, pred))
