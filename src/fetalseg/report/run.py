"""Build and write the report of a subject or a cohort (:func:`write_reports`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .collect import SubjectInputs, collect
from .content import SubjectContent, subject_content

#: Cohorts at least this large get a cohort z-score per label volume.
MIN_COHORT_Z = 5


@dataclass
class ReportSet:
    """What :func:`write_reports` wrote: the index page, one page per subject, and their contents."""

    index: Path
    pages: dict[str, Path]
    contents: list[SubjectContent]


def page_name(sid: str) -> str:
    """File name of a subject's page (``sub-001.html``)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in sid)
    return f"{safe}.html"


def load_subject(inputs: SubjectInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Labels and grey image (in [0, 1]; zeros without an image) in RAS+ order, spacing and voxel volume.

    Raises :class:`InputError` for a bad label map or image, or an image on another grid.
    """
    from ..io import load_image, normalise_percentile, to_ras
    from ..labels import FETA

    lab = load_image(inputs.dseg, labels=FETA)
    lab_ras, _ = to_ras(lab)
    grey = np.zeros(lab_ras.shape, np.float32)
    if inputs.image is not None:
        im = load_image(inputs.image)
        diff = float(np.abs(im.affine - lab.affine).max())
        if im.shape != lab.shape or diff > 1e-3:
            raise InputError(inputs.image, f"grid differs from the label map {inputs.dseg} "
                                           f"(shape {'x'.join(map(str, im.shape))} vs {'x'.join(map(str, lab.shape))})")
        grey = normalise_percentile(to_ras(im)[0].data)
    return np.asarray(lab_ras.data).astype(np.intp), grey, lab_ras.spacing, lab.voxel_volume


def _figures(c: SubjectContent, labels: np.ndarray, grey: np.ndarray, spacing) -> dict[str, bytes]:
    from . import figures

    figs = {mode: figures.orthogonal_mosaic(grey, labels, spacing, mode) for mode in ("overlay", "contour")}
    figs["thumb"] = figures.thumbnail(grey, labels)
    growth = growth_png([c], c.id)
    if growth is not None:
        figs["growth"] = growth
    return figs


def growth_png(contents: list[SubjectContent], title: str) -> bytes | None:
    """Growth chart PNG (:func:`fetalseg.biometry.chart.growth_chart_png`) of the subjects' biometry;
    None when no subject has a measurement and a GA, or when the biometry module is not installed."""
    import importlib

    pts = [{"id": c.id, "ga": c.inputs.ga, "values": {b["measure"]: b["value"] for b in c.biometry
                                                       if b["value"] is not None},
            "flags": {b["measure"]: b["flag"] for b in c.biometry}}
           for c in contents if c.inputs.ga is not None and any(b["value"] is not None for b in c.biometry)]
    if not pts:
        return None
    try:
        chart = importlib.import_module("fetalseg.biometry.chart").growth_chart_png
    except (ImportError, AttributeError):
        return None
    return chart(pts, title=title)


def cohort_stats(contents: list[SubjectContent]) -> dict | None:
    """Per label short name: (mean, SD) of the volume over the cohort, or None below :data:`MIN_COHORT_Z`."""
    if len(contents) < MIN_COHORT_Z:
        return None
    out = {}
    for k, r in enumerate(contents[0].labels):
        v = np.array([c.labels[k]["volume_mm3"] for c in contents])
        out[r["short"]] = (float(v.mean()), float(v.std(ddof=1)))
    return out


def write_reports(source: str | os.PathLike, out_dir: str | os.PathLike, *, images=None, participants=None,
                  biometry=None, threshold: float | None = None, overwrite: bool = False) -> ReportSet:
    """Write one self-contained HTML page per subject of ``source`` and ``index.html`` into ``out_dir``.

    Parameters
    ----------
    source : path
        A label map (``*_dseg.nii.gz``, e.g. from ``fetalseg segment``) or a folder of them (FeTA/BIDS or flat).
    out_dir : path
        Output folder: ``index.html`` (subjects sorted by QC score, worst first) and ``<subject>.html``.
    images, participants, biometry : path, optional
        Where to look for images (BIDS folder), GA/pathology (``participants.tsv``) and biometry JSON
        (folder) when not found beside the label maps (see :mod:`fetalseg.report.collect`).
    threshold : float, optional
        QC review threshold for every subject (default: each segmentation sidecar's ``qc_threshold``, the
        segmenting model's calibrated one, else :data:`fetalseg.infer.qc.QC_THRESHOLD`).
    overwrite : bool
        Replace existing pages.

    Every input is read and every page built before the first file is written: bad input raises
    :class:`InputError` and writes nothing.
    """
    from ..io import check_writable, write_text
    from .pages import index_page, subject_page

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    subjects = collect(source, images=images, participants=participants, biometry=biometry)
    names = {s.id: page_name(s.id) for s in subjects}
    if len(set(names.values())) != len(names):
        raise InputError(source, "two subjects map to the same page name")
    for p in [out / "index.html", *(out / n for n in names.values())]:
        check_writable(p, overwrite)
    contents, figs = [], {}
    for s in subjects:
        labels, grey, spacing, vox = load_subject(s)
        c = subject_content(s, labels, vox, threshold)
        contents.append(c)
        figs[s.id] = _figures(c, labels, grey, spacing)
    cohort = cohort_stats(contents)
    html = {c.id: subject_page(c, figs[c.id], cohort) for c in contents}
    index_html = index_page(contents, {k: f["thumb"] for k, f in figs.items()}, names,
                            growth_png(contents, "Cohort biometry"))
    pages = {c.id: write_text(out / names[c.id], html[c.id], overwrite=overwrite) for c in contents}
    index = write_text(out / "index.html", index_html, overwrite=overwrite)
    return ReportSet(index, pages, contents)
