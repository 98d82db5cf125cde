"""Step 8: artefacts of fetal slice-to-volume super-resolution reconstructions.

* motion: the volume is cut into slabs along one axis, each slab gets its own small rigid transform
  (residual inter-slice misregistration), read through one grid; some slices are removed and filled by
  the mean of their neighbours (outlier rejection);
* cortex blur: the image is blurred inside random smooth patches of the cortical ribbon (partial volume
  and local misregistration at the cortex);
* structured white-matter noise: a smooth random field added inside the white matter;
* skull stripping: none, a tight brain mask, a mask with a halo of 1-4 voxels, or a fuzzy (blurred) border.

Intensities are on the 0-255 scale for cortex blur and WM noise (applied before normalisation), [0, 1]
for motion. Labels are generation labels (or sub-class values, parent = value % 16).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import random as R
from .inflation import dilate_box
from .resolution import gaussian_blur
from .spatial import affine_matrix, to_grid
from .subclasses import STRIDE

BRAIN = tuple(range(1, 9))


def _mask(labels: torch.Tensor, values) -> torch.Tensor:
    parent = labels % STRIDE
    m = torch.zeros(labels.shape, dtype=torch.bool, device=labels.device)
    for v in values:
        m |= parent == v
    return m


# ---------------------------------------------------------------- cortex blur
def draw_cortex_blur(cfg, g: torch.Generator) -> dict:
    on = R.chance(g, cfg.p_cortex_blur)
    if not on:
        return {"on": False}
    return {"on": True, "sigma": R.uniform(g, *cfg.cortex_blur_sigma), "coverage": R.uniform(g, 0.2, 0.8),
            "seed": R.seed(g)}


def apply_cortex_blur(image: torch.Tensor, labels: torch.Tensor, params: dict) -> torch.Tensor:
    """Blend ``image`` with its blurred copy inside random patches of the (1-voxel dilated) cortex."""
    if not params["on"]:
        return image
    cortex = dilate_box(_mask(labels, (2,)).float(), 1)
    patches = R.smooth_field([6, 6, 6], image.shape, params["seed"], image.device)[0, 0]
    thr = math.sqrt(2) * torch.erfinv(torch.tensor(1 - 2 * params["coverage"])).item()  # N(0,1) quantile
    w = torch.sigmoid(4.0 * (patches - thr)) * cortex
    blurred = gaussian_blur(image, [params["sigma"]] * 3)
    return image + w * (blurred - image)


# ---------------------------------------------------------------- WM noise
def draw_wm_noise(cfg, g: torch.Generator) -> dict:
    on = R.chance(g, cfg.p_wm_noise)
    if not on:
        return {"on": False}
    return {"on": True, "amplitude": R.uniform(g, *cfg.wm_noise_amplitude), "cells": R.randint(g, 8, 24),
            "seed": R.seed(g)}


def apply_wm_noise(image: torch.Tensor, labels: torch.Tensor, params: dict) -> torch.Tensor:
    """Add ``amplitude x`` a smooth N(0, 1) field (``cells`` nodes per axis) inside white matter (3, 8)."""
    if not params["on"]:
        return image
    wm = _mask(labels, (3, 8))
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


def skull_strip_mask(labels: torch.Tensor, params: dict) -> torch.Tensor | None:
    """The multiplicative mask [X, Y, Z] in [0, 1] of the drawn variant (None for 'none')."""
    if not params["on"]:
        return None
    brain = _mask(labels, BRAIN).float()
    if params["mode"] == "mask":
        return brain
    if params["mode"] == "halo":
        return dilate_box(brain, params["halo"])
    # fuzzy: a blurred border centred one voxel outside the brain
    return gaussian_blur(dilate_box(brain, 1), [params["sigma"]] * 3).clamp(0, 1)


def apply_skull_strip(image: torch.Tensor, labels: torch.Tensor, params: dict) -> torch.Tensor:
    m = skull_strip_mask(labels, params)
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
    a = mats[slice_slab]  # [n, 3, 3]
    t = tr.float().to(device)[slice_slab]  # [n, 3]
    c = torch.tensor([(s - 1) / 2 for s in shape], device=device)
    axes = [torch.arange(s, device=device, dtype=torch.float32) for s in shape]
    o = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1) - c  # [X, Y, Z, 3]
    o = o.movedim(axis, 0)  # [n, ..., 3]
    out = torch.einsum("nij,n...j->n...i", a, o) + t.view(n, 1, 1, 3)
    return out.movedim(0, axis) + c


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
