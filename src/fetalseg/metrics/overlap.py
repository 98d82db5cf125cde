"""Overlap metrics of two binary masks: Dice and volume similarity (FeTA definitions)."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion", "dice", "volume_similarity", "dice_from_counts", "vs_from_counts"]


def confusion(gt: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    """Voxel counts ``(TP, FP, FN)`` of ``pred`` against ``gt`` (same shape, nonzero is foreground)."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"masks differ in shape: {gt.shape} and {pred.shape}")
    g = gt if gt.dtype == bool else gt != 0
    p = pred if pred.dtype == bool else pred != 0
    tp = int(np.count_nonzero(g & p))
    return tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(g)) - tp


def dice_from_counts(tp: int, fp: int, fn: int) -> float:
    """Dice = 2TP / (2TP + FP + FN); 1.0 when both masks are empty (perfect agreement on absence)."""
    den = 2 * tp + fp + fn
    return 1.0 if den == 0 else 2.0 * tp / den


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
