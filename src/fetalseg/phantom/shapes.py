"""Implicit shapes on open (broadcast) grids: ellipsoids, capsules, smooth steps.

Coordinates are world mm arrays that broadcast against each other, typically
``X = xs[:, None, None]``, ``Y = ys[None, :, None]``, ``Z = zs[None, None, :]`` so that a function
evaluated on them returns an ``(nx, ny, nz)`` array. Signed distances are negative inside.
All functions work in float32 when given float32 coordinates.
"""

from __future__ import annotations

import numpy as np


def open_grid(xs: np.ndarray, ys: np.ndarray, zs: np.ndarray):
    """``(X, Y, Z)`` views of 1-D axis coordinates shaped to broadcast to ``(nx, ny, nz)``."""
    return xs[:, None, None], ys[None, :, None], zs[None, None, :]


def smoothstep(t):
    """C1 step: 0 for ``t <= 0``, 1 for ``t >= 1``, ``3t^2 - 2t^3`` between."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def smooth_min(a, b, k: float):
    """Polynomial smooth minimum of two signed distances (mm): ``min(a, b)`` where they differ by more
    than ``k``, blended over ``k`` mm where they are close (fills the crease where two shapes meet)."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * (0.25 * k)


def ellipsoid_sd(X, Y, Z, centre, axes, axes_below=None):
    """Approximate signed distance (mm) to an axis-aligned ellipsoid.

    Parameters
    ----------
    X, Y, Z : arrays (broadcastable), mm
    centre : (3,) floats, mm
    axes : (3,) semi-axes (mm) along x, y, z
    axes_below : float, optional
        Semi-axis along z used below the centre (an egg with a different lower half).

    Returns
    -------
    ndarray
        ``(rho - 1) / |grad rho|`` with ``rho`` the normalised radius: exact on the surface,
        first-order accurate near it, negative inside.
    """
    f32 = np.float32
    dx = ((X - f32(centre[0])) / np.asarray(axes[0], dtype=f32)).astype(f32, copy=False)
    dy = ((Y - f32(centre[1])) / np.asarray(axes[1], dtype=f32)).astype(f32, copy=False)
    if axes_below is None:
        cz = np.asarray(axes[2], dtype=f32)
    else:
        cz = np.where(Z < centre[2], f32(axes_below), f32(axes[2])).astype(f32)
    dz = ((Z - f32(centre[2])) / cz).astype(f32, copy=False)
    # the sums are built on the broadcast grid once; the small factors stay small
    rho = dx * dx + dy * dy
    rho = rho + dz * dz
    np.sqrt(rho, out=rho)
    rho += f32(1e-6)
    gx = dx / np.asarray(axes[0], dtype=f32)
    gy = dy / np.asarray(axes[1], dtype=f32)
    gz = dz / cz
    grad = gx * gx + gy * gy
    grad = grad + gz * gz
    np.sqrt(grad, out=grad)
    grad /= rho
    grad += f32(1e-6)
    out = rho - f32(1.0)
    out /= grad
    return out


def inside_ellipsoid(X, Y, Z, centre, axes):
    """Boolean mask of points inside an axis-aligned ellipsoid (semi-axes in mm)."""
    return (((X - centre[0]) / axes[0]) ** 2 + ((Y - centre[1]) / axes[1]) ** 2
            + ((Z - centre[2]) / axes[2]) ** 2) <= 1.0


def capsule_distance(X, Y, Z, a, b):
    """Distance (mm) from points to the segment ``a``-``b`` and the segment parameter in [0, 1]."""
    a = np.asarray(a, dtype=np.float64)
    ab = np.asarray(b, dtype=np.float64) - a
    L2 = float(ab @ ab)
    px, py, pz = X - a[0], Y - a[1], Z - a[2]
    t = np.clip((px * ab[0] + py * ab[1] + pz * ab[2]) / L2, 0.0, 1.0)
    dx, dy, dz = px - t * ab[0], py - t * ab[1], pz - t * ab[2]
    return np.sqrt(dx * dx + dy * dy + dz * dz), t


def box_slices(xs, ys, zs, lo, hi):
    """Index slices of the axis coordinates that fall in the world box ``[lo, hi]`` (mm).

    Returns ``(sx, sy, sz)``; an empty slice where the box misses the grid.
    """
    out = []
    for ax, l, h in zip((xs, ys, zs), lo, hi):
        i0 = int(np.searchsorted(ax, l, side="left"))
        i1 = int(np.searchsorted(ax, h, side="right"))
        out.append(slice(i0, max(i0, i1)))
    return tuple(out)
