"""Final topology guard for phantom label maps (cheap fixes after the constructive model).

The anatomy is built so that every FeTA tissue has the target topology (grey matter two
components, every other tissue one, no handle, no cavity; foreground 6-connected, background
26-connected as in :func:`fetalseg.metrics.betti_numbers`). Sampling a smooth model on a grid
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

# FeTA tissue -> generation labels that form it
TISSUES = {1: (1,), 2: (2,), 3: (3, 8), 4: (4,), 5: (5,), 6: (6,), 7: (7,)}
_CUBE = np.ones((3, 3, 3), dtype=bool)


def _member(lab: np.ndarray, tissue: int) -> np.ndarray:
    vals = TISSUES[tissue]
    m = lab == vals[0]
    for v in vals[1:]:
        m |= lab == v
    return m


def _bbox(mask: np.ndarray, margin: int = 2):
    idx = np.nonzero(np.any(mask, axis=(1, 2)))[0], np.nonzero(np.any(mask, axis=(0, 2)))[0], \
        np.nonzero(np.any(mask, axis=(0, 1)))[0]
    if any(i.size == 0 for i in idx):
        return None
    return tuple(slice(max(int(i[0]) - margin, 0), min(int(i[-1]) + 1 + margin, n))
                 for i, n in zip(idx, mask.shape))


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
    sl = _bbox(lab == 4, 3)
    if sl is None:
        return 0
    sub = lab[sl]
    for _ in range(2):
        wm = (sub == 3) | (sub == 8)
        z = wm & ndi.binary_dilation(sub == 4, structure=_CUBE) & ndi.binary_dilation(sub == 6, structure=_CUBE)
        n += int(z.sum())
        sub[z] = 6
    return n


def keep_main_components(lab: np.ndarray, tissue: int, keep: int = 1) -> int:
    """Give every 6-connected component of ``tissue`` but the ``keep`` largest to its neighbours (in place).

    Returns the number of voxels moved.
    """
    mask = _member(lab, tissue)
    sl = _bbox(mask)
    if sl is None:
        return 0
    sub, m = lab[sl], mask[sl]
    cc, n = cc3d.connected_components(m.astype(np.uint8), connectivity=6, return_N=True)
    if n <= keep:
        return 0
    counts = np.bincount(cc.ravel())[1:]
    order = np.argsort(-counts, kind="stable")
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
    sl = _bbox(mask)
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


def guard(lab: np.ndarray, max_cavity: int = 64) -> dict[str, int]:
    """Apply all fixes to a GENERATION label map in place; returns voxel counts moved per fix."""
    report = {}
    moved = 0
    for _ in range(2):
        for tissue in (1, 3, 2, 4, 6, 5, 7):
            moved += keep_main_components(lab, tissue, keep=2 if tissue == 2 else 1)
    report["stray_components"] = moved
    filled = 0
    for tissue in (3, 2, 6, 5, 7, 4, 1):
        filled += fill_small_cavities(lab, tissue, max_cavity)
    report["cavities"] = filled
    return report
