"""``fetalseg report``: self-contained HTML pages of segmented subjects and a cohort index."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE

ORDER = 36


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    source: Path = typer.Argument(..., help="A label map (*_dseg.nii.gz from `fetalseg segment`) or a folder of "
                                            "them (BIDS derivatives or flat)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder: index.html and one page per subject."),
    images: Optional[Path] = typer.Option(None, "--images",
                                          help="BIDS folder of the T2w images, when the label maps do not name them."),
    participants: Optional[Path] = typer.Option(None, "--participants",
                                                help="participants.tsv with gestational age and pathology."),
    biometry: Optional[Path] = typer.Option(None, "--biometry", help="Folder of `fetalseg biometry` outputs (JSON)."),
    threshold: Optional[float] = typer.Option(
        None, "--threshold", help="QC review threshold for every subject (default: each segmentation sidecar's, else 0.10)."),
    overwrite: bool = OVERWRITE,
) -> None:
    """One HTML page per subject (views, volumes, QC, topology, biometry, warnings) and an index sorted by QC."""
    from ..errors import InputError, rename_params
    from ..report import write_reports

    try:
        res = write_reports(source, output, images=images, participants=participants, biometry=biometry,
                            threshold=threshold, overwrite=overwrite)
    except InputError as exc:
        raise InputError(exc.path, rename_params(exc.problem, {"overwrite": "--overwrite"})) from None
    flagged = [c.id for c in res.contents if c.qc_flag]
    typer.echo(f"report: {len(res.pages)} subject page(s), {len(flagged)} flagged for review"
               + (f" ({', '.join(flagged[:8])}{', ...' if len(flagged) > 8 else ''})" if flagged else ""))
    typer.echo(f"index: {res.index}")
