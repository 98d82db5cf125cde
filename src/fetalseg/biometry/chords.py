"""Structure masks sampled on planes of the canonical frame, and their longest axis-aligned chords.

A structure is a boolean mask on the input grid. It is read as a continuous field by trilinear
interpolation of its lightly smoothed indicator; its boundary is the 0.5 level, located between samples by linear
interpolation, so chord ends are sub-voxel. Planes are sampled in canonical coordinates
(:class:`fetalseg.pose.Pose`, mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..pose import Pose

__all__ = ["MaskField", "Chord", "longest_chord", "row_ends"]


class MaskField:
    """A boolean mask on a voxel grid, sampled at canonical points by trilinear interpolation.

    Parameters
    ----------
    mask : ndarray (X, Y, Z), bool
    affine : ndarray (4, 4), voxel to world mm
    pose : Pose
    smooth_vox : float
        Gaussian sigma (voxels) applied to the indicator before interpolation: the 0.5 level of the
        smoothed indicator follows the surface between voxel centres instead of the staircase, so
        chord lengths are not quantised to whole voxels (shrinkage at a convex surface of radius R
        is about sigma^2 / (2 R), negligible here).
    """

    def __init__(self, mask: np.ndarray, affine: np.ndarray, pose: Pose, smooth_vox: float = 0.7) -> None:
        mask = np.asarray(mask, dtype=bool)
        self.empty = not mask.any()
        lo = np.zeros(3, int)
        if not self.empty:
            idx = np.argwhere(mask)
            lo = np.maximum(idx.min(axis=0) - 4, 0)
            hi = np.minimum(idx.max(axis=0) + 5, mask.shape)
            mask = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        self.data = mask.astype(np.float32)
        if smooth_vox > 0:
            self.data = ndimage.gaussian_filter(self.data, smooth_vox, mode="constant", truncate=3.0)
        shift = np.eye(4)
        shift[:3, 3] = lo
        a = np.asarray(affine, dtype=np.float64) @ shift
        self.to_vox = np.linalg.inv(a) @ pose.matrix  # canonical mm -> cropped voxel index
        to_canon = np.linalg.inv(self.to_vox)
        idx = np.argwhere(mask)
        self.points = idx @ to_canon[:3, :3].T + to_canon[:3, 3]
        self.pose = pose

    def box(self, margin_mm: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """Canonical bounding box (lo, hi), mm, of the mask's voxel centres plus ``margin_mm``."""
        return self.points.min(axis=0) - margin_mm, self.points.max(axis=0) + margin_mm

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Field values (0-1) at canonical points ``u`` (..., 3), mm."""
        u = np.asarray(u, dtype=np.float64)
        flat = u.reshape(-1, 3)
        vox = flat @ self.to_vox[:3, :3].T + self.to_vox[:3, 3]
        out = ndimage.map_coordinates(self.data, vox.T, order=1, mode="constant", cval=0.0)
        return out.reshape(u.shape[:-1])


@dataclass
class Chord:
    """A chord along one canonical axis: length (mm) and its two end points (canonical mm)."""

    length: float
    a: np.ndarray
    b: np.ndarray


def row_ends(values: np.ndarray, coords: np.ndarray):
    """First and last 0.5 crossings (interpolated) per row of ``values`` (rows, n) sampled at
    ``coords`` (n,); NaN for rows without a sample at or above 0.5."""
    inside = values >= 0.5
    has = inside.any(axis=1)
    n = values.shape[1]
    first = np.where(has, inside.argmax(axis=1), 0)
    last = np.where(has, n - 1 - inside[:, ::-1].argmax(axis=1), 0)
    rows = np.arange(values.shape[0])
    h = coords[1] - coords[0]

    def cross(idx, step):
        out = coords[idx].astype(np.float64)
        nb = idx + step
        ok = (nb >= 0) & (nb < n)
        nbc = np.clip(nb, 0, n - 1)
        v_in, v_out = values[rows, idx], values[rows, nbc]
        t = np.where(ok & (v_in > v_out), (v_in - 0.5) / np.maximum(v_in - v_out, 1e-9), 0.0)
        return out + step * h * np.clip(t, 0.0, 1.0)

    lo, hi = cross(first, -1), cross(last, 1)
    return np.where(has, lo, np.nan), np.where(has, hi, np.nan)


def longest_chord(field: MaskField, fixed_axis: int, fixed_values, chord_axis: int, lo, hi,
                  step_mm: float = 0.2) -> Chord | None:
    """Longest chord along canonical ``chord_axis`` of ``field`` in the planes
    ``u[fixed_axis] = v`` for each ``v`` in ``fixed_values`` (mm), within the canonical box
    ``[lo, hi]`` (mm). Each row of each plane gives the distance between its first and last
    boundary crossings (gaps inside count, as a caliper does); the longest row wins. ``None``
    when the structure does not meet any plane.
    """
    row_axis = 3 - fixed_axis - chord_axis
    rows = np.arange(lo[row_axis], hi[row_axis] + step_mm / 2, step_mm)
    cols = np.arange(lo[chord_axis], hi[chord_axis] + step_mm / 2, step_mm)
    best = None
    for v in np.atleast_1d(np.asarray(fixed_values, dtype=np.float64)):
        u = np.zeros((rows.size, cols.size, 3))
        u[..., fixed_axis] = v
        u[..., row_axis] = rows[:, None]
        u[..., chord_axis] = cols[None, :]
        a, b = row_ends(field.sample(u), cols)
        length = b - a
        if not np.isfinite(length).any():
            continue
        r = int(np.nanargmax(length))
        if best is None or length[r] > best.length:
            pa = np.zeros(3)
            pa[fixed_axis], pa[row_axis], pa[chord_axis] = v, rows[r], a[r]
            pb = pa.copy()
            pb[chord_axis] = b[r]
            best = Chord(float(length[r]), pa, pb)
    return best


def plane_grid(lo, hi, step_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mid-sagittal sample grid over the canonical box ``[lo, hi]``: ``(u, ys, zs)`` with ``u`` of
    shape (len(zs), len(ys), 3) (rows z upwards, columns y forwards, x = 0), mm."""
    ys = np.arange(lo[1], hi[1] + step_mm / 2, step_mm)
    zs = np.arange(lo[2], hi[2] + step_mm / 2, step_mm)
    u = np.zeros((zs.size, ys.size, 3))
    u[..., 1], u[..., 2] = ys[None, :], zs[:, None]
    return u, ys, zs


def feret_chord(values: np.ndarray, ys: np.ndarray, zs: np.ndarray) -> Chord | None:
    """Longest chord in any direction (maximal Feret diameter) of the region ``values >= 0.5`` of a
    mid-sagittal sample (rows ``zs``, columns ``ys``, mm): the farthest pair of its convex hull's
    vertices, whose ends are then moved to the 0.5 crossings along their line (sub-sample).
    ``None`` for an empty region."""
    from scipy.spatial import ConvexHull, QhullError

    rr, cc = np.nonzero(values >= 0.5)
    if rr.size == 0:
        return None
    pts = np.stack([ys[cc], zs[rr]], axis=1)
    try:
        pts = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):
        pass
    d = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    p, q = pts[i], pts[j]
    h = ys[1] - ys[0]
    direction = (q - p) / max(np.linalg.norm(q - p), 1e-9)
    t = np.arange(-3 * h, np.linalg.norm(q - p) + 3 * h, h / 4)
    line = p[None, :] + t[:, None] * direction[None, :]
    idx = np.stack([(line[:, 1] - zs[0]) / h, (line[:, 0] - ys[0]) / h])
    prof = ndimage.map_coordinates(values, idx, order=1, mode="constant", cval=0.0)
    a, b = row_ends(prof[None, :], t)
    if not np.isfinite(a[0]):
        return None
    pa, pb = p + a[0] * direction, p + b[0] * direction
    return Chord(float(b[0] - a[0]), np.array([0.0, pa[0], pa[1]]), np.array([0.0, pb[0], pb[1]]))
