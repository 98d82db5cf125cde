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
    postprocess: bool = typer.Option(True, "--postprocess/--no-postprocess",
                                     help="Guaranteed topology: every label gets its FeTA Betti numbers."),
    dae: str = typer.Option("default", "--dae",
                            help="Probability denoising autoencoder before the topology step: default, none or a "
                                 ".safetensors path."),
    volumes: Optional[Path] = typer.Option(None, "--volumes", help="CSV of soft tissue volumes (mm^3) per subject."),
    qc: Optional[Path] = typer.Option(None, "--qc", help="CSV of QC scores and flags per subject."),
    posteriors: Optional[Path] = typer.Option(None, "--posteriors", help="Folder for 4-D probability maps."),
    pose: bool = typer.Option(True, "--pose/--no-pose",
                              help="Segment turned brains in their own head frame (any head pose); --no-pose is "
                                   "2-3x faster for brains known to be upright."),
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
    from ..infer.segment_batch import segment_batch
    from .common import StepBar, cli_text

    if report is not None:  # fail before segmenting when the report's index may not be written
        from ..io import check_writable

        check_writable(Path(report) / "index.html", overwrite)
    with StepBar("segment", enabled=not quiet, info=False, min_total=2) as bar:
        result = segment_batch(inputs, output, model=list(model) if model else None, models_dir=models_dir,
                               tta=tta, flips=flips, merge=merge, postprocess=postprocess, volumes=volumes, qc=qc,
                               posteriors=posteriors, device=device, threads=threads, precision=precision,
                               overwrite=overwrite, progress=bar, dae=dae, pose=pose)
    jobs, summary = result.jobs, result.summary
    if len(jobs) == 1 and summary.done:
        typer.echo(f"wrote {jobs[0].output}")
    else:
        typer.echo(f"segment: {summary.text()} -> {output}")
    if result.flagged:
        typer.echo(f"QC flagged for review: {', '.join(result.flagged)}")
    if report is not None and (summary.done or summary.skipped):
        from ..report import write_reports

        typer.echo(f"report: {write_reports(output, report, overwrite=overwrite).index}")
    for job, msg in summary.failed:
        typer.echo(f"fetalseg: failed: {cli_text(msg)}", err=True)
    if summary.failed:
        raise typer.Exit(1)
