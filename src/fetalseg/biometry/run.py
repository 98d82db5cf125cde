"""``fetalseg biometry`` as one library call: cases in, FeTA TSV, landmarks, JSON and chart out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import Image, is_nifti_path, load_image, save_image, write_bytes, write_text
from .baseline import GABaseline, default_baseline
from .chart import growth_chart_png
from .context import normative
from .fusion import FUSION, fuse
from .formats import dumps, feta_tsv, landmark_image, subject_record
from .measure import MEASURES, Biometry, measure_biometry

__all__ = ["Case", "GA_LIMITS", "plan_cases", "run_biometry", "biometry_context"]

GA_LIMITS = (18.0, 40.0)
"""Gestational ages (weeks) accepted: the norms cover 19-40 weeks."""


@dataclass
class Case:
    """One subject to measure: id, T2w image, label map (None: segment the image), GA (weeks)."""

    id: str
    image: Path
    seg: Path | None
    ga: float | None


def check_ga(ga, where) -> float:
    """``ga`` as float weeks within :data:`GA_LIMITS`, else :class:`InputError` naming ``where``."""
    if ga is None or (isinstance(ga, float) and math.isnan(ga)):
        raise InputError(where, "gestational age missing (parameter ga, or the participants.tsv "
                                "'Gestational age' column)")
    ga = float(ga)
    if not GA_LIMITS[0] <= ga <= GA_LIMITS[1]:
        raise InputError(where, f"gestational age {ga:g} weeks is outside {GA_LIMITS[0]:g}-{GA_LIMITS[1]:g} weeks")
    return ga


def _case_id(path: Path) -> str:
    from ..datasets.bids import subject_id

    sid = subject_id(path.name)
    return sid or path.name.removesuffix(".gz").removesuffix(".nii")


def plan_cases(source, seg=None, ga: float | None = None) -> list[Case]:
    """Cases of a T2w file or a FeTA/BIDS folder. For a folder, ``seg`` is a folder whose label maps
    are matched by subject id (a FeTA dataset's own ``dseg`` when it is the same folder) and GA
    comes from ``participants.tsv``; ``ga`` applies to a single file only."""
    from ..datasets import discover

    src = Path(source)
    if not src.exists():
        raise InputError(src, "file not found")
    if src.is_file():
        if not is_nifti_path(src):
            raise InputError(src, "not a NIfTI file (.nii, .nii.gz)")
        if seg is not None and Path(seg).is_dir():
            raise InputError(seg, "is a folder; a single image needs a single segmentation file")
        return [Case(_case_id(src), src, None if seg is None else Path(seg), check_ga(ga, src))]
    if ga is not None:
        raise InputError(src, "a folder takes gestational ages from participants.tsv, not the parameter ga")
    ds = discover(src, require="t2w")
    segs = {}
    if seg is not None:
        sp = Path(seg)
        if not sp.is_dir():
            raise InputError(sp, "a folder of images needs a folder of segmentations")
        segs = {s.id: s.dseg for s in discover(sp, require="dseg")}
    cases = []
    for s in ds:
        if seg is not None and s.id not in segs:
            raise InputError(seg, f"no segmentation for {s.id}")
        cases.append(Case(s.id, s.t2w, segs.get(s.id), check_ga(s.ga, src / "participants.tsv")))
    return cases


def _convention(path: Path, convention: str) -> str:
    if convention != "auto":
        return convention
    name = path.name
    return "withcc" if "withcc" in name else "generation" if "generation" in name else "feta"


def _labels(case: Case, convention: str, model) -> tuple[Image, np.ndarray, str, str]:
    from ..labels import TABLES

    image = load_image(case.image)
    if case.seg is None:
        from ..infer import segment

        seg = segment(image, model=model)
        return image, seg.data, "feta", "segmented"
    conv = _convention(case.seg, convention)
    lab = load_image(case.seg, labels=TABLES[conv])
    if lab.shape != image.shape or not np.allclose(lab.affine, image.affine, atol=1e-3):
        raise InputError(case.seg, f"segmentation grid {lab.shape} differs from the image grid {image.shape} "
                                   f"of {case.image.name} (shape or affine): resample it first")
    return image, lab.data, conv, "labels"


def biometry_context(bio: Biometry, ga: float, baseline: GABaseline, error_kind: str) -> dict:
    """Per measure: GA-baseline value, fused value (:func:`fusion.fuse`) and its source, normative
    z-score, centile and flag of the image value."""
    out = {}
    for m in MEASURES:
        prior, psd = baseline.predict(m, ga), baseline.spread(m, ga)
        fused, w, src = fuse(bio.values[m], FUSION[error_kind][m], prior, psd)
        norm = normative(m, bio.values[m], ga)
        out[m] = {"ga_baseline_mm": prior, "ga_baseline_sd_mm": psd, "fused_mm": fused, "image_weight": w,
                  "fused_source": src, **norm}
    return out


def _measure_case(case: Case, convention: str, model, baseline: GABaseline) -> dict:
    image, labels, conv, kind = _labels(case, convention, model)
    try:
        bio = measure_biometry(labels, image.affine, convention=conv)
    except ValueError as exc:
        raise InputError(case.seg or case.image, f"cannot measure: {exc}") from None
    ctx = biometry_context(bio, case.ga, baseline, kind)
    record = subject_record(case.id, case.ga, bio, ctx)
    record["labels_from"] = "given segmentation" if kind == "labels" else "fetalseg.segment (shipped model)"
    return {"case": case, "bio": bio, "context": ctx, "record": record, "landmarks": landmark_image(bio, image)}


def _outputs(out: Path, cases: list[Case]) -> list[Path]:
    names = [out / "biometry.tsv", out / "biometry-chart.png"]
    for c in cases:
        names += [out / f"{c.id}_biometry.tsv", out / f"{c.id}_landmarks.nii.gz", out / f"{c.id}_biometry.json"]
    return names


def run_biometry(source, output, *, seg=None, ga: float | None = None, convention: str = "auto",
                 baseline: GABaseline | None = None, model=None, estimate: str = "fused",
                 overwrite: bool = False, progress=None) -> list[dict]:
    """Measure every case of ``source`` and write the outputs to the folder ``output``.

    Writes ``biometry.tsv`` (``participant_id`` + LCC HV bBIP sBIP TCD, mm, the ``estimate``:
    'fused' or 'image'), per case ``<id>_biometry.tsv`` (FeTA 2024 format), ``<id>_landmarks.nii.gz``
    (input grid; 1 LCC, 2 HV, 3 bBIP, 4 sBIP, 5 TCD), ``<id>_biometry.json``, and
    ``biometry-chart.png``. Every input is checked (paths, GA in 18-40 weeks, segmentation on the
    image's grid, outputs free unless ``overwrite``) before anything is written.
    Returns the per-case records.
    """
    if estimate not in ("fused", "image"):
        raise InputError(None, f"estimate must be 'fused' or 'image', got {estimate!r}")
    if convention not in ("auto", "feta", "withcc", "generation"):
        raise InputError(None, f"convention must be auto, feta, withcc or generation, got {convention!r}")
    cases = plan_cases(source, seg, ga)
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    if not overwrite:
        for p in _outputs(out, cases):
            if p.exists():
                raise InputError(p, "already exists (overwrite not allowed)")
    baseline = baseline or default_baseline()
    results = []
    for c in cases:
        results.append(_measure_case(c, convention, model, baseline))
        if progress is not None:
            progress(c)
    _write(out, results, estimate, overwrite)
    return [r["record"] for r in results]


def _write(out: Path, results: list[dict], estimate: str, overwrite: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    key = "fused_mm" if estimate == "fused" else None
    rows, points = [], []
    for r in results:
        c, bio, ctx = r["case"], r["bio"], r["context"]
        row = {m: (ctx[m][key] if key else bio.values[m]) for m in MEASURES}
        rows.append(row)
        write_text(out / f"{c.id}_biometry.tsv", feta_tsv([row]), overwrite=overwrite)
        save_image(r["landmarks"], out / f"{c.id}_landmarks.nii.gz", dtype=np.uint8, overwrite=overwrite)
        write_text(out / f"{c.id}_biometry.json", dumps({**r["record"], "tsv_estimate": estimate}),
                   overwrite=overwrite)
        points.append({"id": c.id, "ga": c.ga, "values": bio.values, "flags": {m: ctx[m]["flag"] for m in MEASURES}})
    write_text(out / "biometry.tsv", feta_tsv(rows, [r["case"].id for r in results]), overwrite=overwrite)
    write_bytes(out / "biometry-chart.png", growth_chart_png(points), overwrite=overwrite)
