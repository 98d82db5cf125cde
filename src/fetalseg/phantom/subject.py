"""One phantom subject: anatomy, labels, T2w image, biometry truth (:func:`make_subject`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..io import Image
from ..labels import to_feta
from . import acquisition, anatomy, biometry_truth, contrast, cortex, labelmap, topology
from . import pathology as disease


@dataclass
class PhantomSubject:
    """A simulated fetal brain with known truth.

    Attributes
    ----------
    generation : Image
        GENERATION labels 0-12 (uint8): FeTA tissues 1-7 plus corpus callosum (8), skull (9),
        scalp and fetal body (10), amniotic fluid (11), maternal tissue (12).
    labels : Image
        FeTA labels 0-7 (uint8), ``to_feta(generation, 'generation')``.
    image : Image
        Simulated T2w super-resolution volume (float32, amniotic fluid about 1.0).
    biometry : dict[str, float]
        Truth in mm: LCC, HV, bBIP, sBIP, TCD (LCC NaN without a callosum) and atrial_width.
    landmarks : dict[str, list]
        measure -> two world points ``[[x, y, z], [x, y, z]]`` (mm, RAS+) whose distance is the measure.
    params : dict
        Every drawn or derived parameter: GA, pathology, severity, seed, ``anatomy`` (the
        :class:`~fetalseg.phantom.params.Anatomy` as a nested dict, mm; per-measure z-scores and
        targets under ``z`` and ``target``), acquisition factors, site and quality score.
    """

    generation: Image
    labels: Image
    image: Image
    biometry: dict[str, float]
    landmarks: dict[str, list]
    params: dict = field(default_factory=dict)


def make_subject(ga: float, pathology: str = "normal", severity: float = 1.0, voxel: float = 0.8,
                 site: str | None = None, seed: int = 0) -> PhantomSubject:
    """Simulate one fetal brain MRI with its labels and biometry truth.

    Parameters
    ----------
    ga : float
        Gestational age in weeks, 20-38.
    pathology : {'normal', 'vm', 'acc', 'sb', 'micro'}
        Normal, ventriculomegaly, agenesis of the corpus callosum, spina bifida / Chiari II,
        microcephaly (see :mod:`fetalseg.phantom.pathology`).
    severity : float
        Pathology severity in (0, 3]; 1 is typical (ignored for 'normal').
    voxel : float
        Isotropic voxel size in mm (0.3-2.0). The grid is a cube holding the head (about 160^3
        at 0.8 mm for 34 weeks), with a few more axial slices below it for the medulla.
    site : str or None
        Acquisition preset (:data:`fetalseg.phantom.acquisition.SITES`); None is 'default'.
    seed : int
        Seed of every random draw; the same arguments give the same arrays, bit for bit.
    """
    ga = anatomy.check_ga(ga)
    pathology, severity = disease.check(pathology, severity)
    voxel = float(voxel)
    if not 0.3 <= voxel <= 2.0:
        raise ValueError(f"voxel must be within 0.3-2.0 mm, got {voxel:g}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ss = np.random.SeedSequence([int(seed), 7919])
    rng_anat, rng_fold, rng_acq, rng_img = (np.random.default_rng(s) for s in ss.spawn(4))
    a = anatomy.draw_anatomy(ga, rng_anat, disease.z_shift(pathology, severity))
    a = anatomy.draw_surroundings(a, rng_anat)
    a = disease.apply(a, pathology, severity)
    mean_r = float(np.mean([a.cerebrum.ax, a.cerebrum.ay, a.cerebrum.az_top]))
    sulci = cortex.draw_sulci(ga - disease.folding_delay(pathology, severity), mean_r, rng_fold)
    if a.callosum.present:
        cs = cortex.callosal_sulcus(a.callosum, a.cerebrum.ay, a.cerebrum.az_top, mean_r, 1.5 + 0.02 * mean_r)
        sulci["medial_right"].append(cs)
        sulci["medial_left"].append(cs)
    # the folds narrow the brain a little: widen the hemispheres so that the folded brain is as
    # wide as drawn (the truth is still measured on the final anatomy below)
    width = biometry_truth.brain_width(a, sulci, voxel)
    if np.isfinite(width):
        a = replace(a, cerebrum=replace(a.cerebrum, ax=a.cerebrum.ax + 0.5 * (a.target.bBIP - width)))
    gen, depth, affine, fixes = _label_map(a, sulci, voxel)
    acq = acquisition.draw_acquisition(site, rng_acq)
    means = contrast.apply_site_contrast(contrast.tissue_means(ga), acq["contrast"], acq["gamma"], acq["csf"])
    clean = contrast.render(gen, depth, ga, means, acq["texture"], rng_img)
    img = acquisition.acquire(clean, voxel, acq)
    bio, marks = biometry_truth.measure(a, sulci, voxel)
    params = {"ga": ga, "pathology": pathology, "severity": severity if pathology != "normal" else 0.0,
              "voxel": voxel, "seed": int(seed), "site": site or "default",
              "anatomy": a.as_dict(),
              "n_sulci": {k: len(v) for k, v in sulci.items()},
              "sulci": _sulci_params(sulci),
              "acquisition": acq, "quality": acquisition.quality_score(acq, voxel),
              "topology_fixes": fixes}
    gen_img = Image(gen, affine)
    return PhantomSubject(
        generation=gen_img,
        labels=Image(to_feta(gen, "generation"), affine.copy()),
        image=Image(img, affine.copy()),
        biometry=bio,
        landmarks=marks,
        params=params,
    )


def _label_map(a, sulci: dict, voxel: float):
    """GENERATION labels, depth field, affine and the topology guard's report.

    Sampling a smooth anatomy can still leave a voxel-scale defect that the guard cannot mend; the
    same anatomy is then resampled on a grid shifted by a fraction of a voxel (up to 3 times).
    """
    for attempt in range(4):
        shift = tuple(((attempt * f) % 1.0) * voxel for f in (0.37, 0.61, 0.23))
        xs, ys, zs, affine = labelmap.grid(a, voxel, shift)
        gen, depth = labelmap.build(a, sulci, xs, ys, zs, voxel)
        fixes = topology.guard(gen)
        fixes["grid_attempt"] = attempt
        if fixes["on_target"]:
            break
    return gen, depth, affine, fixes


def _sulci_params(sulci: dict) -> dict:
    """The drawn sulci as plain lists (lateral: arc normal, middle, cos of half length, depth mm,
    width rad; medial: start, end (normalised y, z), depth mm, width mm)."""
    out: dict[str, list] = {}
    for side, items in sulci.items():
        rows = []
        for it in items:
            rows.append([np.asarray(x, dtype=float).round(5).tolist() if np.ndim(x) else round(float(x), 5)
                         for x in it])
        out[side] = rows
    return out
