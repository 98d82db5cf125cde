"""Rigidly rotated copies of volumes (test and benchmark oracles for pose-invariant measurements)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ..io import Image, resample_image

__all__ = ["rotation_matrix", "rotate_image"]


def rotation_matrix(angles_deg) -> np.ndarray:
    """3x3 rotation for intrinsic-free angles ``(ax, ay, az)`` in degrees about world x, then y, then z."""
    a = np.asarray(angles_deg, dtype=np.float64).reshape(3)
    return Rotation.from_euler("xyz", a, degrees=True).as_matrix()


def rotate_image(image: Image, angles_deg, *, labels: bool = False, centre=None, pad_mm: float = 0.0):
    """Rotate the content of ``image`` in world space and resample it on an axis-aligned grid.

    The world point ``p`` moves to ``R (p - c) + c`` with ``R = rotation_matrix(angles_deg)`` and
    ``c`` = ``centre`` (default: the field of view's centre). The output grid has the input's
    voxel size, axis-aligned with the world, large enough for the rotated field of view (plus
    ``pad_mm``). Labels are resampled by one-hot linear interpolation (arg-max), intensities linearly.

    Returns
    -------
    (Image, R, c) : the rotated copy, the 3x3 rotation and the centre (mm), so that truth points
    map by ``R @ (p - c) + c``.
    """
    r = rotation_matrix(angles_deg)
    shape = np.asarray(image.shape, dtype=np.float64)
    if centre is None:
        centre = image.affine[:3, :3] @ ((shape - 1) / 2.0) + image.affine[:3, 3]
    c = np.asarray(centre, dtype=np.float64)
    moved = np.eye(4)
    moved[:3, :3] = r
    moved[:3, 3] = c - r @ c
    src = Image(image.data, moved @ image.affine)
    h = float(min(image.spacing))
    corners = np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1) for k in (0, shape[2] - 1)])
    world = corners @ src.affine[:3, :3].T + src.affine[:3, 3]
    lo, hi = world.min(axis=0) - pad_mm, world.max(axis=0) + pad_mm
    n = tuple(int(v) for v in np.ceil((hi - lo) / h).astype(int) + 1)
    dst = np.diag([h, h, h, 1.0])
    dst[:3, 3] = lo
    out = resample_image(src, (n, dst), interpolation="linear", labels=labels)
    return Image(out.data, dst), r, c
