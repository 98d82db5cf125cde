"""Step 6: lower acquisition resolution, Gaussian PSF blur, downsample and upsample back.

The PSF sigma along each axis is ``0.75 x thickness / voxel`` voxels (SynthSeg), applied only along axes
whose resolution is coarser than the voxel; the downsampled grid has ``round(n x voxel / resolution)``
voxels along each axis. Blur is separable (three 1-D convolutions).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import random as R


def draw_resolution(cfg, g: torch.Generator, voxel_mm: float) -> dict:
    """Parameters: per-axis resolution and slice thickness in mm (isotropic or one thick axis)."""
    on = R.chance(g, cfg.p_resolution)
    if not on:
        return {"on": False}
    if R.chance(g, cfg.p_anisotropic):
        axis = R.randint(g, 0, 2)
        res = [voxel_mm] * 3
        res[axis] = R.uniform(g, voxel_mm, cfg.max_slice_mm)
        thick = list(res)
        thick[axis] = max(voxel_mm, res[axis] * R.uniform(g, *cfg.thickness_fraction))
        return {"on": True, "mode": "slice", "axis": axis, "resolution_mm": res, "thickness_mm": thick}
    r = R.uniform(g, voxel_mm, cfg.max_iso_mm)
    return {"on": True, "mode": "isotropic", "resolution_mm": [r] * 3, "thickness_mm": [r] * 3}


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian, radius ceil(3 sigma), float32."""
    radius = max(1, math.ceil(3.0 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(image: torch.Tensor, sigmas) -> torch.Tensor:
    """Separable Gaussian blur of ``image`` [X, Y, Z] with per-axis ``sigmas`` in voxels (0 = none).

    Borders are replicated.
    """
    x = image[None, None]
    for axis, s in enumerate(sigmas):
        if s <= 0.05:
            continue
        k = gaussian_kernel(float(s)).to(image.device)
        r = (len(k) - 1) // 2
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = len(k)
        pad = [0, 0, 0, 0, 0, 0]
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = r
        x = F.conv3d(F.pad(x, pad, mode="replicate"), k.view(shape))
    return x[0, 0]


def apply_resolution(image: torch.Tensor, params: dict, voxel_mm: float) -> torch.Tensor:
    """Blur with the PSF, resample to the low-resolution grid and back (trilinear)."""
    if not params["on"]:
        return image
    res, thick = params["resolution_mm"], params["thickness_mm"]
    sigmas = [0.75 * t / voxel_mm if r > voxel_mm * 1.01 else 0.0 for r, t in zip(res, thick)]
    blurred = gaussian_blur(image, sigmas)
    low = [max(2, round(n * voxel_mm / r)) for n, r in zip(image.shape, res)]
    x = F.interpolate(blurred[None, None], size=low, mode="trilinear", align_corners=True)
    return F.interpolate(x, size=tuple(image.shape), mode="trilinear", align_corners=True)[0, 0]
