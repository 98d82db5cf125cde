"""Topology of binary masks: Euler characteristic and Betti numbers with (6, 26) connectivity.

Convention (the FeTA 2024 one): the foreground is 6-connected (voxels sharing a face), the
background 26-connected (voxels sharing a face, an edge or a corner). With this pair of
connectivities the Euler characteristic and Betti numbers are those of the *cubical complex whose
vertices are the foreground voxel centres*: one vertex per voxel, one edge per pair of
face-adjacent foreground voxels, one square per 2x2 block of foreground voxels in a coordinate
plane, one cube per 2x2x2 block of foreground voxels. This equals

- ``skimage.measure.euler_number(mask, connectivity=1)``, and
- the persistence of ``gudhi.CubicalComplex(top_dimensional_cells=mask)`` (the mask as a top-cell
  filtration, cropped to its bounding box plus 2 voxels): by Alexander duality the finite pairs of
  dimension 2, 1, 0 count b0, b1, b2 of the foreground.

Betti numbers: ``b0`` = 6-connected foreground components, ``b2`` = cavities, i.e. 26-connected
background components that do not touch the border of the volume padded by one voxel, and
``b1 = b0 + b2 - EC`` (tunnels/handles). Everything is computed on the bounding-box crop, so cost
scales with the object, not the volume.
"""

from __future__ import annotations

import numpy as np

__all__ = ["betti_numbers", "euler_characteristic", "bbox", "bbox_crop"]


def _as_mask(mask) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 3:
        raise ValueError(f"mask must be 3-D (X, Y, Z), got shape {m.shape}")
    if m.dtype != bool:
        m = m != 0
    return m


def bbox(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...] | None:
    """Index slices of the smallest box of ``mask`` holding all its nonzero voxels, grown by ``margin``.

    Parameters
    ----------
    mask : ndarray
        Any number of dimensions and any dtype; nonzero voxels are inside.
    margin : int
        Voxels added on each side of every axis, clipped at the volume border (no padding).

    Returns
    -------
    tuple of slice or None
        One ``slice(start, stop)`` per axis (``stop`` exclusive), so that ``mask[box]`` is the crop;
        None for an empty mask.
    """
    m = np.asarray(mask)
    slices = []
    for ax in range(m.ndim):
        other = tuple(a for a in range(m.ndim) if a != ax)
        nz = np.flatnonzero(np.any(m, axis=other))
        if nz.size == 0:
            return None
        slices.append(slice(max(int(nz[0]) - margin, 0), min(int(nz[-1]) + 1 + margin, m.shape[ax])))
    return tuple(slices)


def bbox_crop(mask: np.ndarray, margin: int = 0) -> np.ndarray:
    """The smallest box of ``mask`` holding all its nonzero voxels, grown by ``margin`` voxels.

    The margin is clipped at the volume border (no padding is added). An empty mask gives a
    ``(0, 0, 0)`` array. Returns a view.
    """
    m = np.asarray(mask)
    box = bbox(m, margin)
    return m[tuple(slice(0, 0) for _ in range(m.ndim))] if box is None else m[box]


def _euler_cropped(m: np.ndarray) -> int:
    """EC of a bool mask (no cropping): V - E + F - C of the voxel-centre cubical complex."""
    v = int(np.count_nonzero(m))
    if v == 0:
        return 0
    ex = m[1:, :, :] & m[:-1, :, :]
    ey = m[:, 1:, :] & m[:, :-1, :]
    ez = m[:, :, 1:] & m[:, :, :-1]
    e = int(np.count_nonzero(ex)) + int(np.count_nonzero(ey)) + int(np.count_nonzero(ez))
    fxy = ex[:, 1:, :] & ex[:, :-1, :]
    fxz = ex[:, :, 1:] & ex[:, :, :-1]
    fyz = ey[:, :, 1:] & ey[:, :, :-1]
    f = int(np.count_nonzero(fxy)) + int(np.count_nonzero(fxz)) + int(np.count_nonzero(fyz))
    c = int(np.count_nonzero(fxy[:, :, 1:] & fxy[:, :, :-1]))
    return v - e + f - c


def euler_characteristic(mask: np.ndarray) -> int:
    """Euler characteristic of a 3-D binary mask, 6-connected foreground / 26-connected background.

    Parameters
    ----------
    mask : ndarray (X, Y, Z)
        Binary mask; any dtype, nonzero is foreground.

    Returns
    -------
    int
        ``b0 - b1 + b2``; 0 for an empty mask. Equal to
        ``skimage.measure.euler_number(mask, connectivity=1)``. Vectorised counts of vertices,
        edges, squares and cubes on the bounding-box crop.
    """
    return _euler_cropped(np.ascontiguousarray(bbox_crop(_as_mask(mask))))


def betti_numbers(mask: np.ndarray) -> tuple[int, int, int]:
    """Betti numbers ``(b0, b1, b2)`` of a 3-D binary mask, 6-connected foreground / 26-connected background.

    Parameters
    ----------
    mask : ndarray (X, Y, Z)
        Binary mask; any dtype, nonzero is foreground.

    Returns
    -------
    (b0, b1, b2) : tuple of int
        b0: 6-connected components; b2: cavities (26-connected background components enclosed by
        the foreground, i.e. not touching the border once the mask is padded by one voxel);
        b1 = b0 + b2 - EC: tunnels. ``(0, 0, 0)`` for an empty mask. Matches gudhi's cubical
        persistence of the mask as top-cell filtration (see module docstring).
    """
    import cc3d

    m = np.ascontiguousarray(bbox_crop(_as_mask(mask)))
    if m.size == 0 or not m.any():
        return (0, 0, 0)
    _, b0 = cc3d.connected_components(m.view(np.uint8), connectivity=6, return_N=True)
    bg = np.pad(~m, 1, constant_values=True)
    _, nbg = cc3d.connected_components(bg.view(np.uint8), connectivity=26, return_N=True)
    b2 = int(nbg) - 1
    ec = _euler_cropped(m)
    b1 = int(b0) + b2 - ec
    return (int(b0), int(b1), b2)
