"""Intensity normalisation shared by training (validation images) and inference."""

from __future__ import annotations

import numpy as np

#: The intensity normalisation a model expects unless its card says otherwise (model cards'
#: ``normalisation`` field): percentiles 0.5 and 99.5 mapped to 0 and 1.
DEFAULT_NORMALISATION = {"method": "percentile", "low": 0.5, "high": 99.5}


def normalise_percentile(data: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Map intensities linearly so that the ``low`` and ``high`` percentiles become 0 and 1, clipped.

    Percentiles (0-100) are taken over every voxel of ``data`` (a deterministic 1-in-8 subsample,
    every second voxel along each axis, for volumes over 2 million voxels). A constant image maps
    to zeros. Returns float32 of the same shape with values in [0, 1].
    """
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {low}, {high}")
    data = np.asarray(data, dtype=np.float32)
    sample = data[::2, ::2, ::2] if data.size > 2_000_000 else data
    lo, hi = np.percentile(sample, [low, high])
    if not hi > lo:
        return np.zeros(data.shape, np.float32)
    out = (data - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    np.clip(out, 0.0, 1.0, out=out)
    return out
