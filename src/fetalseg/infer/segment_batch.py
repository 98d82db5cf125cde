"""Segmenting files and datasets into an output folder: what ``fetalseg segment`` does.

Each input becomes a job (:mod:`fetalseg.infer.batch`: naming, resume, skip on failure); each job writes
its label map, a JSON sidecar (models, options, volumes, QC) and optionally its posteriors. Afterwards the
optional summary tables (volumes, QC) are rebuilt from the sidecars of every finished subject, and a
BIDS ``dataset_description.json`` is written when a BIDS dataset was segmented into a folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..errors import InputError
from . import batch

PRECISIONS = ("float32", "bfloat16", "float16")
FLIP_SETS = ("lr", "all")


@dataclass
class BatchResult:
    """The jobs of a batch, what happened to them, and the QC row of every finished subject."""

    jobs: list
    summary: batch.BatchSummary
    qc_rows: list[dict] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        """Subjects whose QC flags them for visual review."""
        return [r["subject"] for r in self.qc_rows if r.get("qc_flag")]


def check_options(merge: str, precision: str, flips: str, threads: int | None) -> None:
    """InputError naming the first option of :func:`segment_batch` with a value it does not know."""
    from .ensemble import MERGES

    if merge not in MERGES:
        raise InputError(None, f"`merge` must be one of {', '.join(MERGES)}, got {merge!r}", param="merge")
    if precision not in PRECISIONS:
        raise InputError(None, f"`precision` must be float32, bfloat16 or float16, got {precision!r}",
                         param="precision")
    if flips not in FLIP_SETS:
        raise InputError(None, f"`flips` must be lr or all, got {flips!r}", param="flips")
    if threads is not None and threads < 1:
        raise InputError(None, f"`threads` must be >= 1, got {threads}", param="threads")


def _worker(preds, *, tta: bool, flips: str, merge: str, postprocess: bool, overwrite: bool, dae=None,
            pose: bool = False) -> Callable:
    """The work of one job: segment, write posteriors, sidecar, then the label map (it marks the job done)."""
    from .. import __version__
    from ..io import load_image, save_image
    from ..labels import FETA
    from .segment import run_segmentation
    from .tta import ALL_FLIPS, LR

    shorts = [lab.short for lab in FETA.labels]

    def work(job: batch.Job) -> None:
        res = run_segmentation(load_image(job.input), preds, tta=tta, flips=LR if flips == "lr" else ALL_FLIPS,
                               merge=merge, postprocess=postprocess, posteriors=job.posteriors is not None, dae=dae, pose=pose)
        if job.posteriors is not None:
            batch.write_posteriors(res.posteriors, res.labels, job.posteriors, shorts)
        batch.write_sidecar(job, {
            "Sources": [str(job.input)], "GeneratedBy": {"Name": "fetalseg segment", "Version": __version__},
            "models": [{"name": p.name, "sha256": p.card.get("sha256")} for p in preds],
            "tta": flips if tta else False, "merge": merge, "postprocess": postprocess, "pose": pose,
            "dae": None if dae is None else {k: getattr(dae, "card", {}).get(k) for k in ("name", "sha256")},
            "labels": dict(enumerate(shorts)), "volumes_mm3": res.volumes, "qc": res.qc,
        })
        save_image(res.labels, job.output, dtype="uint8", overwrite=overwrite)

    return work


def segment_batch(inputs: Sequence[os.PathLike], output: os.PathLike, *, model: Any = None, models_dir=None,
                  tta: bool = True, flips: str = "lr", merge: str = "mean", postprocess: bool = True,
                  volumes: os.PathLike | None = None, qc: os.PathLike | None = None,
                  posteriors: os.PathLike | None = None, device: str = "auto", threads: int | None = None,
                  precision: str = "float32", overwrite: bool = False,
                  progress: Callable[[int, int], None] | None = None, dae: Any = "default",
                  pose: bool = False) -> BatchResult:
    """Segment T2w files and FeTA/BIDS folders into ``output`` (module docstring).

    ``output`` is a folder (BIDS inputs are mirrored below it), or a ``.nii.gz`` file for a single input.
    ``model``, ``models_dir``, ``tta``, ``merge``, ``postprocess``, ``dae``, ``pose``, ``device`` and ``precision`` are as in
    :func:`fetalseg.infer.segment`; ``flips`` is 'lr' or 'all'; ``threads`` holds for this call only.
    ``volumes``, ``qc``: CSV tables to write; ``posteriors``: folder of 4-D probability maps.
    Every argument and output path is checked before the first job; a failing job is recorded in the
    summary and the others go on (a single input's error propagates).
    """
    from ..nets.device import resolve_device, torch_settings
    from .segment import as_predictors
    from .topology_step import resolve_dae

    check_options(merge, precision, flips, threads)
    jobs = batch.plan_jobs(inputs, output, posteriors)
    batch.check_job_outputs(jobs, overwrite)
    for table in (volumes, qc):
        if table is not None:
            batch.check_table(table, overwrite)
    with torch_settings(threads=threads):
        preds = as_predictors(model, models_dir=models_dir, device=str(resolve_device(device)))
        for p in preds:
            p.precision = precision
        refiner = resolve_dae(dae, models_dir, device=str(resolve_device(device)))
        work = _worker(preds, tta=tta, flips=flips, merge=merge, postprocess=postprocess, overwrite=overwrite,
                       dae=refiner, pose=pose)
        summary = batch.run_batch(jobs, work, overwrite=overwrite, progress=progress)
    if summary.done or summary.skipped:
        batch.write_dataset_description(inputs, output)
    rows_v, rows_q = batch.summary_rows(jobs, summary)
    if volumes is not None and rows_v:
        batch.write_table(rows_v, volumes)
    if qc is not None and rows_q:
        batch.write_table(rows_q, qc)
    return BatchResult(jobs, summary, rows_q)
