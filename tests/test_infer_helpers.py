"""Shared helpers for the inference tests: affines, an analytic world-space phantom, perfect-model doubles."""

from __future__ import annotations

import numpy as np
import torch

from fetalseg.io import Image

CENTRE = np.array([3.0, -4.0, 6.0])  # phantom centre in world mm
SEMI_AXES = np.array([13.0, 16.0, 11.0])


def affine(spacing=(0.8, 0.8, 0.8), *, perm=(0, 1, 2), flips=(1, 1, 1), angle_deg=0.0, shape=(48, 48, 48)):
    """Voxel -> world affine: axis permutation and flips, a rotation about z, centred on CENTRE."""
    a = np.eye(4)
    lin = np.zeros((3, 3))
    for src, dst in enumerate(perm):
        lin[dst, src] = flips[src] * spacing[src]
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    lin = rot @ lin
    a[:3, :3] = lin
    a[:3, 3] = CENTRE - lin @ ((np.asarray(shape) - 1) / 2) + np.array([0.3, -0.2, 0.1])
    return a


def phantom_labels(world: np.ndarray) -> np.ndarray:
    """FeTA-like nested ellipsoids at world points ``world`` (..., 3) in mm; uint8 labels 0-4."""
    r = np.sqrt((((world - CENTRE) / SEMI_AXES) ** 2).sum(axis=-1))
    lab = np.zeros(r.shape, np.uint8)
    lab[r < 1.0] = 1
    lab[r < 0.85] = 2
    lab[r < 0.7] = 3
    lab[r < 0.3] = 4
    return lab


def world_points(shape, aff) -> np.ndarray:
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1).astype(float)
    return idx @ aff[:3, :3].T + aff[:3, 3]


def phantom_image(shape, aff) -> tuple[Image, np.ndarray]:
    """A T2w-like image (label-coded intensities plus a little noise) and its true labels."""
    lab = phantom_labels(world_points(shape, aff))
    rng = np.random.default_rng(0)
    data = (lab * 100.0 + rng.normal(0, 2.0, lab.shape)).astype(np.float32)
    data[lab == 0] = 0
    return Image(data, aff), lab


def onehot_logits(labels: torch.Tensor, n: int = 8) -> torch.Tensor:
    """[B, X, Y, Z] integer labels -> [B, n, X, Y, Z] logits whose softmax is (almost) one-hot."""
    return torch.nn.functional.one_hot(labels.long(), n).permute(0, 4, 1, 2, 3).float() * 30.0


class IntensityCodedModel:
    """Perfect model for images whose intensity is ``label / 7`` after 0-100 percentile normalisation."""

    normalisation = {"method": "percentile", "low": 0.0, "high": 100.0}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return onehot_logits(torch.round(x[:, 0] * 7).clamp(0, 7))


class WorldModel:
    """Perfect model that knows the model grid: returns the one-hot of the phantom at its voxels."""

    def __init__(self, grid):
        self.grid = grid
        self.known = phantom_labels(world_points(grid.shape, grid.affine))
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        assert tuple(x.shape[2:]) == tuple(self.grid.shape), (x.shape, self.grid.shape)
        self.calls += 1
        return onehot_logits(torch.from_numpy(self.known)[None])


def dice(a: np.ndarray, b: np.ndarray, label: int) -> float:
    x, y = a == label, b == label
    s = x.sum() + y.sum()
    return 1.0 if s == 0 else 2.0 * np.logical_and(x, y).sum() / s
