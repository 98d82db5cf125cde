"""Final topology guard for phantom label maps (cheap fixes after the constructive model).

The anatomy is built so that every FeTA tissue has the target topology (grey matter two
components, every other tissue one, no handle, no cavity; foreground 6-connected, background
26-connected as in :func:`fetalseg.masks.topology.betti_numbers`). Sampling a smooth model on a grid
can still leave voxel-scale debris: a lone voxel of CSF at the bottom of a pinched sulcus, a
one-voxel sheet of white matter between a ventricle and the thalamus. This module removes it:

1. *thin sheets*: white matter 26-adjacent to both a ventricle and deep grey matter becomes deep
   grey matter (the sheet would be perforated);
2. *stray components*: every 6-connected component of a tissue but the largest (the two largest
   for cortical grey matter) is given to the tissue it borders most;
3. *small cavities*: a small pocket of other labels enclosed by one tissue joins that tissue.
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage as ndi

from ..labels import GENERATION_TO_FETA, lookup_table
from ..masks.topology import bbox, betti_numbers
from .codes import BS, CBM, CC, DGM, ECSF, GM, N_LABELS, TARGETS, TISSUES, VENT, WM

_CUBE = np.ones((3, 3, 3), dtype=bool)


def _member(lab: np.ndarray, tissue: int) -> np.ndarray:
    vals = TISSUES[tissue]
    m = lab == vals[0]
    for v in vals[1:]:
        m |= lab == v
    return m


def _give_to_neighbours(lab: np.ndarray, region: np.ndarray, exclude: tuple[int, ...]) -> None:
    """Relabel ``region`` (bool, same shape) with the most common label bordering it (not in ``exclude``)."""
    ring = ndi.binary_dilation(region, structure=_CUBE) & ~region
    vals = lab[ring]
    vals = vals[~np.isin(vals, exclude)]
    if vals.size:
        lab[region] = np.bincount(vals).argmax()


def fix_thin_sheets(lab: np.ndarray) -> int:
    """White matter touching both ventricles and deep grey matter becomes deep grey matter (in place)."""
    n = 0
    sl = bbox(lab == VENT, 3)
    if sl is None:
        return 0
    sub = lab[sl]
    for _ in range(2):
        wm = (sub == WM) | (sub == CC)
        z = wm & ndi.binary_dilation(sub == VENT, structure=_CUBE) & ndi.binary_dilation(sub == DGM, structure=_CUBE)
        n += int(z.sum())
        sub[z] = DGM
    return n


def keep_main_components(lab: np.ndarray, tissue: int, keep: int = 1) -> int:
    """Give every 6-connected component of ``tissue`` but the ``keep`` largest to its neighbours (in place).

    Returns the number of voxels moved.
    """
    mask = _member(lab, tissue)
    sl = bbox(mask, 2)
    if sl is None:
        return 0
    sub, m = lab[sl], mask[sl]
    cc, n = cc3d.connected_components(m.astype(np.uint8), connectivity=6, return_N=True)
    if n <= keep:
        return 0
    counts = np.bincount(cc.ravel())[1:]
    score = counts.astype(np.float64)
    if tissue == DGM:
        # deep grey matter must reach the brainstem (else it and the ventricles are white-matter
        # cavities): the piece touching the brainstem most wins, then size
        touch = ndi.binary_dilation(sub == BS, structure=_CUBE)
        contact = np.bincount(cc[touch].ravel(), minlength=n + 1)[1:]
        score = score + 1e9 * contact
    order = np.argsort(-score, kind="stable")
    moved = 0
    objects = ndi.find_objects(cc)
    for j in order[keep:]:
        box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in objects[j])
        region = cc[box] == j + 1
        _give_to_neighbours(sub[box], region, TISSUES[tissue])
        moved += int(counts[j])
    return moved


def fill_small_cavities(lab: np.ndarray, tissue: int, max_voxels: int) -> int:
    """Pockets (26-connected) enclosed by ``tissue`` with at most ``max_voxels`` voxels join it (in place)."""
    mask = _member(lab, tissue)
    sl = bbox(mask, 2)
    if sl is None:
        return 0
    m = mask[sl]
    bg = np.pad(~m, 1, constant_values=True)
    full, n = cc3d.connected_components(bg.astype(np.uint8), connectivity=26, return_N=True)
    if n <= 1:
        return 0
    outside = int(full[0, 0, 0])
    cc = full[1:-1, 1:-1, 1:-1]
    counts = np.bincount(cc.ravel(), minlength=n + 1)
    filled = 0
    sub = lab[sl]
    target = TISSUES[tissue][0]
    for j in range(1, n + 1):
        if j == outside or counts[j] == 0 or counts[j] > max_voxels:
            continue
        sub[cc == j] = target
        filled += int(counts[j])
    return filled


_COMPONENT_ORDER = (ECSF, WM, GM, VENT, DGM, CBM, BS)
_TO_FETA = lookup_table(GENERATION_TO_FETA)


def guard(lab: np.ndarray, max_cavity: int = 64) -> dict[str, int]:
    """Apply all fixes to a GENERATION label map in place; returns voxel counts moved per fix."""
    report = {}
    moved = 0
    for _ in range(2):
        for tissue in _COMPONENT_ORDER:
            moved += keep_main_components(lab, tissue, keep=TARGETS[tissue][0])
    report["stray_components"] = moved
    filled = 0
    for tissue in (WM, GM, DGM, CBM, BS, VENT, ECSF):
        filled += fill_small_cavities(lab, tissue, max_cavity)
    report["cavities"] = filled
    cache: dict = {}
    report["handle_fixes"] = sum(repair_handles(lab, sizes=(n,), cache=cache) for n in REPAIR_SIZES)
    report["on_target"] = int(on_target(lab))
    if report["handle_fixes"]:
        for tissue in _COMPONENT_ORDER:
            report["stray_components"] += keep_main_components(lab, tissue, keep=TARGETS[tissue][0])
    return report


def on_target(lab: np.ndarray) -> bool:
    """Whether every FeTA tissue of a GENERATION label map has its target Betti numbers."""
    fe = _feta(lab)
    return all(betti_numbers(fe == t) == target for t, target in TARGETS.items())


def _feta(lab: np.ndarray) -> np.ndarray:
    return _TO_FETA[lab]


def _excess(fe: np.ndarray, tissues=TARGETS) -> int:
    """Sum over tissues of |betti - target| (b0 compared only when the crop holds the whole tissue)."""
    total = 0
    for t in tissues:
        b = betti_numbers(fe == t)
        total += b[1] + b[2]
    return total


def _euler_boxes(mask: np.ndarray, sizes, stride=None):
    """Euler characteristic (6-connected foreground) of every ``size``-cube at ``stride`` steps.

    Vertices, edges, squares and cubes of the voxel-centre cubical complex are counted with
    summed-area tables, so all boxes (of every size in ``sizes``; stride half the size unless
    given) cost one pass. Returns ``{size: (corners (K, 3), ec (K,), count (K,))}``, or that tuple
    when ``sizes`` is a single int.
    """
    single = isinstance(sizes, (int, np.integer))
    sizes = [int(sizes)] if single else [int(x) for x in sizes]
    # int16 summed-area tables: they wrap around, but a box sum (< 2^15 for boxes up to 31^3)
    # taken by inclusion-exclusion is exact modulo 2^16, hence exact
    m = mask.astype(np.int16)
    ex = m[1:] & m[:-1]
    ey = m[:, 1:] & m[:, :-1]
    ez = m[:, :, 1:] & m[:, :, :-1]
    fxy = ex[:, 1:] & ex[:, :-1]
    fxz = ex[:, :, 1:] & ex[:, :, :-1]
    fyz = ey[:, :, 1:] & ey[:, :, :-1]
    cube = fxy[:, :, 1:] & fxy[:, :, :-1]
    parts = [(m, (0, 0, 0), 1), (ex, (1, 0, 0), -1), (ey, (0, 1, 0), -1), (ez, (0, 0, 1), -1),
             (fxy, (1, 1, 0), 1), (fxz, (1, 0, 1), 1), (fyz, (0, 1, 1), 1), (cube, (1, 1, 1), -1)]
    grids = {}
    for size in sizes:
        step = stride or max(1, size // 2)
        starts = [np.arange(0, max(n - size, 0) + 1, step) for n in mask.shape]
        I, J, K = np.meshgrid(*starts, indexing="ij")
        grids[size] = [I.ravel(), J.ravel(), K.ravel(), np.zeros(I.size, dtype=np.int64), None]
    for arr, shrink, sign in parts:
        sat = np.zeros(tuple(d + 1 for d in arr.shape), dtype=np.int16)
        inner = sat[1:, 1:, 1:]
        np.cumsum(arr, axis=0, out=inner, dtype=np.int16)
        np.cumsum(inner, axis=1, out=inner, dtype=np.int16)
        np.cumsum(inner, axis=2, out=inner, dtype=np.int16)
        for size, gr in grids.items():
            I, J, K = gr[:3]
            hi = [np.minimum(c + size - s, d) for c, s, d in zip((I, J, K), shrink, arr.shape)]
            lo = [np.minimum(c, d) for c, d in zip((I, J, K), arr.shape)]
            tot = (sat[hi[0], hi[1], hi[2]] - sat[lo[0], hi[1], hi[2]] - sat[hi[0], lo[1], hi[2]]
                   - sat[hi[0], hi[1], lo[2]] + sat[lo[0], lo[1], hi[2]] + sat[lo[0], hi[1], lo[2]]
                   + sat[hi[0], lo[1], lo[2]] - sat[lo[0], lo[1], lo[2]])
            tot = tot.astype(np.int64)
            gr[3] += sign * tot
            if gr[4] is None:
                gr[4] = tot
    out = {size: (np.stack(gr[:3], axis=1), gr[3], gr[4]) for size, gr in grids.items()}
    return out[sizes[0]] if single else out


def _quick_defects(mask: np.ndarray, sizes=(6,)) -> dict[int, list[tuple[int, int, int]]]:
    """Boxes whose Euler characteristic shows a handle (EC <= 0 with voxels in the box), confirmed
    by their Betti numbers, per box size. Fast (one summed-area pass for all sizes), but blind to a
    handle in a box holding several pieces."""
    out: dict[int, list[tuple[int, int, int]]] = {n: [] for n in sizes}
    sl = bbox(mask, 1)
    if sl is None:
        return out
    sub = mask[sl]
    for size, (corners, ec, count) in _euler_boxes(sub, list(sizes)).items():
        for c in corners[(ec <= 0) & (count > 0)]:
            b = betti_numbers(sub[c[0]:c[0] + size, c[1]:c[1] + size, c[2]:c[2] + size])
            if b[1] or b[2]:
                out[size].append(tuple(int(x + s.start) for x, s in zip(c, sl)))
    return out


def _local_defects(mask: np.ndarray, size: int = 6) -> list[tuple[int, int, int]]:
    """Corners of ``size``-voxel boxes where ``mask`` has a local handle or cavity.

    Hierarchical search: boxes of ``8 * size`` (stride half their size) are tested first, and
    only inside flagged boxes are the boxes of half the size tested, down to ``size``. Every box
    of a level lies inside some box of the level above, so a defect smaller than ``size / 2``
    voxels is found at the finest level.
    """
    sl = bbox(mask, 0)
    if sl is None:
        return []

    def bad(c, n):
        sub = mask[c[0]:c[0] + n, c[1]:c[1] + n, c[2]:c[2] + n]
        if not sub.any() or sub.all():
            return False
        b = betti_numbers(sub)
        return bool(b[1] or b[2])

    n = 8 * size
    level = {(i, j, k) for i in range(sl[0].start, sl[0].stop, n // 2)
             for j in range(sl[1].start, sl[1].stop, n // 2)
             for k in range(sl[2].start, sl[2].stop, n // 2)}
    while True:
        flagged = sorted(c for c in level if bad(c, n))
        if n <= size or not flagged:
            return flagged
        half = n // 2
        step = max(1, half // 2)
        level = {(c[0] + a, c[1] + b_, c[2] + d) for c in flagged
                 for a in range(0, n - half + 1, step) for b_ in range(0, n - half + 1, step)
                 for d in range(0, n - half + 1, step)}
        n = half


REPAIR_SIZES = (6, 10, 14)


def repair_handles(lab: np.ndarray, max_fixes: int = 24, sizes=REPAIR_SIZES, cache: dict | None = None) -> int:
    """Remove voxel-scale handles and cavities left after the other fixes (in place).

    For every tissue off its target, boxes with a local handle are found (Euler-characteristic
    screen, then an exhaustive hierarchical scan if that finds none); in each, the voxels of the
    core (the box plus one voxel) are replaced by the 3x3x3 majority label, or the tissue is filled
    into / cut out of the core. A change is kept only if the summed handles and cavities of all
    tissues in a margin around the box go down and no tissue splits or merges. Returns the fixes kept.
    ``cache`` (a dict shared by successive calls) keeps the box screening of a tissue for all
    :data:`REPAIR_SIZES` until a fix changes the label map.
    """
    fixes = 0
    fe = _feta(lab)

    def off(tissue):
        b = betti_numbers(fe == tissue)
        return b[1] != TARGETS[tissue][1] or b[2] != TARGETS[tissue][2]

    for tissue in TARGETS:
        if fixes >= max_fixes or not off(tissue):
            continue
        if cache is not None and cache.get(tissue, (None, None))[0] == cache.get("fixes", 0):
            quick = cache[tissue][1]
        else:  # one summed-area pass for all sizes, redone after changes
            quick = _quick_defects(fe == tissue, tuple(sorted(set(sizes) | set(REPAIR_SIZES))))
            if cache is not None:
                cache[tissue] = (cache.get("fixes", 0), quick)
        for size in sizes:
            corners = quick[size] or _local_defects(fe == tissue, size)
            changed = 0
            for corner in corners:
                if fixes >= max_fixes:
                    break
                changed += _try_fix(lab, fe, tissue, corner, size)
            fixes += changed
            if changed and cache is not None:
                cache["fixes"] = cache.get("fixes", 0) + changed
            if not off(tissue):
                break
            if changed:
                quick = _quick_defects(fe == tissue, sizes)
    return fixes


def _try_fix(lab: np.ndarray, fe: np.ndarray, tissue: int, corner, size: int) -> int:
    lo = [max(c - 1, 0) for c in corner]
    hi = [min(c + size + 1, n) for c, n in zip(corner, lab.shape)]
    core = tuple(slice(a, b_) for a, b_ in zip(lo, hi))
    outer = tuple(slice(max(a - 4, 0), min(b_ + 4, n)) for a, b_, n in zip(lo, hi, lab.shape))
    before = _excess(fe[outer])
    if before == 0:
        return 0
    b0_before = {t: betti_numbers(fe[outer] == t)[0] for t in TARGETS}
    for attempt in ("majority", "fill", "cut"):
        saved = lab[core].copy()
        sub = lab[core]
        if attempt == "majority":
            sub[...] = _majority(lab, core)
        elif attempt == "fill":
            members = TISSUES[tissue]
            holes = ~np.isin(sub, members) & np.isin(_feta(sub), list(TARGETS))
            sub[holes] = members[0]
        else:
            region = np.isin(sub, TISSUES[tissue])
            _give_to_neighbours(sub, region, TISSUES[tissue])
        new_fe = _feta(lab[outer])
        # keep the change only if handles/cavities go down and no tissue splits or merges
        if _excess(new_fe) < before and all(betti_numbers(new_fe == t)[0] == b0_before[t] for t in TARGETS):
            fe[outer] = new_fe
            return 1
        lab[core] = saved
    return 0


def _majority(lab: np.ndarray, core) -> np.ndarray:
    """3x3x3 majority (mode) label of every voxel of ``core`` (ties: the current label)."""
    pad = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(core, lab.shape))
    block = lab[pad]
    off = [s.start - p.start for s, p in zip(core, pad)]
    shape = tuple(s.stop - s.start for s in core)
    counts = np.zeros((N_LABELS,) + shape, dtype=np.int16)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                sl = tuple(slice(max(o + d, 0), max(o + d, 0) + n) for o, d, n in zip(off, (dx, dy, dz), shape))
                nb = block[sl]
                if nb.shape != shape:
                    continue
                for v in np.unique(nb):
                    counts[v] += nb == v
    cur = lab[core]
    best = counts.argmax(axis=0).astype(lab.dtype)
    keep = counts.max(axis=0) <= np.take_along_axis(counts, cur[None].astype(np.intp), 0)[0]
    return np.where(keep, cur, best)
