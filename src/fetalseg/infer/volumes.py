"""Tissue volumes in mm^3 from soft posteriors (sum of probabilities x voxel volume) or hard labels."""

from __future__ import annotations

import numpy as np


def soft_volumes(probs: np.ndarray, voxel_volume: float) -> np.ndarray:
    """Per-class soft volume ``sum(p_c) * voxel_volume`` in mm^3; ``probs`` is ``(C, ...)``; shape (C,) float64.

    Because probabilities sum to 1 per voxel, the classes (background included) sum to the field
    of view's volume, and the foreground classes to the soft brain volume.
    """
    probs = np.asarray(probs)
    if probs.ndim < 2:
        raise ValueError(f"probs must be (C, ...), got shape {probs.shape}")
    flat = probs.reshape(probs.shape[0], -1)
    return flat.sum(axis=1, dtype=np.float64) * float(voxel_volume)


def hard_volumes(labels: np.ndarray, voxel_volume: float, n_classes: int) -> np.ndarray:
    """Per-label voxel count x ``voxel_volume`` (mm^3) for labels ``0 .. n_classes-1``; shape (C,) float64."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=n_classes)[:n_classes]
    return counts.astype(np.float64) * float(voxel_volume)


def volume_row(soft: np.ndarray, table, *, prefix: str = "") -> dict[str, float]:
    """``{'<short>_mm3': volume}`` for foreground labels plus ``brain_mm3`` (their sum)."""
    row = {}
    for lab in table.labels:
        if lab.value == 0 or lab.value >= len(soft):
            continue
        row[f"{prefix}{lab.short}_mm3"] = round(float(soft[lab.value]), 3)
    row[f"{prefix}brain_mm3"] = round(float(np.sum(soft[1:])), 3)
    return row
