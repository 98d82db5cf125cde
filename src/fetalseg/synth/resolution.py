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


def _blur_axis(x: torch.Tensor, axis: int, sigma: float, stride: int = 1) -> torch.Tensor:
    """1-D Gaussian along spatial ``axis`` (0-2) of ``x`` [1, 1, X, Y, Z], replicate borders, strided."""
    k = gaussian_kernel(float(sigma)).to(x.device, x.dtype)
    r = (len(k) - 1) // 2
    shape = [1, 1, 1, 1, 1]
    shape[2 + axis] = len(k)
    pad = [0, 0, 0, 0, 0, 0]
    pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = r
    strides = [1, 1, 1]
    strides[axis] = max(1, int(stride))
    return F.conv3d(F.pad(x, pad, mode="replicate"), k.view(shape), stride=strides)


def gaussian_blur(image: torch.Tensor, sigmas) -> torch.Tensor:
    """Separable Gaussian blur of ``image`` [X, Y, Z] with per-axis ``sigmas`` in voxels (0 = none).

    Borders are replicated; kernels have radius ceil(3 sigma).
    """
    x = image[None, None]
    for axis, s in enumerate(sigmas):
        if s > 0.05:
            x = _blur_axis(x, axis, s)
    return x[0, 0]


def smooth(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Fast approximate isotropic Gaussian blur (sigma in voxels) for masks and soft artefacts.

    Computed at half resolution (2x2x2 mean, blur by sigma / 2, trilinear upsampling), which is
    roughly an isotropic Gaussian of std ``sqrt(sigma^2 + 0.5)`` voxels; sigmas below 1 blur at full
    resolution.
    """
    if sigma < 1.0 or min(image.shape) < 8:
        return gaussian_blur(image, [sigma] * 3)
    x = F.avg_pool3d(image[None, None], 2, ceil_mode=True)
    for axis in range(3):
        x = _blur_axis(x, axis, sigma / 2)
    return F.interpolate(x, size=tuple(image.shape), mode="trilinear", align_corners=False)[0, 0]


def apply_resolution(image: torch.Tensor, params: dict, voxel_mm: float) -> torch.Tensor:
    """Blur with the PSF, resample to the low-resolution grid and back.

    Along each coarser axis (``n`` voxels, resolution ``r``) the image is area-averaged onto the
    ``m = round(n x voxel / r)`` low-resolution voxels (a box of width ``f = n / m``, variance about
    ``(f^2 - 1) / 12`` voxels^2) and then blurred on the low grid by a Gaussian carrying the rest of the PSF
    variance, ``sigma^2 - (f^2 - 1) / 12`` with ``sigma = 0.75 x thickness / voxel``; this is the Gaussian
    PSF followed by sampling, at the cost of work on the small grid. (When the box alone is wider than
    the PSF, e.g. thin slices with a gap, the box is kept.) The result is trilinearly upsampled.
    """
    if not params["on"]:
        return image
    res, thick = params["resolution_mm"], params["thickness_mm"]
    x = image[None, None]
    size = list(image.shape)
    for axis, (r, t) in enumerate(zip(res, thick)):
        if r <= voxel_mm * 1.01:
            continue
        n = image.shape[axis]
        m = max(2, round(n * voxel_mm / r))
        size[axis] = m
        x = F.adaptive_avg_pool3d(x, tuple(size))
        f = n / m
        rest = max((0.75 * t / voxel_mm) ** 2 - (f * f - 1) / 12.0, 0.0) ** 0.5 / f
        if rest > 0.2:
            x = _blur_axis(x, axis, rest)
    if tuple(size) == tuple(image.shape):
        return image
    return F.interpolate(x, size=tuple(image.shape), mode="trilinear", align_corners=False)[0, 0]
