"""Resampling of images and label maps between grids given by their affines.

Conventions: a grid is ``(shape, affine)``; the affine maps voxel indices to world mm. Resampling
evaluates the source at the world position of each target voxel centre. Points outside the
source get ``fill`` (0 by default).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .image import Image

_ORDERS = {"nearest": 0, "linear": 1, "cubic": 3}


def voxel_map(src_affine: np.ndarray, dst_affine: np.ndarray) -> np.ndarray:
    """4x4 matrix mapping target voxel indices to source voxel indices."""
    return np.linalg.inv(np.asarray(src_affine, float)) @ np.asarray(dst_affine, float)


def resample(
    data: np.ndarray,
    src_affine: np.ndarray,
    dst_shape: tuple[int, int, int],
    dst_affine: np.ndarray,
    *,
    interpolation: str = "linear",
    fill: float = 0.0,
) -> np.ndarray:
    """Resample a 3-D intensity array onto another grid.

    Parameters
    ----------
    data : ndarray, shape (X, Y, Z)
    src_affine, dst_affine : ndarray, shape (4, 4)
    dst_shape : tuple of 3 ints
    interpolation : {'nearest', 'linear', 'cubic'}
        Cubic uses a B-spline prefilter (scipy), so it may overshoot near edges.
    fill : float
        Value outside the source field of view.

    Returns
    -------
    ndarray, shape ``dst_shape``, float32 (or ``data.dtype`` for 'nearest').

    When the two grids differ only by axis permutations, flips and integer shifts, the result is
    an exact copy of the overlapping voxels (no interpolation).
    """
    if interpolation not in _ORDERS:
        raise ValueError(f"interpolation must be one of {sorted(_ORDERS)}, got {interpolation!r}")
    m = voxel_map(src_affine, dst_affine)
    exact = _exact_index(data, m, tuple(dst_shape), fill)
    if exact is not None:
        return exact if interpolation == "nearest" else exact.astype(np.float32, copy=False)
    order = _ORDERS[interpolation]
    src = data if order == 0 else np.asarray(data, dtype=np.float32)
    out = ndimage.affine_transform(
        src, m[:3, :3], offset=m[:3, 3], output_shape=tuple(dst_shape), order=order,
        mode="constant", cval=fill, prefilter=order > 1,
    )
    return out


def resample_labels(
    labels: np.ndarray,
    src_affine: np.ndarray,
    dst_shape: tuple[int, int, int],
    dst_affine: np.ndarray,
    *,
    method: str = "nearest",
) -> np.ndarray:
    """Resample an integer label map onto another grid.

    ``method='nearest'`` takes the nearest source voxel; ``method='linear'`` interpolates the one-hot
    encoding of each label linearly and takes the arg-max (smoother borders when the target grid is
    finer). Background (0) fills outside the source. The result keeps ``labels.dtype``.
    """
    if method == "nearest":
        return resample(labels, src_affine, dst_shape, dst_affine, interpolation="nearest", fill=0).astype(labels.dtype)
    if method != "linear":
        raise ValueError(f"method must be 'nearest' or 'linear', got {method!r}")
    m = voxel_map(src_affine, dst_affine)
    exact = _exact_index(labels, m, tuple(dst_shape), 0)
    if exact is not None:
        return exact
    values = np.unique(labels)
    best = np.zeros(dst_shape, dtype=np.float32)
    out = np.zeros(dst_shape, dtype=labels.dtype)
    for v in values:
        onehot = (labels == v).astype(np.float32)
        cval = 1.0 if v == 0 else 0.0
        p = ndimage.affine_transform(onehot, m[:3, :3], offset=m[:3, 3], output_shape=tuple(dst_shape),
                                     order=1, mode="constant", cval=cval, prefilter=False)
        better = p > best
        out[better] = v
        best[better] = p[better]
    return out


def resample_image(image: Image, like: Image | tuple, *, interpolation: str = "linear", labels: bool = False) -> Image:
    """Resample ``image`` onto the grid of ``like`` (an :class:`Image` or ``(shape, affine)``)."""
    shape, affine = (like.shape, like.affine) if isinstance(like, Image) else like
    if labels:
        data = resample_labels(image.data, image.affine, shape, affine,
                               method="nearest" if interpolation == "nearest" else "linear")
    else:
        data = resample(image.data, image.affine, shape, affine, interpolation=interpolation)
    header = like.header if isinstance(like, Image) else image.header
    return Image(data=data, affine=np.asarray(affine, float), header=header)


def grid_with_spacing(shape: tuple[int, int, int], affine: np.ndarray, spacing: float | tuple) -> tuple:
    """A grid covering the same field of view as ``(shape, affine)`` with voxel size ``spacing`` mm.

    Axis directions are kept; the new grid's first voxel corner coincides with the old one's.
    Returns ``(new_shape, new_affine)``.
    """
    affine = np.asarray(affine, float)
    old = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    new = np.broadcast_to(np.asarray(spacing, float), (3,))
    extent = np.asarray(shape) * old
    new_shape = tuple(int(max(1, round(e / s))) for e, s in zip(extent, new))
    scale = new / old
    new_aff = affine.copy()
    new_aff[:3, :3] = affine[:3, :3] * scale
    # keep the corner (-0.5 voxel) fixed: centre of new voxel 0 sits at old index 0.5*(scale-1)
    new_aff[:3, 3] = affine[:3, :3] @ (0.5 * (scale - 1.0)) + affine[:3, 3]
    return new_shape, new_aff


def _exact_index(data: np.ndarray, m: np.ndarray, dst_shape: tuple, fill) -> np.ndarray | None:
    """Copy voxels directly when ``m`` is a signed permutation with an integer offset."""
    lin = m[:3, :3]
    r = np.rint(lin)
    if not np.allclose(lin, r, atol=1e-6) or not np.allclose(m[:3, 3], np.rint(m[:3, 3]), atol=1e-4):
        return None
    if not (np.abs(r).sum(axis=0) == 1).all() or not (np.abs(r).sum(axis=1) == 1).all():
        return None
    off = np.rint(m[:3, 3]).astype(int)
    idx = []
    for src_axis in range(3):
        dst_axis = int(np.nonzero(r[src_axis])[0][0])
        sign = int(r[src_axis, dst_axis])
        idx.append((dst_axis, sign))
    # source index along src_axis = sign * j_dst + off
    grids = []
    valid = np.ones(dst_shape, dtype=bool)
    for src_axis, (dst_axis, sign) in enumerate(idx):
        j = np.arange(dst_shape[dst_axis])
        s = sign * j + off[src_axis]
        ok = (s >= 0) & (s < data.shape[src_axis])
        shape = [1, 1, 1]
        shape[dst_axis] = -1
        grids.append(np.clip(s, 0, data.shape[src_axis] - 1).reshape(shape))
        valid &= ok.reshape(shape)
    out = data[grids[0], grids[1], grids[2]]
    out = np.broadcast_to(out, dst_shape).copy()
    if not valid.all():
        out[~valid] = fill
    return out
