"""Normative context of a measurement: z-score, centile, flag, and the precision-weighted fusion of
the image estimate with the GA prior."""

from __future__ import annotations

import math

import numpy as np

from .. import norms

__all__ = ["LOW_CENTILE", "HIGH_CENTILE", "IMAGE_ERROR_SD", "normative", "fuse"]

LOW_CENTILE, HIGH_CENTILE = 3.0, 97.0
"""Measurements outside the 3rd-97th centile are flagged."""

IMAGE_ERROR_SD = {
    "labels": {"LCC": 0.32, "HV": 0.31, "bBIP": 0.38, "sBIP": 0.56, "TCD": 0.30},
    "segmented": {"LCC": 10.88, "HV": 4.27, "bBIP": 4.85, "sBIP": 5.10, "TCD": 6.21},
}
"""Error SD (mm, RMS of measured - truth) of the geometric image measurement against phantom truth,
for a given FeTA label map ('labels') and for labels from ``fetalseg.segment`` with the shipped
model ('segmented': the leg-7 model with its default pipeline; the callosum's large error makes the fusion
lean on the GA prior for LCC, the diameters' small ones on the image). Measured by
``benchmarks/bench_biometry.py --seed-base 2000 --n 15`` (15 calibration phantoms, GA 20-38, all
pathologies, 5 sites; the evaluation cohort uses seeds 1000+); re-measure whenever the default model changes."""


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


def fuse(value: float, image_sd: float, prior_mean: float, prior_sd: float) -> tuple[float, float, str]:
    """Precision-weighted combination of an image measurement and the GA prior.

    ``fused = w value + (1 - w) prior_mean`` with ``w = prior_sd^2 / (prior_sd^2 + image_sd^2)``
    (the posterior mean of a normal prior and a normal measurement error). Returns
    ``(fused, w, source)`` with source 'image' when ``w >= 0.95``, else 'fused'. A NaN image value
    stays NaN (source 'missing'): an absent structure is never replaced by the prior.
    """
    if not math.isfinite(value):
        return float("nan"), 0.0, "missing"
    if image_sd <= 0 or prior_sd <= 0:
        raise ValueError(f"image_sd and prior_sd must be positive, got {image_sd}, {prior_sd}")
    w = prior_sd**2 / (prior_sd**2 + image_sd**2)
    fused = float(w * value + (1 - w) * prior_mean)
    return fused, float(w), "image" if w >= 0.95 else "fused"


def centile_lines(measure: str, ga: np.ndarray, centiles=(3.0, 50.0, 97.0)) -> dict[float, np.ndarray]:
    """Norm centile curves (mm) of ``measure`` over ``ga`` (weeks): ``mean + z_c SD``."""
    from statistics import NormalDist

    mean, sd = norms.norm_mean(measure, ga), norms.norm_sd(measure, ga)
    return {c: mean + NormalDist().inv_cdf(c / 100.0) * sd for c in centiles}
