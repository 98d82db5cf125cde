"""Fetal T2-weighted tissue contrast as a function of gestational age.

Intensities are relative to amniotic fluid (= 1.0). Fetal T2w ordering: fluid (amniotic, CSF,
ventricles) brightest; unmyelinated white matter bright (and brighter still in the subplate just
under the cortex before ~32 w); cerebellum intermediate; cortex, deep grey matter and (with
myelination) the brainstem dark; skull darkest. With age, white matter and deep grey matter
darken slowly (maturation, myelination of the posterior limb and brainstem).
"""

from __future__ import annotations

import numpy as np


def tissue_means(ga: float) -> np.ndarray:
    """Mean T2w intensity of every GENERATION label (index 0-12) at gestational age ``ga`` (weeks)."""
    a = float(np.clip((ga - 20.0) / 18.0, 0.0, 1.0))
    m = np.zeros(13, dtype=np.float64)
    m[0] = 0.0
    m[1] = 0.95  # external CSF
    m[2] = 0.34 - 0.04 * a  # cortical grey matter
    m[3] = 0.66 - 0.10 * a  # white matter (unmyelinated)
    m[4] = 0.93  # ventricles
    m[5] = 0.50 - 0.08 * a  # cerebellum
    m[6] = 0.40 - 0.10 * a  # deep grey matter (thalami darken)
    m[7] = 0.46 - 0.16 * a  # brainstem (myelinates early)
    m[8] = 0.55 - 0.08 * a  # corpus callosum
    m[9] = 0.10  # skull
    m[10] = 0.42  # scalp and fetal soft tissue
    m[11] = 1.00  # amniotic fluid
    m[12] = 0.36  # maternal tissue (uterine wall, placenta, muscle)
    return m


def apply_site_contrast(means: np.ndarray, contrast: float, gamma: float, csf: float) -> np.ndarray:
    """Site contrast: scale deviations from the brain mean by ``contrast``, then a power ``gamma``.

    ``csf`` rescales the fluid intensities (labels 1, 4, 11) before that, e.g. to mimic bSSFP.
    """
    m = means.copy()
    m[[1, 4, 11]] *= csf
    brain = m[[2, 3, 5, 6, 7, 8]].mean()
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
        wm = labels == 3
        dd = -depth[wm]
        img[wm] += subplate * np.exp(-((dd - 3.0) / 1.8) ** 2).astype(np.float32)
    if texture > 0:
        n = max(4, int(max(labels.shape) / 12))
        img *= 1.0 + texture * smooth_field(labels.shape, n, rng)
    return img
