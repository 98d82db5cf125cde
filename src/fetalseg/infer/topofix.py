"""Guaranteed label topology: every label ends with exactly its target Betti numbers.

The FeTA targets (:mod:`fetalseg.labels`): cortical grey matter ``(2, 0, 0)`` (two hemispheres),
every other tissue ``(1, 0, 0)``; background (label 0) has none. Topology is measured as in
:mod:`fetalseg.metrics.topology`: each label's mask with a 6-connected foreground and a
26-connected background (everything else, the outside of the volume included).

Algorithm: topology-preserving region growing with simple points (:mod:`.simple_points`).
Adding a simple point to a set changes none of its Betti numbers, so a label grown only by simple
points from seeds with Betti numbers ``(k, 0, 0)`` keeps ``(k, 0, 0)``. Labels never take
voxels from each other, so growing one does not touch the topology of another.

0. Background: the arg-max background voxels 26-connected to the border of the brain's box are
   background for good (background inside the brain, a hole, is left open).
1. Seeds: per label, its largest arg-max component when that is already a topological ball, else
   the clean core left by eroding it 2 voxels, else a digital ball around its deepest voxel
   (grey matter: two seeds, in its two largest components, or in the two halves of the largest
   along ``lr_axis``, a plane apart, when the second is below ``min_fraction`` of it); a label
   with no arg-max voxels is seeded at its most probable free voxel.
2. Own growth: each label grows into its own arg-max voxels, in bands of decreasing probability
   (``own_bands``), so that handles are cut where the label is least certain.
3. Free growth: voxels still unassigned (cut points, stray islands, holes) go, in bands of
   decreasing probability (``free_bands``), to any label that can take them as simple points;
   simultaneous claims on a voxel go to the most probable label.
4. What no label can take becomes background.

Parallel additions are made on the 8 parity subfields (voxels whose three coordinates have the
same parities are never 26-neighbours nor in one 2x2x2 cube), for which the simultaneous addition
of simple points preserves topology (subfield-based parallel thinning: Bertrand and Aktouf, "A
three-dimensional thinning algorithm using subfields", 1994). The result is checked
with :func:`fetalseg.masks.topology.betti_numbers`; a label that failed the check (never seen)
is cut back to its seeds, which meet the target, and listed in the report.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..labels import FETA
from .simple_points import is_simple, neighbour_codes

UNSET = 255
OUT = 254
_OFF26 = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1) if (i, j, k) != (0, 0, 0)])


@dataclass
class _State:
    lab: np.ndarray  # flat uint8 labels of the padded box (UNSET, OUT)
    hard: np.ndarray  # flat uint8 arg-max of the padded box
    probs: np.ndarray  # (C, N) float32
    strides: tuple[int, int, int]
    parity: np.ndarray  # flat uint8 subfield 0-7
    grow: tuple[int, ...]  # labels with a target

    @property
    def steps26(self) -> np.ndarray:
        return _OFF26 @ np.asarray(self.strides, np.int64)


def targets_of(table, n_classes: int) -> dict[int, int]:
    """``{label: b0}`` for the labels of ``table`` below ``n_classes`` with a target; checks b1 = b2 = 0."""
    out = {}
    for lab in table.labels:
        if lab.value == 0 or lab.value >= n_classes:
            continue
        if lab.betti is None or tuple(lab.betti[1:]) != (0, 0) or lab.betti[0] < 1:
            raise ValueError(f"table label {lab.value} needs a (k, 0, 0) Betti target, got {lab.betti}")
        out[lab.value] = int(lab.betti[0])
    return out


def fix_topology(probs: np.ndarray, table=FETA, *, lr_axis: int = 0, min_fraction: float = 0.2,
                 own_bands=(0.8, 0.5, 0.0), free_bands=(0.3, 0.1, 0.0)) -> tuple[np.ndarray, dict]:
    """A label map with exactly the target Betti numbers on every label, as close to the arg-max as it can.

    Parameters
    ----------
    probs : ndarray (C, X, Y, Z)
        Class probabilities (or any scores in [0, 1]), class index = label value; not modified.
        Ties in the arg-max go to the lower class.
    table : LabelTable
        Every label 1..C-1 must have a target ``(k, 0, 0)`` (FeTA: grey matter k = 2, others 1).
    lr_axis : {0, 1, 2}
        The array axis closest to left-right; used only to split grey matter into two seeds when
        the arg-max has one dominant component.
    min_fraction : float
        A second component of a label with k = 2 seeds its own part when it has at least this
        fraction of the largest one's voxels.
    own_bands, free_bands : sequences of float
        Decreasing probability thresholds of the two growth stages (module docstring); each must
        end with 0.0 so that every reachable voxel is considered.

    Returns
    -------
    (labels, report)
        uint8 labels (X, Y, Z); report: ``changed`` (voxels differing from the arg-max),
        ``changed_per_label`` (arg-max label -> voxels that lost it), ``components_removed``
        (arg-max 6-components beyond each label's target count), ``betti`` (label -> Betti
        numbers after, all equal to the targets), ``fallback`` (labels cut back to their seeds),
        ``seconds``.
    """
    from .postprocess import label_map

    t0 = time.perf_counter()
    probs = np.asarray(probs)
    if probs.ndim != 4 or probs.shape[0] < 2:
        raise ValueError(f"probs must be (C, X, Y, Z) with C >= 2, got shape {probs.shape}")
    if lr_axis not in (0, 1, 2):
        raise ValueError(f"lr_axis must be 0, 1 or 2, got {lr_axis}")
    for name, bands in (("own_bands", own_bands), ("free_bands", free_bands)):
        if not len(bands) or float(bands[-1]) != 0.0 or list(bands) != sorted(bands, reverse=True):
            raise ValueError(f"{name} must be decreasing and end with 0.0, got {bands}")
    targets = targets_of(table, probs.shape[0])
    hard, _ = label_map(probs)
    box = _brain_box(hard)
    st = _state(probs, hard, box, tuple(targets))
    _claim_outside(st)
    strays = sum(max(0, _place_seeds(st, lab, k, lr_axis, min_fraction) - k) for lab, k in targets.items())
    seeds = st.lab.copy()
    _grow(st, own_bands, own=True)
    _grow(st, free_bands, own=False)
    st.lab[st.lab == UNSET] = 0
    out = np.zeros(hard.shape, np.uint8)
    out[box] = _unpad(st)
    betti, fallback = _verify(out, box, seeds, st, targets)
    diff = out != hard
    report = {"changed": int(np.count_nonzero(diff)),
              "changed_per_label": {int(c): int(n) for c, n in zip(*np.unique(hard[diff], return_counts=True))},
              "components_removed": strays, "betti": betti, "fallback": fallback, "seconds": round(time.perf_counter() - t0, 3)}
    return out, report


def _brain_box(hard: np.ndarray, margin: int = 2) -> tuple[slice, slice, slice]:
    fg = hard != 0
    if not fg.any():
        return tuple(slice(0, n) for n in hard.shape)
    out = []
    for ax in range(3):
        nz = np.flatnonzero(fg.any(axis=tuple(a for a in range(3) if a != ax)))
        out.append(slice(max(int(nz[0]) - margin, 0), min(int(nz[-1]) + 1 + margin, hard.shape[ax])))
    return tuple(out)


def _state(probs, hard, box, grow) -> _State:
    h = np.pad(hard[box], 1, constant_values=OUT)
    shape = h.shape
    p = np.zeros((probs.shape[0],) + shape, np.float32)
    p[(slice(None),) + (slice(1, -1),) * 3] = probs[(slice(None),) + box]
    idx = np.indices(shape, dtype=np.uint8) & 1
    parity = (idx[0] * 4 + idx[1] * 2 + idx[2]).ravel()
    lab = np.full(shape, UNSET, np.uint8)
    lab[h == OUT] = OUT
    strides = (shape[1] * shape[2], shape[2], 1)
    return _State(lab.ravel(), h.ravel(), p.reshape(probs.shape[0], -1), strides, parity, grow)


def _unpad(st: _State) -> np.ndarray:
    shape = (st.lab.size // st.strides[0], st.strides[0] // st.strides[1], st.strides[1])
    return st.lab.reshape(shape)[1:-1, 1:-1, 1:-1]


def _shape(st: _State) -> tuple[int, int, int]:
    return (st.lab.size // st.strides[0], st.strides[0] // st.strides[1], st.strides[1])


def _claim_outside(st: _State) -> None:
    """Arg-max background 26-connected to the box border becomes background for good."""
    import cc3d

    shape = _shape(st)
    bg = (st.hard == 0).reshape(shape)
    comps, n = cc3d.connected_components(bg.view(np.uint8), connectivity=26, return_N=True)
    if n == 0:
        return
    inner = comps[1:-1, 1:-1, 1:-1]
    faces = np.concatenate([inner[[0, -1]].ravel(), inner[:, [0, -1]].ravel(), inner[:, :, [0, -1]].ravel()])
    keep = np.unique(faces[faces > 0])
    if keep.size == 0:
        keep = np.array([int(np.argmax(np.bincount(comps.ravel())[1:])) + 1])
    st.lab[np.isin(comps.ravel(), keep)] = 0


def _regions(mask: np.ndarray, k: int, lr_axis: int, min_fraction: float) -> tuple[list[np.ndarray], int]:
    """Up to ``k`` (1 or 2) disjoint regions of ``mask`` to seed in (its largest 6-components, or
    halves), and the number of 6-components."""
    import cc3d

    comps, n = cc3d.connected_components(mask.view(np.uint8), connectivity=6, return_N=True)
    if n == 0:
        return [], 0
    sizes = np.bincount(comps.ravel())[1:]
    order = np.argsort(-sizes, kind="stable") + 1
    largest = comps == order[0]
    if k == 1:
        return [largest], n
    if n >= 2 and sizes[order[1] - 1] >= min_fraction * sizes[order[0] - 1]:
        return [largest, comps == order[1]], n
    coords = np.nonzero(largest)[lr_axis]
    cut = int(np.median(coords))
    pos = np.indices(mask.shape, sparse=True)[lr_axis]
    return [r for r in (largest & (pos < cut), largest & (pos > cut)) if r.any()], n  # a plane apart


def _core_seed(region: np.ndarray, erosions=(0, 2)) -> np.ndarray:
    """Bool mask: the largest 6-component of ``region`` eroded by r voxels (r in ``erosions``, face
    structuring element), the first whose Betti numbers are (1, 0, 0); else :func:`_ball_seed`.

    A clean component is its own seed (nothing left to grow); a defective one keeps its clean core,
    and growth has only the outer r voxels, where the defects are, left to decide.
    """
    import cc3d
    from scipy import ndimage

    from ..masks.topology import betti_numbers

    box = _bbox(region)
    crop = np.pad(region[box], 1)
    for r in erosions:
        core = ndimage.binary_erosion(crop, ndimage.generate_binary_structure(3, 1), iterations=r) if r else crop
        comps, n = cc3d.connected_components(core.view(np.uint8), connectivity=6, return_N=True)
        if n == 0:
            break
        core = comps == (int(np.argmax(np.bincount(comps.ravel())[1:])) + 1)
        if betti_numbers(core) == (1, 0, 0):
            out = np.zeros(region.shape, bool)
            out[box] = core[1:-1, 1:-1, 1:-1]
            return out
    return _ball_seed(region)


def _ball_seed(region: np.ndarray) -> np.ndarray:
    """Bool mask: a ball around the deepest voxel of ``region``, kept 1.5 voxels inside it.

    Falls back to the deepest voxel alone when the digital ball is not a topological ball.
    """
    from scipy import ndimage

    from ..masks.topology import betti_numbers

    box = _bbox(region)
    crop = region[box]
    # taxicab distance (fast); the Euclidean distance to the outside is at least taxicab / sqrt(3)
    dist = ndimage.distance_transform_cdt(np.pad(crop, 1), metric="taxicab")[1:-1, 1:-1, 1:-1]
    centre = np.unravel_index(int(np.argmax(dist)), crop.shape)
    radius = float(dist[centre]) / np.sqrt(3.0) - 1.5
    ball = np.zeros(crop.shape, bool)
    ball[centre] = True
    if radius >= 1.0:
        grid = np.ogrid[tuple(slice(0, n) for n in crop.shape)]
        cand = (sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2) & crop
        if betti_numbers(cand) == (1, 0, 0):
            ball = cand
    out = np.zeros(region.shape, bool)
    out[box] = ball
    return out


def _bbox(mask: np.ndarray) -> tuple[slice, ...]:
    out = []
    for ax in range(mask.ndim):
        nz = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != ax)))
        out.append(slice(int(nz[0]), int(nz[-1]) + 1))
    return tuple(out)


def _place_seeds(st: _State, lab: int, k: int, lr_axis: int, min_fraction: float) -> int:
    """Give ``lab`` exactly ``k`` seeds, pairwise not 6-adjacent (module docstring, step 1);
    returns the number of 6-components of the label's arg-max."""
    shape = _shape(st)
    mask = ((st.hard == lab) & (st.lab == UNSET)).reshape(shape)
    placed = 0
    regions, n_comp = _regions(mask, min(k, 2), lr_axis, min_fraction)
    for region in regions[:k]:
        region = region & ~_dilate6(st.lab.reshape(shape) == lab)
        if region.any():
            st.lab[_core_seed(region).ravel()] = lab
            placed += 1
    while placed < k:  # absent label, or a third part wanted: the most probable free voxel
        free = ((st.lab == UNSET) | (st.lab == 0)) & ~_dilate6(st.lab.reshape(shape) == lab).ravel()
        if not free.any():
            raise ValueError(f"no room for a seed of label {lab}")
        score = np.where(free, st.probs[lab], -1.0)
        st.lab[int(np.argmax(score))] = lab
        placed += 1
    return n_comp


def _dilate6(mask: np.ndarray) -> np.ndarray:
    """``mask`` (3-D bool) grown by its 6 face neighbours (no wrap-around)."""
    out = mask.copy()
    for ax in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax], hi[ax] = slice(0, -1), slice(1, None)
        out[tuple(lo)] |= mask[tuple(hi)]
        out[tuple(hi)] |= mask[tuple(lo)]
    return out


def _frontier(st: _State, t: float, own: bool) -> tuple[np.ndarray, np.ndarray]:
    """Unassigned voxels 6-adjacent to a growing label with probability >= ``t`` (own: arg-max too)."""
    idx_parts, lab_parts = [], []
    unset = st.lab == UNSET
    for lab in st.grow:
        member = st.lab == lab
        near = np.zeros_like(member)
        for s in st.strides:
            near[s:] |= member[:-s]
            near[:-s] |= member[s:]
        near &= unset
        near &= st.probs[lab] >= t
        if own:
            near &= st.hard == lab
        idx = np.flatnonzero(near)
        idx_parts.append(idx)
        lab_parts.append(np.full(idx.size, lab, np.uint8))
    return np.concatenate(idx_parts), np.concatenate(lab_parts)


def _expand(st: _State, idx: np.ndarray, labs: np.ndarray, t: float, own: bool):
    """Candidates around newly added voxels: their unassigned 26-neighbours that may join the same label."""
    nidx = (idx[None, :] + st.steps26[:, None]).ravel()
    nlab = np.broadcast_to(labs, (26, labs.size)).ravel()
    ok = st.lab[nidx] == UNSET
    nidx, nlab = nidx[ok], nlab[ok]
    ok = st.probs[nlab, nidx] >= t
    if own:
        ok &= st.hard[nidx] == nlab
    return nidx[ok], nlab[ok]


def _add_simple(st: _State, idx: np.ndarray, labs: np.ndarray):
    """Add the candidates that are simple for their label (one subfield); contested voxels to the most probable."""
    ok = st.lab[idx] == UNSET
    idx, labs = idx[ok], labs[ok]
    if idx.size == 0:
        return idx, labs
    simple = is_simple(neighbour_codes(st.lab, idx, st.strides, labs))
    idx, labs = idx[simple], labs[simple]
    if idx.size > 1:
        order = np.lexsort((-st.probs[labs, idx], idx))
        idx, labs = idx[order], labs[order]
        first = np.r_[True, idx[1:] != idx[:-1]]
        idx, labs = idx[first], labs[first]
    st.lab[idx] = labs
    return idx, labs


def _by_parity(st: _State, idx: np.ndarray, labs: np.ndarray, pools: list) -> None:
    """Append the candidates ``(idx, labs)`` to the 8 per-subfield lists of ``pools``."""
    par = st.parity[idx]
    order = np.argsort(par, kind="stable")
    bounds = np.searchsorted(par[order], np.arange(9))
    for s in range(8):
        if bounds[s + 1] > bounds[s]:
            part = order[bounds[s]:bounds[s + 1]]
            pools[s].append((idx[part], labs[part]))


def _grow(st: _State, bands, own: bool) -> None:
    """Grow every label by simple points, band by band, one parity subfield at a time (module
    docstring, steps 2-3); candidates wait in one list per subfield."""
    for t in bands:
        pools: list[list] = [[] for _ in range(8)]
        _by_parity(st, *_frontier(st, float(t), own), pools)
        while any(pools):
            for s in range(8):
                if not pools[s]:
                    continue
                key = np.unique(np.concatenate([i * 256 + lab for i, lab in pools[s]]))
                pools[s] = []
                added, labs = _add_simple(st, key >> 8, (key & 255).astype(np.uint8))
                if added.size:
                    _by_parity(st, *_expand(st, added, labs, float(t), own), pools)


def _verify(out: np.ndarray, box, seeds: np.ndarray, st: _State, targets: dict[int, int]):
    """Betti numbers of every label; a label off its target (never seen) is cut back to its seeds."""
    from ..masks.topology import betti_numbers

    betti, fallback = {}, []
    shape = _shape(st)
    for lab, k in targets.items():
        b = betti_numbers(out == lab)
        if b != (k, 0, 0):
            warnings.warn(f"topology fix: label {lab} ended with Betti numbers {b}; cut back to its seeds",
                          RuntimeWarning, stacklevel=3)
            fallback.append(lab)
            sub = out[box]
            sub[(sub == lab) & (seeds.reshape(shape)[1:-1, 1:-1, 1:-1] != lab)] = 0
            b = betti_numbers(out == lab)
        betti[lab] = b
    return betti, fallback
