"""Biometry ground truth measured on the phantom's own anatomy.

Each measure is the longest chord of a structure along a fixed axis within its standard plane
(world frame of :mod:`fetalseg.phantom.anatomy`), found on the continuous implicit anatomy (not
the voxel grid): first on a 0.4 mm lattice over the structure's box, then refined on a 0.02 mm
lattice around the best chord's two ends. The landmarks are the chord's two end points (mm), and
the measure is their distance. Nothing is copied from the norms: what the anatomy is, is measured.

=======  ==================  ====================  ===========  ===================================
measure  structure           standard plane        chord axis   note
=======  ==================  ====================  ===========  ===================================
bBIP     cerebrum            axial ``z = 0``       x (L-R)      brain biparietal diameter
sBIP     intracranial space  axial ``z = 0``       x (L-R)      skull (inner table) biparietal
TCD      cerebellum          coronal, cerebellum   x (L-R)      transverse cerebellar diameter
HV       vermis              midsagittal ``x = 0`` z (I-S)      height of the vermis
LCC      corpus callosum     midsagittal ``x = 0`` y (P-A)      genu to splenium; NaN without one
=======  ==================  ====================  ===========  ===================================

``atrial_width`` (right atrium, axial plane through its centre, along x) is added for
ventriculomegaly; it is not a column of the FeTA biometry TSV.
"""

from __future__ import annotations

import numpy as np

from . import deep, labelmap
from .params import Anatomy, Geometry
from .shapes import open_grid

FETA_COLUMNS = ("LCC", "HV", "bBIP", "sBIP", "TCD")
COARSE, FINE = 0.4, 0.02


def _axes_for(plane_axis: int, plane_value: float, lo, hi, h: float):
    axes = []
    for ax in range(3):
        if ax == plane_axis:
            axes.append(np.array([plane_value], dtype=np.float32))
        else:
            n = max(2, int(np.ceil((hi[ax] - lo[ax]) / h)) + 1)
            axes.append((lo[ax] + h * np.arange(n)).astype(np.float32))
    return axes


def longest_chord(member, plane_axis: int, plane_value: float, chord_axis: int, lo, hi):
    """End points (two (3,) arrays, mm) of the longest chord along ``chord_axis`` of a structure.

    ``member(X, Y, Z) -> bool array`` tests points given as an open grid. The search covers the
    box ``[lo, hi]`` (mm, 3 each) of the plane ``coord[plane_axis] == plane_value``. Returns
    ``None`` when the structure does not meet the plane.
    """
    row_axis = 3 - plane_axis - chord_axis
    axes = _axes_for(plane_axis, plane_value, lo, hi, COARSE)
    m = np.asarray(member(*open_grid(*axes)))
    m = np.broadcast_to(m, tuple(a.size for a in axes))
    m2 = np.moveaxis(m, (row_axis, chord_axis), (0, 1)).reshape(axes[row_axis].size, axes[chord_axis].size, -1)[..., 0]
    if not m2.any():
        return None
    any_row = m2.any(axis=1)
    first = np.where(any_row, m2.argmax(axis=1), 0)
    last = np.where(any_row, m2.shape[1] - 1 - m2[:, ::-1].argmax(axis=1), -1)
    best = int(np.argmax(np.where(any_row, last - first, -1)))
    rows = axes[row_axis]
    chord = axes[chord_axis]
    # refine: rows within one coarse step of the best row, ends within one coarse step
    r_lo, r_hi = rows[max(best - 1, 0)], rows[min(best + 1, rows.size - 1)]
    results = []
    for end, idx in (("first", first[best]), ("last", last[best])):
        c = chord[idx]
        flo, fhi = list(lo), list(hi)
        flo[row_axis], fhi[row_axis] = r_lo, r_hi
        flo[chord_axis], fhi[chord_axis] = c - COARSE, c + COARSE
        fa = _axes_for(plane_axis, plane_value, flo, fhi, FINE)
        fm = np.broadcast_to(np.asarray(member(*open_grid(*fa))), tuple(a.size for a in fa))
        fm2 = np.moveaxis(fm, (row_axis, chord_axis), (0, 1)).reshape(fa[row_axis].size, fa[chord_axis].size, -1)[..., 0]
        results.append((fa, fm2))
    # choose the fine row that maximises the chord
    (fa1, m1), (fa2, m2f) = results
    n = min(m1.shape[0], m2f.shape[0])
    has1, has2 = m1[:n].any(axis=1), m2f[:n].any(axis=1)
    lo_pos = np.where(has1, fa1[chord_axis][m1[:n].argmax(axis=1)], np.inf)
    hi_pos = np.where(has2, fa2[chord_axis][m2f.shape[1] - 1 - m2f[:n, ::-1].argmax(axis=1)], -np.inf)
    length = hi_pos - lo_pos
    if not np.isfinite(length).any():
        return None
    r = int(np.nanargmax(np.where(np.isfinite(length), length, -np.inf)))
    p1 = np.zeros(3)
    p2 = np.zeros(3)
    p1[plane_axis] = p2[plane_axis] = plane_value
    p1[row_axis] = p2[row_axis] = fa1[row_axis][r]
    p1[chord_axis], p2[chord_axis] = lo_pos[r], hi_pos[r]
    return p1, p2


def brain_width(a: Anatomy, sulci: dict, voxel: float) -> float:
    """bBIP (mm) of the anatomy: the longest left-right chord of the cerebrum in the axial plane z = 0."""
    g = labelmap.derived(a, voxel)
    cer = a.cerebrum
    big = 1.5 * max(cer.ax, cer.ay, cer.az_top) + 5.0

    def cerebrum(X, Y, Z):
        return labelmap.cerebrum(X, Y, Z, a, g, sulci)[0] <= 0

    res = longest_chord(cerebrum, 2, 0.0, 0, (-big, -big, 0), (big, big, 0))
    return float("nan") if res is None else float(np.linalg.norm(res[1] - res[0]))


def _chord_specs(a: Anatomy, g: Geometry, sulci: dict) -> dict:
    """measure -> (membership test, plane axis, plane value, chord axis, box low, box high)."""
    cer, cb, cc = a.cerebrum, a.cerebellum, a.callosum
    big = 1.5 * max(cer.ax, cer.ay, cer.az_top) + g.e + 5.0

    def cerebrum(X, Y, Z):
        d, _, _ = labelmap.cerebrum(X, Y, Z, a, g, sulci)
        return d <= 0

    def intracranial(X, Y, Z):
        return labelmap.intracranial_sd(X, Y, Z, a, g) <= 0

    def cerebellum(X, Y, Z):
        d, _, _ = labelmap.cerebrum(X, Y, Z, a, g, sulci)
        return labelmap.cerebellum_mask(X, Y, Z, a, g, d) & (labelmap.brainstem_sd(X, Y, Z, a, g) > 0) \
            & (labelmap.intracranial_sd(X, Y, Z, a, g) <= 0)

    def callosum(X, Y, Z):
        return deep.callosum(X, Y, Z, a, g) & cerebrum(X, Y, Z)

    cb_half = cb.hx + cb.ax + 3.0
    specs = {
        "bBIP": (cerebrum, 2, 0.0, 0, (-big, -big, 0), (big, big, 0)),
        "sBIP": (intracranial, 2, 0.0, 0, (-big, -big, 0), (big, big, 0)),
        "TCD": (cerebellum, 1, cb.y, 0, (-cb_half, 0, cb.z - 2 * cb.az), (cb_half, 0, cb.z + 2 * cb.az)),
        "HV": (cerebellum, 0, 0.0, 2, (0, cb.y - 2 * cb.ay, cb.z - 2 * cb.verm_az),
               (0, cb.y + 2 * cb.ay, cb.z + 2 * cb.verm_az)),
    }
    if cc.present:
        specs["LCC"] = (callosum, 0, 0.0, 1, (0, cc.y - cc.ly - 3, cc.z - cc.lz), (0, cc.y + cc.ly + 3, cc.z + cc.lz + 3))
    return specs


def measure(a: Anatomy, sulci: dict, voxel: float) -> tuple[dict[str, float], dict[str, list]]:
    """Biometry (mm) and landmarks (measure -> [[x, y, z], [x, y, z]] mm) of a phantom."""
    g = labelmap.derived(a, voxel)
    values: dict[str, float] = {}
    marks: dict[str, list] = {}
    for name, (fn, pa, pv, ca, lo, hi) in _chord_specs(a, g, sulci).items():
        res = longest_chord(fn, pa, pv, ca, lo, hi)
        if res is None:
            values[name] = float("nan")
            continue
        p1, p2 = res
        values[name] = float(np.linalg.norm(p2 - p1))
        marks[name] = [[round(float(c), 3) for c in p1], [round(float(c), 3) for c in p2]]
    if "LCC" not in values:
        values["LCC"] = float("nan")
    best = _atrial_width(a, g)
    if best is not None:
        az = best[4]
        values["atrial_width"] = best[0]
        marks["atrial_width"] = [[round(best[1], 3), round(best[3], 3), round(float(az), 3)],
                                 [round(best[2], 3), round(best[3], 3), round(float(az), 3)]]
    return values, marks


def _atrial_width(a: Anatomy, g: Geometry):
    """Right atrial width: in the axial plane through the atrium, the widest left-right run of the
    right ventricle through the atrium's centre line, over rows within +-2 mm of it.

    Returns ``(width, x_lo, x_hi, y, z)`` (mm) or None.
    """
    ax, ay, az = deep.atrium_centre(a, g, 1.0)
    xs = (ax - 15.0 + FINE * np.arange(int(30.0 / FINE) + 1)).astype(np.float32)
    ys = (ay - 2.0 + 0.1 * np.arange(41)).astype(np.float32)
    m = np.broadcast_to(deep.ventricles(*open_grid(xs, ys, np.array([az], np.float32)), a, g),
                        (xs.size, ys.size, 1))[..., 0]
    i0 = int(np.argmin(np.abs(xs - ax)))
    best = None
    for j in range(ys.size):
        col = m[:, j]
        if not col[i0]:
            continue
        lo = i0 - int(np.argmin(col[i0::-1])) + 1 if not col[: i0 + 1].all() else 0
        hi = i0 + int(np.argmin(col[i0:])) - 1 if not col[i0:].all() else col.size - 1
        if best is None or xs[hi] - xs[lo] > best[0]:
            best = (float(xs[hi] - xs[lo]), float(xs[lo]), float(xs[hi]), float(ys[j]), az)
    return best
