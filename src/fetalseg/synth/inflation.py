"""Step 9: label inflation, a pathology-like shape change (e.g. ventriculomegaly, a thick cortex).

One random brain label (generation 1-8 present in the map) is dilated by a cubic box of radius
1-4 voxels and overwrites its brain neighbours (never background), in the target as well.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import random as R
from .subclasses import STRIDE


def draw_inflation(cfg, values, g: torch.Generator) -> dict:
    """Parameters: on/off, the inflated generation label and the box radius in voxels.

    ``values`` are the (sub-class) label values present in the map.
    """
    on = R.chance(g, cfg.p_inflation)
    if not on:
        return {"on": False}
    parents = sorted({int(v) % STRIDE for v in values} & set(range(1, 9)))
    if not parents:
        return {"on": False}
    label = parents[R.randint(g, 0, len(parents) - 1)]
    return {"on": True, "label": label, "radius": R.randint(g, *cfg.inflation_vox)}


def dilate_box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Grey-level dilation of ``x`` [X, Y, Z] (float) by a (2r+1)^3 box.

    Separable: a 1-D max-pool along each axis (the axis moved last, where max_pool1d is fast).
    """
    k = 2 * int(radius) + 1
    if k <= 1:
        return x
    for axis in range(3):
        y = x.movedim(axis, -1)
        shape = y.shape
        y = F.max_pool1d(y.reshape(-1, 1, shape[-1]), k, stride=1, padding=k // 2).reshape(shape)
        x = y.movedim(-1, axis)
    return x.contiguous()


def inflate(labels: torch.Tensor, label: int, radius: int) -> torch.Tensor:
    """Dilate generation ``label`` (all its sub-classes) into neighbouring non-background voxels.

    Voxels reached by the dilation take the value of the nearest-by-max sub-class of ``label``.
    """
    parent = labels % STRIDE
    mask = parent == label
    if not bool(mask.any()):
        return labels
    # work inside the label's bounding box grown by the radius
    box = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        idx = torch.nonzero(mask.amax(dim=others))[:, 0]
        box.append(slice(max(0, int(idx[0]) - radius), min(labels.shape[axis], int(idx[-1]) + radius + 1)))
    box = tuple(box)
    sub, sub_parent = labels[box], parent[box]
    vals = torch.where(mask[box], sub.float(), torch.full_like(sub, -1, dtype=torch.float32))
    grown = dilate_box(vals, radius)
    take = (grown >= 0) & (sub_parent != 0)
    out = labels.clone()
    out[box] = torch.where(take, grown.long(), sub)
    return out


def apply_inflation(labels: torch.Tensor, params: dict) -> torch.Tensor:
    """Apply :func:`inflate` when drawn."""
    if not params["on"]:
        return labels
    return inflate(labels, params["label"], params["radius"])
