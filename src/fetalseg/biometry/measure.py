"""The five FeTA 2024 measurements from a label map, in the standard planes of the canonical frame.

Frame: :func:`fetalseg.pose.estimate_pose` (x left->right, y posterior->anterior,
z inferior->superior, origin at the brain centre on the mid-sagittal plane). Each measure is the
longest chord of a structure along one canonical axis, in a standard plane, as the phantom truth
(:mod:`fetalseg.phantom.biometry_truth`) and clinicians define it; LCC from a callosum label, genu to
splenium, is the longest chord in any direction in the mid-sagittal plane (the callosum's ends need
not lie at one height, and the measure then does not depend on the pitch of the frame); from FeTA
labels it is the longest AP chord of the midline white matter's top sheet:

=======  ==============================================  ==========================  =========
measure  structure                                       plane                       chord
=======  ==============================================  ==========================  =========
bBIP     brain (FeTA 2-7)                                axial ``z = 0`` (centre)    x
sBIP     intracranial space: inside the skull's inner    axial ``z = 0``             x
         table when a skull label exists, else inside
         the outer boundary of external CSF (FeTA 1-7)
TCD      cerebellum (5)                                  coronal planes through the  x
                                                         cerebellum, the widest one
HV       cerebellum (5) at the midline (vermis)          mid-sagittal ``x = 0``      z
LCC      corpus callosum: label 8 (withcc, generation),  mid-sagittal ``x = 0``      any (8)
         or the top sheet of the white matter crossing                               y (FeTA)
         the midline above the lateral ventricles (FeTA)
=======  ==============================================  ==========================  =========

A missing structure gives NaN and a reason (e.g. no callosum in agenesis), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..labels import to_feta
from ..pose import Pose, estimate_pose
from .chords import Chord, MaskField, feret_chord, longest_chord, plane_grid, row_ends

__all__ = ["MEASURES", "Biometry", "measure_biometry"]

MEASURES = ("LCC", "HV", "bBIP", "sBIP", "TCD")
"""FeTA 2024 biometry columns, in the challenge's order."""
STEP_MM = 0.2
CALLOSUM_MAX_MM = 6.0
"""Thickest callosal sheet kept below the top of the midline white matter (FeTA labels), mm."""
SMOOTH_THIN, SMOOTH_CALLOSUM = 0.0, 0.5
"""Gaussian sigma (voxels) of the mask before sampling for the vermis (HV: a thin midline plate that
smoothing across shrinks) and the callosum; other structures use :class:`MaskField`'s 0.7. Chosen on
calibration phantoms (seeds 3000+), not on the benchmark's evaluation cohort."""


@dataclass
class Biometry:
    """Measurements of one subject.

    Attributes
    ----------
    values : dict[str, float]
        measure -> mm (NaN when not measurable).
    landmarks : dict[str, ndarray (2, 3)]
        measure -> its two end points, world mm (RAS+ of the input affine); absent when NaN.
    reasons : dict[str, str]
        measure -> why it is NaN.
    sources : dict[str, str]
        measure -> which structure and plane were used (e.g. sBIP from the skull or the CSF).
    pose : Pose
        The canonical frame used.
    """

    values: dict[str, float]
    landmarks: dict[str, np.ndarray]
    reasons: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    pose: Pose | None = None


def _masks(labels: np.ndarray, convention: str) -> dict:
    feta = labels if convention == "feta" else to_feta(labels, convention)
    has_cc_label = convention in ("withcc", "generation")
    cc_value = 8
    skull = convention == "generation" and bool(np.any(labels == 9))
    return {
        "feta": feta,
        "brain": np.isin(feta, (2, 3, 4, 5, 6, 7)),
        "intracranial": (feta > 0) | ((labels == cc_value) if has_cc_label else False),
        "cerebellum": feta == 5,
        "wm": feta == 3,
        "ventricles": feta == 4,
        "callosum": (labels == cc_value) if has_cc_label else None,
        "skull": skull,
    }


def _to_world(pose: Pose, chord: Chord) -> np.ndarray:
    return pose.to_world(np.stack([chord.a, chord.b]))


def _widest_coronal(cb: MaskField) -> Chord | None:
    lo, hi = cb.box()
    return longest_chord(cb, 1, np.arange(lo[1], hi[1] + 0.25, 0.5), 0, lo, hi, STEP_MM)


def _callosum_chord(wm: MaskField, vent: MaskField, brain_box) -> tuple[Chord | None, str]:
    """Longest AP chord of the white matter crossing the mid-sagittal plane above the lateral
    ventricles, its top sheet only (a Feret diameter would cut diagonally through the midline
    white matter under the callosum's ends): of the plane's 2-D white-matter components that overlap the ventricles' AP range
    and reach above their median height, the highest one (the callosum roofs the ventricles)."""
    import cc3d

    if wm.empty or vent.empty:
        return None, "no white matter or no ventricles to locate the corpus callosum"
    u, ys, zs = plane_grid(*brain_box, STEP_MM)
    vals = wm.sample(u)
    comp = cc3d.connected_components(np.ascontiguousarray(vals >= 0.5), connectivity=8)
    v_lo, v_hi = vent.points[:, 1].min(), vent.points[:, 1].max()
    v_z = float(np.median(vent.points[:, 2]))
    best, best_top = 0, -np.inf
    for c in range(1, int(comp.max()) + 1):
        rr, cc = np.nonzero(comp == c)
        y0, y1, top = ys[cc.min()], ys[cc.max()], zs[rr.max()]
        if rr.size >= 4 and y1 >= v_lo and y0 <= v_hi and top > v_z and top > best_top:
            best, best_top = c, top
    if best == 0:
        return None, "no white matter crosses the midline above the lateral ventricles (callosal agenesis?)"
    band = _top_band(comp == best, CALLOSUM_MAX_MM / STEP_MM)
    keep = np.zeros_like(vals)
    grown = band | np.roll(band, 1, 1) | np.roll(band, -1, 1)
    keep[grown] = vals[grown]
    a, b = row_ends(keep, ys)
    length = b - a
    r = int(np.nanargmax(length))
    return Chord(float(length[r]), np.array([0.0, a[r], zs[r]]), np.array([0.0, b[r], zs[r]])), ""


def _top_band(mask: np.ndarray, max_rows: float) -> np.ndarray:
    """Per column of ``mask`` (rows = z upwards, columns = y), the topmost contiguous run of true
    pixels, at most ``max_rows`` long: the callosum's sheet, not the midline white matter below it."""
    out = np.zeros_like(mask)
    for c in np.nonzero(mask.any(axis=0))[0]:
        col = mask[:, c]
        top = int(np.nonzero(col)[0].max())
        r = top
        while r >= 0 and col[r] and top - r < max_rows:
            out[r, c] = True
            r -= 1
    return out


def _chords(m: dict, affine: np.ndarray, pose: Pose) -> tuple[dict, dict, dict]:
    brain = MaskField(m["brain"], affine, pose)
    icv = MaskField(m["intracranial"], affine, pose)
    cb = MaskField(m["cerebellum"], affine, pose)
    chords, reasons, sources = {}, {}, {}
    blo, bhi = icv.box(3.0)
    chords["bBIP"] = longest_chord(brain, 2, [0.0], 0, blo, bhi, STEP_MM)
    sources["bBIP"] = "brain (FeTA 2-7), axial plane through the brain centre"
    chords["sBIP"] = longest_chord(icv, 2, [0.0], 0, blo, bhi, STEP_MM)
    sources["sBIP"] = ("skull inner table (skull label)" if m["skull"] else "outer boundary of external CSF "
                       "(no skull label)") + ", axial plane through the brain centre"
    if cb.empty:
        reasons["TCD"] = reasons["HV"] = "no cerebellum (label 5) in the segmentation"
    else:
        lo, hi = cb.box()
        chords["TCD"] = _widest_coronal(cb)
        sources["TCD"] = "cerebellum (5), widest coronal plane"
        vermis = MaskField(m["cerebellum"], affine, pose, smooth_vox=SMOOTH_THIN)
        chords["HV"] = longest_chord(vermis, 0, [0.0], 2, lo, hi, STEP_MM)
        sources["HV"] = "cerebellum (5) in the mid-sagittal plane (vermis)"
        if chords["HV"] is None:
            reasons["HV"] = "no cerebellum at the midline (vermis) in the mid-sagittal plane"
    if m["callosum"] is not None:
        cc = MaskField(m["callosum"], affine, pose, smooth_vox=SMOOTH_CALLOSUM)
        u, ys, zs = plane_grid(blo, bhi, STEP_MM)
        chords["LCC"] = None if cc.empty else feret_chord(cc.sample(u), ys, zs)
        sources["LCC"] = "corpus callosum label (8) in the mid-sagittal plane"
        if chords["LCC"] is None:
            reasons["LCC"] = "no corpus callosum (label 8) at the midline (callosal agenesis?)"
    else:
        chords["LCC"], why = _callosum_chord(MaskField(m["wm"], affine, pose, smooth_vox=SMOOTH_CALLOSUM),
                                             MaskField(m["ventricles"], affine, pose), (blo, bhi))
        sources["LCC"] = "white matter crossing the mid-sagittal plane above the lateral ventricles"
        if why:
            reasons["LCC"] = why
    return chords, reasons, sources


def measure_biometry(labels: np.ndarray, affine: np.ndarray, *, convention: str = "feta",
                     pose: Pose | None = None, image: np.ndarray | None = None) -> Biometry:
    """Measure LCC, HV, bBIP, sBIP and TCD (mm) with their landmarks from a label map.

    Parameters
    ----------
    labels : ndarray (X, Y, Z), integer
        Label map in ``convention``.
    affine : ndarray (4, 4)
        Voxel index to world (RAS+, mm); any orientation.
    convention : {'feta', 'withcc', 'generation'}
        Label convention (see :mod:`fetalseg.labels`). 'withcc' and 'generation' give the corpus
        callosum its own label (8); 'generation' may add a skull (9) for sBIP.
    pose : Pose, optional
        Canonical frame; default :func:`fetalseg.pose.estimate_pose` of the FeTA labels.
    image : ndarray (X, Y, Z), optional
        T2w image on the same grid, passed to the pose estimator.

    Returns
    -------
    Biometry
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be 3-D, got shape {labels.shape}")
    if convention not in ("feta", "withcc", "generation"):
        raise ValueError(f"convention must be 'feta', 'withcc' or 'generation', got {convention!r}")
    m = _masks(labels, convention)
    if pose is None:
        pose = estimate_pose(m["feta"], affine, image)
    chords, reasons, sources = _chords(m, np.asarray(affine, dtype=np.float64), pose)
    values, marks = {}, {}
    for name in MEASURES:
        ch = chords.get(name)
        if ch is None:
            values[name] = float("nan")
            reasons.setdefault(name, f"{name}: structure not found in its standard plane")
        else:
            values[name] = ch.length
            marks[name] = _to_world(pose, ch)
    return Biometry(values=values, landmarks=marks, reasons=reasons, sources=sources, pose=pose)
