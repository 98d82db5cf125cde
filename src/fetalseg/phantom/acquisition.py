"""Acquisition model: site presets, point-spread function, motion, bias field, noise, quality score.

A fetal super-resolution (SR) volume is reconstructed from stacks of thick 2-D slices acquired
under fetal motion. The model applies, to a noise-free image on the output grid:

- blur: an anisotropic Gaussian point-spread function, in-plane FWHM ``psf_mm`` and through-plane
  FWHM ``slice_mm`` scaled by the SR deblurring factor ``sr_residual`` (partial volume);
- motion: a fraction ``motion`` of slices along the slice axis is corrupted as in SR outliers
  that the reconstruction did not reject (shifted by a few voxels, rescaled, extra blur);
- a smooth multiplicative bias field of strength ``bias`` (log-amplitude SD);
- Rician noise of SD ``noise`` (relative to amniotic fluid = 1).

``quality_score`` maps these factors to a 0-4 rating (4 excellent, 0 unusable).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .contrast import smooth_field

# Named sites: contrast scale, gamma, fluid scale, resolution and artefact levels.
SITES: dict[str, dict[str, float]] = {
    "default": dict(contrast=1.00, gamma=1.00, csf=1.00, psf_mm=0.9, slice_mm=3.0, sr_residual=0.35,
                    noise=0.025, bias=0.10, motion=0.00, texture=0.03),
    "siteA": dict(contrast=1.00, gamma=1.00, csf=1.00, psf_mm=1.1, slice_mm=4.0, sr_residual=0.40,
                  noise=0.035, bias=0.12, motion=0.03, texture=0.035),
    "siteB": dict(contrast=1.20, gamma=0.85, csf=0.95, psf_mm=0.8, slice_mm=3.0, sr_residual=0.30,
                  noise=0.020, bias=0.30, motion=0.05, texture=0.04),
    "siteC": dict(contrast=0.70, gamma=1.15, csf=1.05, psf_mm=1.3, slice_mm=3.5, sr_residual=0.40,
                  noise=0.040, bias=0.18, motion=0.08, texture=0.03),
    "siteD": dict(contrast=0.90, gamma=1.30, csf=0.90, psf_mm=1.5, slice_mm=4.5, sr_residual=0.50,
                  noise=0.060, bias=0.22, motion=0.15, texture=0.05),
    "siteE": dict(contrast=1.10, gamma=0.95, csf=1.00, psf_mm=0.7, slice_mm=2.0, sr_residual=0.25,
                  noise=0.015, bias=0.08, motion=0.01, texture=0.03),
}
SITE_ORDER = ("siteA", "siteB", "siteC", "siteD", "siteE")
"""Order in which a cohort takes sites (``make_cohort(sites=N)`` uses the first N)."""

FACTORS = ("psf_mm", "slice_mm", "sr_residual", "noise", "bias", "motion")


def draw_acquisition(site: str | None, rng: np.random.Generator) -> dict[str, float]:
    """Per-subject acquisition factors: the site preset with +-15 % jitter on every factor."""
    name = "default" if site is None else site
    if name not in SITES:
        raise ValueError(f"unknown site {site!r}; known: {', '.join(SITES)}")
    base = SITES[name]
    jit = rng.uniform(0.85, 1.15, size=len(base))
    acq = {k: float(v * j) for (k, v), j in zip(base.items(), jit)}
    acq["contrast"] = base["contrast"]
    acq["gamma"] = base["gamma"]
    acq["csf"] = base["csf"]
    acq["slice_axis"] = float(rng.integers(0, 3))
    acq["seed_motion"] = float(rng.integers(0, 2**31 - 1))
    return acq


def quality_score(acq: dict[str, float], voxel: float) -> float:
    """Quality rating 0-4 (4 excellent) from the acquisition factors (one decimal).

    Penalties: noise above 0.02 (up to 1.5), through-plane blur after SR above the voxel size (up
    to 1), in-plane PSF above 1 mm (up to 0.5), motion-corrupted slice fraction (3 points per 10 %,
    up to 2), bias above 0.15 (up to 0.5).
    """
    eff_slice = acq["slice_mm"] * acq["sr_residual"]
    pen = min(1.5, max(0.0, (acq["noise"] - 0.02) / 0.02))
    pen += min(1.0, max(0.0, (eff_slice - max(voxel, 0.8)) / 1.0))
    pen += min(0.5, max(0.0, acq["psf_mm"] - 1.0))
    pen += min(2.0, 30.0 * acq["motion"])
    pen += min(0.5, max(0.0, (acq["bias"] - 0.15) / 0.3))
    return round(float(np.clip(4.0 - pen, 0.0, 4.0)), 1)


def acquire(img: np.ndarray, voxel: float, acq: dict[str, float]) -> np.ndarray:
    """Apply blur, motion, bias and Rician noise to a noise-free image (float32, returned new).

    Deterministic given ``acq`` (its ``seed_motion`` seeds every random draw here).
    """
    rng = np.random.default_rng(int(acq["seed_motion"]))
    axis = int(acq["slice_axis"])
    fwhm = np.full(3, acq["psf_mm"])
    fwhm[axis] = max(acq["psf_mm"], acq["slice_mm"] * acq["sr_residual"])
    sigma = fwhm / 2.3548 / voxel
    out = ndi.gaussian_filter(img, sigma=sigma, mode="nearest", truncate=3.0).astype(np.float32)
    # motion-corrupted slices left in by the reconstruction
    n_slices = out.shape[axis]
    k = int(round(acq["motion"] * n_slices))
    if k:
        idx = np.sort(rng.choice(n_slices, size=k, replace=False))
        for i in idx:
            sl = [slice(None)] * 3
            sl[axis] = i
            plane = out[tuple(sl)]
            shift = rng.integers(-3, 4, size=2)
            plane = np.roll(plane, tuple(int(s) for s in shift), axis=(0, 1))
            plane = ndi.gaussian_filter(plane, sigma=rng.uniform(0.5, 1.5)) * rng.uniform(0.8, 1.2)
            out[tuple(sl)] = plane
    if acq["bias"] > 0:
        out *= np.exp(acq["bias"] * smooth_field(out.shape, 2, rng)).astype(np.float32)
    s = acq["noise"]
    if s > 0:
        re = out + s * rng.standard_normal(out.shape, dtype=np.float32)
        im = s * rng.standard_normal(out.shape, dtype=np.float32)
        out = np.sqrt(re * re + im * im)
    return out.astype(np.float32)
