"""Surface distances and the robust (95th percentile) Hausdorff distance, as the FeTA challenge computes them.

This reproduces DeepMind's ``surface-distance`` library (``compute_surface_distances`` followed by
``compute_robust_hausdorff``), which the FeTA 2024 evaluation uses, bit for bit but much faster:

- Surface points are the voxel *corners* whose 2x2x2 neighbourhood is neither empty nor full; the
  neighbourhood code (8 bits) selects marching-cubes surface elements whose area in mm^2 follows
  from the voxel spacing (:func:`surfel_area_table`).
- The distance of a surface point of one mask to the other surface is the Euclidean distance in mm
  to the nearest surface point of the other mask (what the library reads from a distance transform
  of the other surface computed with ``sampling=spacing``).
- For each direction, the ``percent`` percentile is taken over the points sorted by (distance,
  area), weighted by area; the robust Hausdorff distance is the larger of both directions. An empty
  mask gives ``inf``.

Speed: instead of two full Euclidean distance transforms, nearest surface points are searched among
integer offsets sorted by physical length (groups of equal length, shortest first) on the union bounding box;
points farther than the last shell (rare: outliers) fall back to a k-d tree. Distances are then
computed with the same floating-point operations as SciPy's distance transform, and the weighted
percentile with the same sort order and cumulative sums as the library, so results are identical.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["surfel_area_table", "surface_points", "surface_distances", "robust_hausdorff", "hausdorff95"]

# search radius (in units of the smallest voxel spacing) of the offsets tried before the k-d tree
_RADIUS = 6.0


def _check_spacing(spacing) -> tuple[float, float, float]:
    sp = tuple(float(s) for s in np.asarray(spacing, dtype=np.float64).ravel())
    if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing must be 3 positive finite numbers (mm), got {spacing!r}")
    return sp  # type: ignore[return-value]


@lru_cache(maxsize=64)
def _area_table(spacing: tuple[float, float, float]) -> np.ndarray:
    from ._surfel_normals import NEIGHBOUR_CODE_TO_NORMALS

    table = np.zeros([256])
    for code in range(256):
        normals = np.array(NEIGHBOUR_CODE_TO_NORMALS[code])
        total = 0
        for idx in range(normals.shape[0]):  # same float operations as surface-distance
            n = np.zeros([3])
            n[0] = normals[idx, 0] * spacing[1] * spacing[2]
            n[1] = normals[idx, 1] * spacing[0] * spacing[2]
            n[2] = normals[idx, 2] * spacing[0] * spacing[1]
            total += np.linalg.norm(n)
        table[code] = total
    table.setflags(write=False)
    return table


def surfel_area_table(spacing) -> np.ndarray:
    """Area in mm^2 of the surface elements of each 2x2x2 neighbourhood code, shape (256,) float64.

    The voxel at neighbourhood offset (i, j, k) contributes bit ``2 ** (7 - (4 i + 2 j + k))``.
    Codes 0 (empty) and 255 (full) have area 0. ``spacing`` is (sx, sy, sz) in mm.
    """
    return _area_table(_check_spacing(spacing))


def _frame(gt: np.ndarray, pred: np.ndarray, pad: tuple[int, int, int]):
    """Both masks cropped to their union bounding box and zero-padded by ``pad`` voxels per axis."""
    union_any = [np.flatnonzero(np.any(gt, axis=ax) | np.any(pred, axis=ax)) for ax in ((1, 2), (0, 2), (0, 1))]
    if any(u.size == 0 for u in union_any):
        return None
    sl = tuple(slice(int(u[0]), int(u[-1]) + 1) for u in union_any)
    shape = tuple(s.stop - s.start + 2 * p for s, p in zip(sl, pad))
    inner = tuple(slice(p, p + s.stop - s.start) for s, p in zip(sl, pad))
    frames = []
    for m in (gt, pred):
        f = np.zeros(shape, bool)
        f[inner] = m[sl]
        frames.append(f)
    return frames


def _corners(f: np.ndarray):
    """Surface corners of a padded mask: bool array of shape ``f.shape - 1`` (corner q = block f[q:q+2])."""
    a = f[1:] | f[:-1]
    a = a[:, 1:] | a[:, :-1]
    a = a[:, :, 1:] | a[:, :, :-1]
    b = f[1:] & f[:-1]
    b = b[:, 1:] & b[:, :-1]
    b = b[:, :, 1:] & b[:, :, :-1]
    np.logical_and(a, ~b, out=a)
    return a


def _codes(f: np.ndarray, corner_shape: tuple, flat: np.ndarray) -> np.ndarray:
    """Neighbourhood codes (uint8) of the corners at flat indices ``flat`` of the corner grid."""
    q = np.unravel_index(flat, corner_shape)
    base = np.ravel_multi_index(q, f.shape)
    s0, s1 = f.shape[1] * f.shape[2], f.shape[2]
    ff = f.reshape(-1)
    code = np.zeros(flat.shape, np.uint8)
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                code |= ff[base + (i * s0 + j * s1 + k)].astype(np.uint8) << np.uint8(7 - (4 * i + 2 * j + k))
    return code


@lru_cache(maxsize=16)
def _offset_shells(spacing: tuple[float, float, float]):
    """Integer offsets within the search radius, sorted by length and grouped by equal length.

    Returns (ext, offsets, groups, values): ``ext`` the per-axis maximal |offset|, ``offsets`` (K,3)
    int64 sorted by length, ``groups`` a list of (start, stop) index ranges of equal length (in
    increasing order; group g has length ``values[g]``), ``values`` the sorted distinct lengths in mm.
    """
    rmax = _RADIUS * min(spacing)
    ext = tuple(int(np.floor(rmax / s + 1e-9)) for s in spacing)
    grids = np.meshgrid(*[np.arange(-e, e + 1) for e in ext], indexing="ij")
    off = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
    d = _dist(off, spacing)
    keep = d <= rmax * (1 + 1e-12)
    off, d = off[keep], d[keep]
    order = np.argsort(d, kind="stable")
    off, d = off[order], d[order]
    values, start = np.unique(d, return_index=True)
    stops = np.append(start[1:], len(d))
    groups = [(int(a), int(b)) for a, b in zip(start, stops)]
    return ext, off, groups, values


def _dist(diff: np.ndarray, spacing) -> np.ndarray:
    """Euclidean length in mm of integer voxel offsets (N,3), with SciPy's EDT float operations."""
    dt = diff.T.astype(np.float64)
    for ax in range(3):
        dt[ax] *= spacing[ax]
    np.multiply(dt, dt, dt)
    return np.sqrt(np.add.reduce(dt, axis=0))


def _nearest(src: np.ndarray, dst_mask: np.ndarray, dst_flat: np.ndarray, shape: tuple, spacing):
    """Distance (mm) from corner points ``src`` (flat indices) to the nearest ``dst_mask`` corner.

    Offsets are tried in groups of equal length, shortest first; a point is resolved by the first
    group with a hit. Returns (rank, far, todo): ``rank`` (int64, -1 where not resolved) indexes
    the sorted distinct offset lengths; ``far`` holds exact distances of the points ``todo`` beyond
    the search radius, found with a k-d tree.
    """
    _, off, groups, _ = _offset_shells(spacing)
    strides = np.array([shape[1] * shape[2], shape[2], 1], np.int64)
    ofl = off @ strides
    dflat = dst_mask.reshape(-1)
    rank = np.full(src.shape, -1, np.int64)
    todo = np.arange(src.size)
    s = src
    for g, (a, b) in enumerate(groups):
        if todo.size == 0:
            break
        hit = dflat[s + ofl[a]]
        for k in range(a + 1, b):
            hit |= dflat[s + ofl[k]]
        if hit.any():
            rank[todo[hit]] = g
            keep = ~hit
            todo, s = todo[keep], s[keep]
    far = np.zeros(0)
    if todo.size:
        from scipy.spatial import cKDTree

        sp = np.asarray(spacing)
        pc = np.stack(np.unravel_index(src[todo], shape), axis=1)
        # upper bounds from a subsample of the targets, then an exact tree on the targets in the box
        # that these bounds allow around the far points
        sub = np.stack(np.unravel_index(dst_flat[:: max(1, dst_flat.size // 512)], shape), axis=1)
        ub, _ = cKDTree(sub * sp, balanced_tree=False, compact_nodes=False).query(pc * sp)
        reach = np.ceil(ub[:, None] / sp[None, :]).astype(np.int64) + 1
        lo = np.maximum((pc - reach).min(axis=0), 0)
        hi = np.minimum((pc + reach).max(axis=0) + 1, shape)
        cand = np.argwhere(dst_mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]) + lo
        _, idx = cKDTree(cand * sp, balanced_tree=False, compact_nodes=False).query(pc * sp)
        far = _dist(cand[idx] - pc, spacing)
    return rank, far, todo


def _percentile(rank, far, todo, codes, spacing, percent: float) -> float:
    """The library's area-weighted percentile, without sorting every point (counting sort on keys)."""
    if codes.size == 0:
        return float("inf")
    _, _, _, values = _offset_shells(spacing)
    table = _area_table(spacing)
    areas_u, code_rank = np.unique(table, return_inverse=True)
    na = areas_u.size
    arank = code_rank[codes]
    dvals = values
    drank = rank.copy()
    if todo.size:
        far_u, far_r = np.unique(far, return_inverse=True)
        dvals = np.concatenate([values, far_u])
        drank[todo] = values.size + far_r
    key = drank * na + arank
    counts = np.bincount(key)
    keys = np.flatnonzero(counts)
    cnt = counts[keys]
    sorted_areas = np.repeat(areas_u[keys % na], cnt)
    cum = np.cumsum(sorted_areas) / np.sum(sorted_areas)
    i = min(int(np.searchsorted(cum, percent / 100.0)), sorted_areas.size - 1)
    group = int(np.searchsorted(np.cumsum(cnt), i, side="right"))
    return float(dvals[keys[group] // na])


def _validate(gt, pred):
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.ndim != 3 or gt.shape != pred.shape:
        raise ValueError(f"masks must be 3-D and of equal shape, got {gt.shape} and {pred.shape}")
    return (gt if gt.dtype == bool else gt != 0), (pred if pred.dtype == bool else pred != 0)


def surface_points(gt, pred, spacing):
    """Surface points of both masks and their nearest distances to the other surface.

    Returns a dict like ``surface_distance.compute_surface_distances`` but *unsorted*:
    ``distances_gt_to_pred``, ``distances_pred_to_gt`` (mm, float64), ``surfel_areas_gt``,
    ``surfel_areas_pred`` (mm^2), and ``codes_gt``, ``codes_pred`` (uint8 neighbourhood codes).
    Distances are ``inf`` when the other mask is empty.
    """
    return _compute(gt, pred, spacing, percent=None)


def surface_distances(gt, pred, spacing) -> dict:
    """Exactly ``surface_distance.compute_surface_distances(gt, pred, spacing)``: sorted by (distance, area)."""
    raw = surface_points(gt, pred, spacing)
    out = {}
    for d_key, a_key in (("distances_gt_to_pred", "surfel_areas_gt"), ("distances_pred_to_gt", "surfel_areas_pred")):
        d, a = raw[d_key], raw[a_key]
        order = np.lexsort((a, d))
        out[d_key], out[a_key] = d[order], a[order]
    return out


def robust_hausdorff(gt, pred, spacing, percent: float = 95.0) -> float:
    """Robust Hausdorff distance in mm between two 3-D masks (FeTA / surface-distance definition).

    Parameters
    ----------
    gt, pred : ndarray (X, Y, Z)
        Binary masks (nonzero is foreground) on the same grid.
    spacing : 3 floats
        Voxel size in mm along X, Y, Z (from the NIfTI header).
    percent : float
        Percentile in [0, 100]; 95 gives HD95, 100 the Hausdorff distance.

    Returns
    -------
    float
        ``max`` over both directions of the area-weighted ``percent`` percentile of surface
        distances; ``inf`` if either mask is empty. Equal to
        ``compute_robust_hausdorff(compute_surface_distances(gt, pred, spacing), percent)``.
    """
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"percent must be in [0, 100], got {percent}")
    return _compute(gt, pred, spacing, percent=float(percent))


def hausdorff95(gt, pred, spacing) -> float:
    """HD95 in mm: :func:`robust_hausdorff` at 95 %."""
    return robust_hausdorff(gt, pred, spacing, 95.0)


def _compute(gt, pred, spacing, percent):
    gt, pred = _validate(gt, pred)
    sp = _check_spacing(spacing)
    ext, _, _, values = _offset_shells(sp)
    pad = tuple(e + 1 for e in ext)
    frames = _frame(gt, pred, pad)
    empty = frames is None or not gt.any() or not pred.any()
    if empty:
        if percent is not None:
            return float("inf")
        return _empty_points(gt, pred, sp)
    fg, fp = frames
    cg, cp = _corners(fg), _corners(fp)
    shape = cg.shape
    ig, ip = np.flatnonzero(cg), np.flatnonzero(cp)
    codes_g, codes_p = _codes(fg, shape, ig), _codes(fp, shape, ip)
    rg, farg, todog = _nearest(ig, cp, ip, shape, sp)
    rp, farp, todop = _nearest(ip, cg, ig, shape, sp)
    if percent is not None:
        return max(_percentile(rg, farg, todog, codes_g, sp, percent),
                   _percentile(rp, farp, todop, codes_p, sp, percent))
    table = _area_table(sp)
    out = {}
    for name, r, far, todo, codes in (("gt_to_pred", rg, farg, todog, codes_g), ("pred_to_gt", rp, farp, todop, codes_p)):
        d = np.empty(r.shape)
        ok = r >= 0
        d[ok] = values[r[ok]]
        d[todo] = far
        out[f"distances_{name}"] = d
    out.update(surfel_areas_gt=table[codes_g], surfel_areas_pred=table[codes_p], codes_gt=codes_g, codes_pred=codes_p)
    return out


def _empty_points(gt, pred, sp):
    """Surface points when at least one mask is empty: distances are inf, as in the library."""
    out = {}
    table = _area_table(sp)
    for name, m in (("gt", gt), ("pred", pred)):
        if m.any():
            f = _frame(m, m, (1, 1, 1))[0]
            c = _corners(f)
            idx = np.flatnonzero(c)
            codes = _codes(f, c.shape, idx)
        else:
            codes = np.zeros(0, np.uint8)
        out[f"codes_{name}"] = codes
        out[f"surfel_areas_{name}"] = table[codes]
    out["distances_gt_to_pred"] = np.full(out["codes_gt"].size, np.inf)
    out["distances_pred_to_gt"] = np.full(out["codes_pred"].size, np.inf)
    return out
