"""Fetal T2-weighted tissue contrast as a function of gestational age.

Intensities are relative to amniotic fluid (= 1.0). Fetal T2w ordering: fluid (amniotic, CSF,
ventricles) brightest; unmyelinated white matter bright (and brighter still in the subplate just
under the cortex before ~32 w); cerebellum intermediate; cortex, deep grey matter and (with
myelination) the brainstem dark; skull darkest. With age, white matter and deep grey matter
darken slowly (maturation, myelination of the posterior limb and brainstem).
"""

from __future__ import annotations

import numpy as np

from .codes import AMNIOTIC, BS, CBM, CC, DGM, ECSF, FLUIDS, GM, MATERNAL, N_LABELS, SCALP, SKULL, VENT, WM

BRAIN = (GM, WM, CBM, DGM, BS, CC)
"""Brain tissues whose mean is the pivot of the site contrast."""


def tissue_means(ga: float) -> np.ndarray:
    """Mean T2w intensity of every GENERATION label (indexed by label value) at gestational age ``ga`` (weeks)."""
    a = float(np.clip((ga - 20.0) / 18.0, 0.0, 1.0))
    m = np.zeros(N_LABELS, dtype=np.float64)
    m[ECSF] = 0.95
    m[GM] = 0.34 - 0.04 * a
    m[WM] = 0.66 - 0.10 * a  # unmyelinated
    m[VENT] = 0.93
    m[CBM] = 0.50 - 0.08 * a
    m[DGM] = 0.40 - 0.10 * a  # the thalami darken
    m[BS] = 0.46 - 0.16 * a  # myelinates early
    m[CC] = 0.55 - 0.08 * a
    m[SKULL] = 0.10
    m[SCALP] = 0.42  # scalp and fetal soft tissue
    m[AMNIOTIC] = 1.00
    m[MATERNAL] = 0.36  # uterine wall, placenta, muscle
    return m


def apply_site_contrast(means: np.ndarray, contrast: float, gamma: float, csf: float) -> np.ndarray:
    """Site contrast: scale deviations from the brain mean by ``contrast``, then a power ``gamma``.

    ``csf`` rescales the fluid intensities (external CSF, ventricles, amniotic fluid) before that,
    e.g. to mimic bSSFP.
    """
    m = means.copy()
    m[list(FLUIDS)] *= csf
    brain = m[list(BRAIN)].mean()
    m[1:] = np.clip(brain + contrast * (m[1:] - brain), 0.02, None)
    return np.clip(m, 0.0, None) ** gamma


def smooth_field(shape: tuple[int, int, int], cells: int, rng: np.random.Generator, terms: int = 8) -> np.ndarray:
    """Zero-mean, unit-SD smooth random field (float32) of ``shape``.

    A sum of ``terms`` separable products ``u(x) v(y) w(z)`` of 1-D random functions, each
    linearly interpolated from about ``cells`` random values: band limited to about ``cells``
    cycles per axis, and cheap (outer products instead of 3-D interpolation).
    """
    f = np.zeros(shape, dtype=np.float32)
    for _ in range(terms):
        fac = []
        for n in shape:
            knots = rng.standard_normal(cells + 1)
            fac.append(np.interp(np.linspace(0.0, cells, n), np.arange(cells + 1), knots).astype(np.float32))
        f += fac[0][:, None, None] * fac[1][None, :, None] * fac[2][None, None, :]
    f -= f.mean()
    sd = float(f.std())
    return f / sd if sd > 0 else f


def render(labels: np.ndarray, depth: np.ndarray, ga: float, means: np.ndarray, texture: float,
           rng: np.random.Generator) -> np.ndarray:
    """Noise-free T2w image (float32, same shape as ``labels``) before acquisition.

    Parameters
    ----------
    labels : uint8 GENERATION labels.
    depth : float32 cortical depth field (mm, negative inside the cerebrum), used to brighten the
        subplate (white matter 1-4 mm under the cortex) before ~32 weeks.
    means : per-label intensities (see :func:`tissue_means`).
    texture : relative SD of smooth within-tissue variation (e.g. 0.04).
    """
    img = means.astype(np.float32)[labels]
    subplate = float(np.clip((33.0 - ga) / 10.0, 0.0, 1.0)) * 0.12
    if subplate > 0:
        wm = labels == WM
        dd = -depth[wm]
        img[wm] += subplate * np.exp(-((dd - 3.0) / 1.8) ** 2).astype(np.float32)
    if texture > 0:
        n = max(4, int(max(labels.shape) / 12))
        img *= 1.0 + texture * smooth_field(labels.shape, n, rng)
    return img
