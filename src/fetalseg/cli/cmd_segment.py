"""``fetalseg segment``: FeTA tissue labels for T2w volumes, in each input's own grid."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import OVERWRITE

ORDER = 20


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)


def segment(
    inputs: List[Path] = typer.Argument(..., help="T2w NIfTI files, or BIDS/FeTA folders (sub-*/anat/*_T2w.nii.gz)."),
    output: Path = typer.Option(..., "-o", "--output",
                                help="Output folder (mirrors BIDS inputs), or a .nii.gz file for a single input."),
    model: Optional[List[str]] = typer.Option(None, "--model", "-m",
                                              help="Model name or .safetensors path; repeat for an ensemble."),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir",
                                              help="Folder of installed models (NAME.safetensors + NAME.json)."),
    tta: bool = typer.Option(True, "--tta/--no-tta", help="Flip test-time augmentation (probabilities averaged)."),
    flips: str = typer.Option("lr", "--flips", help="TTA flips: lr (left-right, 2 passes) or all (8 passes)."),
    merge: str = typer.Option("mean", "--merge", help="Ensemble merge: mean or max-confidence."),
    postprocess: bool = typer.Option(True, "--postprocess/--no-postprocess", help="Topological post-processing."),
    volumes: Optional[Path] = typer.Option(None, "--volumes", help="CSV of soft tissue volumes (mm^3) per subject."),
    qc: Optional[Path] = typer.Option(None, "--qc", help="CSV of QC scores and flags per subject."),
    posteriors: Optional[Path] = typer.Option(None, "--posteriors", help="Folder for 4-D probability maps."),
    report: Optional[Path] = typer.Option(None, "--report",
                                          help="Folder for the HTML report (index + one page per subject)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the network."),
    precision: str = typer.Option("float32", "--precision",
                                  help="Network arithmetic: float32, or bfloat16 (1.5-2x faster on recent CPUs)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Segment fetal brain T2w volumes into the 7 FeTA tissues (labels in each input's grid)."""
    import json

    from .. import __version__
    from ..errors import InputError
    from ..infer import batch
    from ..infer.ensemble import MERGES
    from ..io import is_nifti_path, write_text
    from .common import cli_text, progress

    if merge not in MERGES:
        raise InputError(None, f"--merge must be one of {', '.join(MERGES)}, got {merge!r}")
    if precision not in ("float32", "bfloat16", "float16"):
        raise InputError(None, f"--precision must be float32, bfloat16 or float16, got {precision!r}")
    if flips not in ("lr", "all"):
        raise InputError(None, f"--flips must be lr or all, got {flips!r}")
    if threads is not None and threads < 1:
        raise InputError(None, f"--threads must be >= 1, got {threads}")
    jobs = batch.plan_jobs(inputs, output, posteriors)
    batch.check_job_outputs(jobs, overwrite)
    for table in (volumes, qc):
        if table is not None:
            batch.check_table(table, overwrite)
    if report is not None:  # the report's own checks run after segmentation: fail early on its index
        from ..io import check_writable

        check_writable(Path(report) / "index.html", overwrite)

    import torch

    from ..io import load_image, save_image
    from ..labels import FETA
    from ..nets.device import resolve_device
    from ..infer.segment import as_predictors, run_segmentation
    from ..infer.tta import ALL_FLIPS, LR

    if threads is not None:
        torch.set_num_threads(threads)
    dev = str(resolve_device(device))
    preds = as_predictors(list(model) if model else None, models_dir=models_dir, device=dev)
    for p in preds:
        p.precision = precision
    shorts = [lab.short for lab in FETA.labels]

    def work(job: batch.Job) -> None:
        img = load_image(job.input)
        res = run_segmentation(img, preds, tta=tta, flips=LR if flips == "lr" else ALL_FLIPS, merge=merge,
                               postprocess=postprocess,
                               posteriors=job.posteriors is not None)
        if job.posteriors is not None:
            batch.write_posteriors(res.posteriors, res.labels, job.posteriors, shorts)
        batch.write_sidecar(job, {
            "Sources": [str(job.input)], "GeneratedBy": {"Name": "fetalseg segment", "Version": __version__},
            "models": [{"name": p.name, "sha256": p.card.get("sha256")} for p in preds],
            "tta": flips if tta else False, "merge": merge, "postprocess": postprocess, "labels": dict(enumerate(shorts)),
            "volumes_mm3": res.volumes, "qc": res.qc,
        })
        save_image(res.labels, job.output, dtype="uint8", overwrite=overwrite)

    with progress(disable=quiet or len(jobs) < 2) as bar:
        summary = batch.run_batch(jobs, work, overwrite=overwrite, progress=bar)

    bids_roots = [Path(p) for p in inputs if Path(p).is_dir() and any(d.is_dir() for d in Path(p).glob("sub-*"))]
    if bids_roots and not is_nifti_path(output) and (summary.done or summary.skipped):
        desc = Path(output) / "dataset_description.json"
        if not desc.exists():
            write_text(desc, json.dumps({
                "Name": "fetalseg segment", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
                "GeneratedBy": [{"Name": "fetalseg", "Version": __version__}],
                "SourceDatasets": [{"URL": str(r.resolve())} for r in bids_roots]}, indent=2) + "\n")
    say = typer.echo
    rows_v, rows_q = [], []
    for job in jobs:
        if job in summary.done or job in summary.skipped:
            side = batch.read_sidecar(job) or {}
            base = {"subject": job.subject, "input": str(job.input)}
            rows_v.append({**base, **side.get("volumes_mm3", {})})
            rows_q.append({**base, **side.get("qc", {})})
    if volumes is not None and rows_v:
        batch.write_table(rows_v, volumes)
    if qc is not None and rows_q:
        batch.write_table(rows_q, qc)
    if len(jobs) == 1 and summary.done:
        say(f"wrote {jobs[0].output}")
    else:
        say(f"segment: {summary.text()} -> {output}")
    flagged = [r["subject"] for r in rows_q if r.get("qc_flag")]
    if flagged:
        say(f"QC flagged for review: {', '.join(flagged)}")
    if report is not None and (summary.done or summary.skipped):
        from ..report import write_reports

        say(f"report: {write_reports(output, report, overwrite=overwrite).index}")
    for job, msg in summary.failed:
        typer.echo(f"fetalseg: failed: {cli_text(msg)}", err=True)
    if summary.failed:
        raise typer.Exit(1)
