"""Step 3: Gaussian-mixture contrast, one Gaussian per intensity sub-class (SynthSeg).

Intensities are on the 0-255 scale. Sub-class values follow :mod:`fetalseg.synth.subclasses`
(``value = parent + STRIDE * k``). Means are U(mean_range) and stds U(std_range) per sub-class, or, in the
"fetal T2 prior" mode, drawn around the usual fetal T2w ordering (fluid brightest, unmyelinated white
matter brighter than grey matter, deep grey matter and brainstem dark).
"""

from __future__ import annotations

import torch

from . import random as R
from .subclasses import STRIDE, TABLE_SIZE

# Typical fetal T2w intensity of each generation label on a 0-255 scale (SR reconstructions, 20-35 w).
T2_PRIOR: dict[int, float] = {
    0: 15.0, 1: 215.0, 2: 85.0, 3: 150.0, 4: 225.0, 5: 105.0, 6: 95.0, 7: 90.0,
    8: 80.0, 9: 35.0, 10: 120.0, 11: 235.0, 12: 100.0,
}


def draw_contrast(cfg, values: list[int], g: torch.Generator) -> dict:
    """Per-sub-class means and stds (JSON-able) for the sub-class ``values`` present in the map.

    Background sub-class 0 gets mean 0 and std 0 when ``background_zero`` is drawn.
    """
    values = sorted(int(v) for v in values)
    t2 = R.chance(g, cfg.p_t2_prior)
    bg_zero = R.chance(g, cfg.p_background_zero)
    means, stds = [], []
    if t2:
        gain = R.uniform(g, 0.75, 1.15)
        label_gain = {lab: R.uniform(g, 0.85, 1.15) for lab in sorted(T2_PRIOR)}
    for v in values:
        parent, k = v % STRIDE, v // STRIDE
        if t2:
            if parent == 0 and k > 0:  # non-brain tissue with signal
                m = R.uniform(g, 20.0, 200.0)
            else:
                m = T2_PRIOR.get(parent, 128.0) * gain * label_gain.get(parent, 1.0) + R.normal(g, 0.0, 8.0)
            s = R.uniform(g, 1.0, 12.0)
        else:
            m = R.uniform(g, *cfg.mean_range)
            s = R.uniform(g, *cfg.std_range)
        if v == 0 and bg_zero:
            m, s = 0.0, 0.0
        means.append(float(min(max(m, 0.0), 255.0)))
        stds.append(float(s))
    return {"t2_prior": t2, "background_zero": bg_zero, "values": values, "means": means, "stds": stds,
            "seed": R.seed(g)}


def gmm_image(labels: torch.Tensor, params: dict) -> torch.Tensor:
    """Intensity image ``mean[label] + std[label] * N(0, 1)``, float32 like ``labels`` [X, Y, Z].

    Lookup by gather from a per-sub-class table, so the cost does not depend on the number of classes.
    Values absent from ``params['values']`` get mean 0, std 0.
    """
    dev = labels.device
    mean_t = torch.zeros(TABLE_SIZE, device=dev)
    std_t = torch.zeros(TABLE_SIZE, device=dev)
    idx = torch.tensor(params["values"], device=dev, dtype=torch.long)
    mean_t[idx] = torch.tensor(params["means"], device=dev, dtype=torch.float32)
    std_t[idx] = torch.tensor(params["stds"], device=dev, dtype=torch.float32)
    gen = R.device_generator(params["seed"], dev)
    noise = torch.randn(labels.shape, generator=gen, device=dev, dtype=torch.float32)
    return mean_t[labels] + std_t[labels] * noise


def draw_gamma(cfg, g: torch.Generator) -> dict:
    """Step 5 parameters: ``gamma = exp(N(0, gamma_std))``."""
    on = R.chance(g, cfg.p_gamma)
    return {"on": on, "gamma": float(torch.tensor(R.normal(g, 0.0, cfg.gamma_std)).exp()) if on else 1.0}


def apply_gamma(image: torch.Tensor, params: dict) -> torch.Tensor:
    """``image ** gamma`` for an image in [0, 1]."""
    if not params["on"]:
        return image
    return image.clamp(0.0, 1.0) ** params["gamma"]


def normalise(image: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Min-max normalisation to [0, 1]; returns the image and ``{'low', 'high'}`` (the inverse map)."""
    lo, hi = float(image.min()), float(image.max())
    if hi - lo < 1e-12:
        return torch.zeros_like(image), {"low": lo, "high": hi}
    return (image - lo) / (hi - lo), {"low": lo, "high": hi}
