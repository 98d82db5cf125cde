"""Normative context of a measurement: z-score, centile, flag and centile curves under the packaged
norms (the fusion with the GA prior is in :mod:`fetalseg.biometry.fusion`)."""

from __future__ import annotations

import math

import numpy as np

from .. import norms

__all__ = ["LOW_CENTILE", "HIGH_CENTILE", "normative", "centile_lines"]

LOW_CENTILE, HIGH_CENTILE = 3.0, 97.0
"""Measurements outside the 3rd-97th centile are flagged."""

def normative(measure: str, value: float, ga: float) -> dict:
    """z-score, centile (0-100, normal CDF) and flag of ``value`` (mm) at ``ga`` weeks under the
    packaged norms; NaN entries and flag ``None`` for a NaN value.

    The flag is 'low' below the 3rd centile, 'high' above the 97th, else 'normal'.
    """
    if not math.isfinite(value):
        return {"z": float("nan"), "centile": float("nan"), "flag": None,
                "norm_mean": norms.norm_mean(measure, ga), "norm_sd": norms.norm_sd(measure, ga)}
    z = float(norms.zscore(measure, value, ga))
    c = float(norms.centile(measure, value, ga))
    flag = "low" if c < LOW_CENTILE else "high" if c > HIGH_CENTILE else "normal"
    return {"z": z, "centile": c, "flag": flag, "norm_mean": norms.norm_mean(measure, ga),
            "norm_sd": norms.norm_sd(measure, ga)}


def centile_lines(measure: str, ga: np.ndarray, centiles=(3.0, 50.0, 97.0)) -> dict[float, np.ndarray]:
    """Norm centile curves (mm) of ``measure`` over ``ga`` (weeks): ``mean + z_c SD``."""
    from statistics import NormalDist

    mean, sd = norms.norm_mean(measure, ga), norms.norm_sd(measure, ga)
    return {c: mean + NormalDist().inv_cdf(c / 100.0) * sd for c in centiles}
