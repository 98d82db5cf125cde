"""Step 8: artefacts of fetal slice-to-volume super-resolution reconstructions.

* motion: the volume is cut into slabs along one axis, each slab gets its own small rigid transform
  (residual inter-slice misregistration), read through one grid; some slices are removed and filled by
  the mean of their neighbours (outlier rejection);
* cortex blur: the image is blurred inside random smooth patches of the cortical ribbon (partial volume
  and local misregistration at the cortex);
* structured white-matter noise: a smooth random field added inside the white matter;
* skull stripping: none, a tight brain mask, a mask with a halo of 1-4 voxels, or a fuzzy (blurred) border.

Intensities are on the 0-255 scale for cortex blur and WM noise (applied before normalisation), [0, 1]
for motion. Label arguments are generation-label maps (``parent``, values 0-12).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import random as R
from .inflation import dilate_box
from .resolution import gaussian_blur, smooth
from .spatial import affine_matrix, to_grid

BRAIN = tuple(range(1, 9))


def _mask(parent: torch.Tensor, values) -> torch.Tensor:
    """Voxels of the generation-label map ``parent`` whose value is in ``values``."""
    values = list(values)
    lo, hi = min(values), max(values)
    if hi - lo + 1 == len(values):
        return (parent >= lo) & (parent <= hi)
    m = torch.zeros(parent.shape, dtype=torch.bool, device=parent.device)
    for v in values:
        m |= parent == v
    return m


def _half(mask: torch.Tensor) -> torch.Tensor:
    """2x2x2 max-pool of a mask [X, Y, Z] -> float [1, 1, X/2, Y/2, Z/2] (ceil)."""
    return F.max_pool3d(mask[None, None].float(), 2, ceil_mode=True)


def _up(x: torch.Tensor, shape) -> torch.Tensor:
    return F.interpolate(x, size=tuple(shape), mode="trilinear", align_corners=False)[0, 0]


# ---------------------------------------------------------------- cortex blur
def draw_cortex_blur(cfg, g: torch.Generator) -> dict:
    on = R.chance(g, cfg.p_cortex_blur)
    if not on:
        return {"on": False}
    return {"on": True, "sigma": R.uniform(g, *cfg.cortex_blur_sigma), "coverage": R.uniform(g, 0.2, 0.8),
            "seed": R.seed(g)}


def apply_cortex_blur(image: torch.Tensor, parent: torch.Tensor, params: dict) -> torch.Tensor:
    """Blend ``image`` with its blurred copy inside random patches of the cortex (generation label 2).

    The blending weight is computed at half resolution (cortex mask max-pooled by 2, so about one
    voxel wider) and upsampled; a fraction ``coverage`` of space is inside the patches.
    """
    if not params["on"]:
        return image
    cortex = _half(_mask(parent, (2,)))
    patches = R.smooth_field([6, 6, 6], cortex.shape[2:], params["seed"], image.device)
    thr = math.sqrt(2) * torch.erfinv(torch.tensor(1 - 2 * params["coverage"])).item()  # N(0,1) quantile
    w = _up(torch.sigmoid(4.0 * (patches - thr)) * cortex, image.shape)
    blurred = smooth(image, params["sigma"])
    return image + w * (blurred - image)


# ---------------------------------------------------------------- WM noise
def draw_wm_noise(cfg, g: torch.Generator) -> dict:
    on = R.chance(g, cfg.p_wm_noise)
    if not on:
        return {"on": False}
    return {"on": True, "amplitude": R.uniform(g, *cfg.wm_noise_amplitude), "cells": R.randint(g, 8, 24),
            "seed": R.seed(g)}


def apply_wm_noise(image: torch.Tensor, parent: torch.Tensor, params: dict) -> torch.Tensor:
    """Add ``amplitude x`` a smooth N(0, 1) field (``cells`` nodes per axis) inside white matter (3, 8)."""
    if not params["on"]:
        return image
    wm = _mask(parent, (3, 8))
    n = params["cells"]
    fieldv = R.smooth_field([n, n, n], image.shape, params["seed"], image.device)[0, 0]
    return image + params["amplitude"] * fieldv * wm


# ---------------------------------------------------------------- skull strip
def draw_skull_strip(cfg, g: torch.Generator) -> dict:
    on = R.chance(g, cfg.p_skull_strip)
    if not on:
        return {"on": False, "mode": "none"}
    modes = list(cfg.skull_strip_modes)
    mode = modes[R.randint(g, 0, len(modes) - 1)]
    return {"on": mode != "none", "mode": mode, "halo": R.randint(g, *cfg.skull_strip_halo_vox),
            "sigma": R.uniform(g, 1.0, 3.0)}


def skull_strip_mask(parent: torch.Tensor, params: dict) -> torch.Tensor | None:
    """The multiplicative mask [X, Y, Z] in [0, 1] of the drawn variant (None for 'none').

    'mask': brain (generation labels 1-8); 'halo': brain dilated by a ``halo``-voxel box; 'fuzzy': the
    brain mask max-pooled by 2 (about one voxel wider), blurred by ``sigma`` voxels at half resolution
    and upsampled.
    """
    if not params["on"]:
        return None
    brain = _mask(parent, BRAIN)
    if params["mode"] == "mask":
        return brain.float()
    if params["mode"] == "halo":
        return dilate_box(brain.float(), params["halo"])
    half = _half(brain)[0, 0]
    return _up(gaussian_blur(half, [params["sigma"] / 2] * 3)[None, None], parent.shape).clamp(0, 1)


def apply_skull_strip(image: torch.Tensor, parent: torch.Tensor, params: dict) -> torch.Tensor:
    """Multiply ``image`` by :func:`skull_strip_mask`."""
    m = skull_strip_mask(parent, params)
    return image if m is None else image * m


# ---------------------------------------------------------------- SR motion
def draw_motion(cfg, g: torch.Generator) -> dict:
    on = R.chance(g, cfg.p_motion)
    if not on:
        return {"on": False}
    return {"on": True, "axis": R.randint(g, 0, 2), "slab": R.randint(g, *cfg.motion_slab_vox),
            "rotation_deg": cfg.motion_rotation_deg * R.uniform(g, 0.2, 1.0),
            "translation_vox": cfg.motion_translation_vox * R.uniform(g, 0.2, 1.0),
            "removed_fraction": R.uniform(g, *cfg.motion_removed_fraction), "seed": R.seed(g)}


def motion_coords(shape, params: dict, device) -> torch.Tensor:
    """Input voxel coordinates [X, Y, Z, 3] with one rigid transform per slab along ``axis``.

    Each slab's rotation (U(+-rotation_deg) per axis, about the volume centre) and translation
    (U(+-translation_vox)) is drawn from ``params['seed']`` on the CPU.
    """
    axis, slab = params["axis"], params["slab"]
    n = shape[axis]
    n_slabs = math.ceil(n / slab)
    gen = R.device_generator(params["seed"], "cpu")
    rot = (torch.rand((n_slabs, 3), generator=gen, dtype=torch.float64) * 2 - 1) * params["rotation_deg"]
    tr = (torch.rand((n_slabs, 3), generator=gen, dtype=torch.float64) * 2 - 1) * params["translation_vox"]
    mats = torch.stack([affine_matrix(r.tolist()) for r in rot]).float().to(device)  # [S, 3, 3]
    slice_slab = torch.arange(n, device=device) // slab
    a = mats[slice_slab]  # [n, 3, 3] per slice along axis
    t = tr.float().to(device)[slice_slab]  # [n, 3]
    c = [(s - 1) / 2 for s in shape]
    # o_j: centred coordinate along axis j, as a broadcastable 1-D view
    o = [(torch.arange(s, device=device, dtype=torch.float32) - c[j]).view([-1 if d == j else 1 for d in range(3)])
         for j, s in enumerate(shape)]

    def along(v: torch.Tensor) -> torch.Tensor:  # per-slice vector [n] -> broadcastable along axis
        return v.view([-1 if d == axis else 1 for d in range(3)])

    out = torch.empty((*shape, 3), device=device, dtype=torch.float32)
    for i in range(3):
        acc = along(t[:, i]) + c[i]
        for j in range(3):
            acc = acc + along(a[:, i, j]) * o[j]
        out[..., i] = acc.expand(*shape)
    return out


def removed_slices(n: int, params: dict) -> list[int]:
    """Indices (1..n-2) of the slices removed along the motion axis, drawn from ``params['seed'] + 1``."""
    k = int(round(params["removed_fraction"] * n))
    if k <= 0 or n < 3:
        return []
    gen = R.device_generator(params["seed"] + 1, "cpu")
    return sorted((torch.randperm(n - 2, generator=gen)[:k] + 1).tolist())


def apply_motion(image: torch.Tensor, params: dict) -> torch.Tensor:
    """Slab-wise rigid misregistration (one bilinear resampling) then removed slices filled by neighbours."""
    if not params["on"]:
        return image
    coords = motion_coords(image.shape, params, image.device)
    grid = to_grid(coords, image.shape)
    x = F.grid_sample(image[None, None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0, 0]
    axis = params["axis"]
    idx = removed_slices(image.shape[axis], params)
    if idx:
        x = x.movedim(axis, 0).clone()
        for i in idx:
            x[i] = 0.5 * (x[i - 1] + x[i + 1])
        x = x.movedim(0, axis)
    return x
