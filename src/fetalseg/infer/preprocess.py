"""From an input volume to the network's grid and back, exactly.

The *model grid* is a RAS-oriented grid with isotropic voxels of the model's resolution, cropped
around the brain and padded to a multiple of the network's size divisor. It is defined relative to
the input's own axes after reorientation (axis permutations and flips only, no rotation), so:

* for an input whose voxels already have the model's size, model voxel centres coincide with input
  voxel centres and both directions of the mapping are exact copies (no interpolation);
* oblique inputs keep their obliquity (the network sees the slices as acquired, reoriented);
* the inverse (:func:`iter_to_input`) maps class probabilities from the model grid back onto the
  input's exact grid (shape and affine) with trilinear interpolation of the probabilities;
  voxels outside the model grid are background with probability 1.

Conventions: arrays are indexed ``(X, Y, Z)`` in file order; affines map voxel indices to world mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import nibabel.orientations as nio
import numpy as np

from ..io import Image, resample, voxel_map
from ..io.image import affine_spacing, affine_voxel_volume
from ..io.intensity import DEFAULT_NORMALISATION, normalise_percentile


@dataclass(frozen=True)
class ModelGrid:
    """Where the network looks: ``shape`` voxels, ``affine`` voxel -> world mm.

    ``input_shape`` and ``input_affine`` are the grid of the image the model grid was planned on,
    the grid that :func:`iter_to_input` maps back to.
    """

    shape: tuple[int, int, int]
    affine: np.ndarray
    input_shape: tuple[int, int, int]
    input_affine: np.ndarray

    @property
    def spacing(self) -> np.ndarray:
        return affine_spacing(self.affine)

    @property
    def voxel_volume(self) -> float:
        return affine_voxel_volume(self.affine)


def normalise(data: np.ndarray, spec: dict | None) -> np.ndarray:
    """Apply a model card's ``normalisation`` spec (only ``method: percentile`` is defined)."""
    spec = dict(DEFAULT_NORMALISATION if spec is None else spec)
    method = spec.get("method", "percentile")
    if method != "percentile":
        raise ValueError(f"unsupported normalisation method {method!r} (expected 'percentile')")
    return normalise_percentile(data, float(spec.get("low", 0.5)), float(spec.get("high", 99.5)))


def foreground_box(normalised: np.ndarray, threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray] | None:
    """Index bounding box ``(lo, hi)`` (hi exclusive) of the largest bright component, or None.

    ``normalised`` is the [0, 1] image. Voxels above ``threshold`` are foreground; the largest
    26-connected component (found on a 2x subsampled copy for speed) is taken as the head/brain.
    Returns None when nothing is above the threshold.
    """
    import cc3d

    step = 2 if normalised.size > 1_000_000 else 1
    small = normalised[::step, ::step, ::step] > threshold
    if not small.any():
        return None
    comps = cc3d.connected_components(small, connectivity=26)
    sizes = np.bincount(comps.ravel())
    sizes[0] = 0
    idx = np.argwhere(comps == int(np.argmax(sizes)))
    lo = idx.min(axis=0) * step
    hi = np.minimum((idx.max(axis=0) + 1) * step, normalised.shape)
    return lo, hi


def plan_grid(
    image: Image,
    resolution_mm: float,
    *,
    box: tuple[np.ndarray, np.ndarray] | None = None,
    margin_mm: float = 4.0,
    divisor: int = 16,
    min_shape: tuple[int, int, int] | None = None,
) -> ModelGrid:
    """The model grid for ``image``: RAS axes, ``resolution_mm`` voxels, around ``box``.

    Parameters
    ----------
    image : Image
        The input (any orientation, spacing, obliquity).
    resolution_mm : float
        Isotropic voxel size of the model in mm.
    box : (lo, hi) index arrays in ``image``'s voxel order, optional
        Region to cover (e.g. from :func:`foreground_box`), grown by ``margin_mm`` and clipped to
        the image; default the whole field of view.
    divisor : int
        The grid shape is padded (symmetrically, outside the crop) to a multiple of this.
    min_shape : 3 ints, optional
        The grid is grown symmetrically about the box to at least this shape (before the divisor padding),
        beyond the image if needed (the network's context, :attr:`Predictor.context`).
    """
    if not resolution_mm > 0:
        raise ValueError(f"resolution_mm must be positive, got {resolution_mm}")
    if divisor < 1:
        raise ValueError(f"divisor must be >= 1, got {divisor}")
    shape = np.asarray(image.shape)
    ornt = nio.io_orientation(image.affine)
    ras_affine = image.affine @ nio.inv_ornt_aff(ornt, image.shape)
    spacing = np.sqrt((ras_affine[:3, :3] ** 2).sum(axis=0))
    if box is None:
        lo, hi = np.zeros(3), shape.astype(float)
    else:
        lo, hi = np.asarray(box[0], float), np.asarray(box[1], float)
    margin = margin_mm / np.sqrt((image.affine[:3, :3] ** 2).sum(axis=0))
    lo = np.clip(lo - margin, 0, shape)
    hi = np.clip(hi + margin, 0, shape)
    # box corners (voxel edges) -> reoriented index space (exact signed permutation)
    to_ras = voxel_map(ras_affine, image.affine)
    corners = np.array([[a, b, c, 1.0] for a in (lo[0] - 0.5, hi[0] - 0.5) for b in (lo[1] - 0.5, hi[1] - 0.5)
                        for c in (lo[2] - 0.5, hi[2] - 0.5)])
    rc = (to_ras @ corners.T).T[:, :3]
    rlo, rhi = rc.min(axis=0), rc.max(axis=0)  # edges in reoriented index units
    step = resolution_mm / spacing  # model voxel size in reoriented index units
    n = np.maximum(1, np.ceil((rhi - rlo) / step - 1e-6)).astype(int)
    if min_shape is not None:
        n = np.maximum(n, np.asarray(min_shape, int))
    n = (np.ceil(n / divisor) * divisor).astype(int)
    centre = (rlo + rhi) / 2
    u0 = centre - (n - 1) / 2 * step  # reoriented index of model voxel 0
    same = np.abs(step - 1) < 1e-6
    u0[same] = np.round(u0[same])  # model voxels on input voxel centres: exact copies
    affine = ras_affine.copy()
    affine[:3, :3] = ras_affine[:3, :3] * step
    affine[:3, 3] = ras_affine[:3, :3] @ u0 + ras_affine[:3, 3]
    return ModelGrid(tuple(int(v) for v in n), affine, image.shape, image.affine.copy())


def to_model(normalised: np.ndarray, grid: ModelGrid) -> np.ndarray:
    """Resample a normalised input volume onto the model grid (trilinear; 0 outside). float32."""
    out = resample(normalised, grid.input_affine, grid.shape, grid.affine, interpolation="linear", fill=0.0)
    return np.ascontiguousarray(out, dtype=np.float32)


def input_box(grid: ModelGrid) -> tuple[slice, slice, slice]:
    """Slices of the input grid that can receive any probability from the model grid."""
    m = voxel_map(grid.input_affine, grid.affine)
    n = np.asarray(grid.shape)
    corners = np.array([[a, b, c, 1.0] for a in (-1, n[0]) for b in (-1, n[1]) for c in (-1, n[2])])
    ic = (m @ corners.T).T[:, :3]
    lo = np.clip(np.floor(ic.min(axis=0)).astype(int), 0, grid.input_shape)
    hi = np.clip(np.ceil(ic.max(axis=0)).astype(int) + 1, 0, grid.input_shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))  # type: ignore[return-value]


def is_exact(grid: ModelGrid) -> bool:
    """True when input voxels sit exactly on model voxels (signed permutation, integer offset)."""
    m = voxel_map(grid.affine, grid.input_affine)
    r = np.rint(m[:3, :3])
    return (np.allclose(m[:3, :3], r, atol=1e-6) and np.allclose(m[:3, 3], np.rint(m[:3, 3]), atol=1e-4)
            and (np.abs(r).sum(axis=0) == 1).all() and (np.abs(r).sum(axis=1) == 1).all())


def iter_to_input(probs: np.ndarray, grid: ModelGrid, *, slab: int = 16) -> Iterator[tuple[tuple, np.ndarray]]:
    """Map class probabilities from the model grid onto the input grid, one block at a time.

    Parameters
    ----------
    probs : ndarray, shape (C, *grid.shape), float32
        Probabilities on the model grid; class 0 is background.
    grid : ModelGrid
    slab : int
        Input slices (last axis) per block; bounds memory to ``C * X * Y * slab`` floats (the
        separable path also holds the model grid interpolated along the first two axes).

    Yields
    ------
    (slices, block)
        ``slices`` index the input grid (3 slices); ``block`` has shape ``(C, *block_shape)``.
        Input voxels outside every yielded block lie outside the model grid: background, p = 1.
        Exact copies when :func:`is_exact`; else trilinear interpolation, as three separable 1-D
        passes when the grids differ by permutations, flips and scaling only, else with
        ``grid_sample``. Outside the model grid the background probability is 1, and class
        probabilities still sum to 1.
    """
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 4 or tuple(probs.shape[1:]) != tuple(grid.shape):
        raise ValueError(f"probs must have shape (C, {grid.shape}), got {probs.shape}")
    box = input_box(grid)
    if any(s.stop <= s.start for s in box):
        return
    if is_exact(grid):
        yield from _exact_blocks(probs, grid, box, slab)
    elif _axis_map(grid) is not None:
        yield from _separable_blocks(probs, grid, box, slab)
    else:
        yield from _general_blocks(probs, grid, box, slab)


def _exact_blocks(probs, grid, box, slab):
    """Exact copies: input voxels sit on model voxels."""
    for k0 in range(box[2].start, box[2].stop, slab):
        k1 = min(k0 + slab, box[2].stop)
        dst = grid.input_affine.copy()
        dst[:3, 3] = grid.input_affine[:3, :3] @ np.array([box[0].start, box[1].start, k0]) + dst[:3, 3]
        shp = (box[0].stop - box[0].start, box[1].stop - box[1].start, k1 - k0)
        block = np.stack([resample(p, grid.affine, shp, dst, interpolation="nearest", fill=1.0 if c == 0 else 0.0)
                          for c, p in enumerate(probs)])
        yield (box[0], box[1], slice(k0, k1)), block


def _axis_map(grid: ModelGrid) -> list[tuple[int, float, float]] | None:
    """For grids related by axis permutation, flips and scaling: per input axis ``a``, the model axis
    ``s`` and ``(scale, offset)`` with ``u_s = scale * index_a + offset``; None for oblique relations."""
    m = voxel_map(grid.affine, grid.input_affine)
    lin = np.where(np.abs(m[:3, :3]) < 1e-9 * np.abs(m[:3, :3]).max(), 0.0, m[:3, :3])
    if not ((lin != 0).sum(axis=0) == 1).all() or not ((lin != 0).sum(axis=1) == 1).all():
        return None
    out = []
    for a in range(3):
        s = int(np.nonzero(lin[:, a])[0][0])
        out.append((s, float(lin[s, a]), float(m[s, 3])))
    return out


def _interp_matrix(n_src: int, u: np.ndarray):
    """Dense (len(u), n_src) float32 matrix of 1-D linear interpolation at source coordinates ``u``
    (rows of points outside ``[0, n_src - 1]`` lose the missing neighbours' weights: zero padding)."""
    import torch

    i0 = np.floor(u).astype(np.int64)
    w1 = u - i0
    w = np.zeros((len(u), n_src), np.float32)
    rows = np.arange(len(u))
    for idx, wt in ((i0, 1.0 - w1), (i0 + 1, w1)):
        ok = (idx >= 0) & (idx < n_src)
        np.add.at(w, (rows[ok], idx[ok]), wt[ok])
    return torch.from_numpy(w)


def _separable_blocks(probs, grid, box, slab):
    """Trilinear interpolation as three 1-D passes, each a matrix product with a (sparse, stored
    dense) interpolation matrix, for grids without relative rotation: faster than a 3-D gather, same
    values as ``grid_sample`` with zero padding and aligned corners. Blocks stream along the last
    input axis."""
    import torch

    amap = _axis_map(grid)
    coords = [amap[a][1] * np.arange(box[a].start, box[a].stop, dtype=np.float64) + amap[a][2] for a in range(3)]
    n_src = [grid.shape[amap[a][0]] for a in range(3)]
    c = probs.shape[0]
    with torch.inference_mode():
        t = torch.from_numpy(probs).clone()
        t[0] -= 1.0  # zero padding of (p0 - 1) means p0 = 1 outside the grid
        t = t.permute(0, *[1 + amap[a][0] for a in range(3)]).contiguous()  # (C, A0, A1, A2), A_a along input axis a
        t = torch.matmul(_interp_matrix(n_src[0], coords[0]), t.reshape(c, n_src[0], -1))  # (C, I0, A1*A2)
        i0 = t.shape[1]
        t = torch.matmul(_interp_matrix(n_src[1], coords[1]), t.reshape(c * i0, n_src[1], n_src[2]))  # (C*I0, I1, A2)
        i1 = t.shape[1]
        w2 = _interp_matrix(n_src[2], coords[2])
        for k0 in range(0, len(coords[2]), slab):
            w = w2[k0:k0 + slab]
            out = torch.matmul(t, w.T).reshape(c, i0, i1, w.shape[0])
            out[0] += 1.0
            k = box[2].start + k0
            yield (box[0], box[1], slice(k, k + w.shape[0])), out.numpy()


def _general_blocks(probs, grid, box, slab):
    """Trilinear interpolation at arbitrary (oblique) positions with ``grid_sample``."""
    import torch
    import torch.nn.functional as F

    m = voxel_map(grid.affine, grid.input_affine)  # input index -> model index
    t = torch.from_numpy(probs).clone()
    t[0] -= 1.0  # zero padding of (p0 - 1) means p0 = 1 outside the grid
    t = t.unsqueeze(0)
    n = np.asarray(grid.shape, float)
    scale = 2.0 / np.maximum(n - 1, 1)
    i = np.arange(box[0].start, box[0].stop, dtype=np.float64)
    j = np.arange(box[1].start, box[1].stop, dtype=np.float64)
    for k0 in range(box[2].start, box[2].stop, slab):
        k1 = min(k0 + slab, box[2].stop)
        k = np.arange(k0, k1, dtype=np.float64)
        coords = []
        for a in (2, 1, 0):  # grid_sample wants (W, H, D) = (Z, Y, X) order
            u = (m[a, 0] * i[:, None, None] + m[a, 1] * j[None, :, None] + m[a, 2] * k[None, None, :] + m[a, 3])
            coords.append(u * scale[a] - 1.0)
        g = torch.from_numpy(np.stack(coords, axis=-1).astype(np.float32)).unsqueeze(0)
        with torch.inference_mode():
            out = F.grid_sample(t, g, mode="bilinear", padding_mode="zeros", align_corners=True)[0]
            out[0] += 1.0
            block = out.numpy().copy()
        yield (box[0], box[1], slice(k0, k1)), block
