"""``fetalseg info``: validate and describe NIfTI files or datasets."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

ORDER = 90


def register(app: typer.Typer) -> None:
    app.command("info")(info)


def info(
    paths: List[Path] = typer.Argument(..., help="NIfTI files or FeTA/BIDS folders."),
    labels: bool = typer.Option(False, "--labels", help="Validate as FeTA label maps and print label volumes."),
) -> None:
    """Check NIfTI files (shape, spacing, orientation, value range) or list a dataset's subjects."""
    from rich.table import Table

    from ..datasets import discover
    from ..io import load_image, orientation_code
    from ..labels import FETA
    from .common import console

    out = console()
    for p in paths:
        if p.is_dir():
            ds = discover(p)
            t = Table(title=f"{p} ({len(ds)} subjects)")
            for col in ("subject", "GA", "pathology", "T2w", "dseg"):
                t.add_column(col)
            for s in ds:
                t.add_row(s.id, "" if s.ga is None else f"{s.ga:g}", s.pathology or "",
                          "yes" if s.t2w else "-", "yes" if s.dseg else "-")
            out.print(t)
            continue
        img = load_image(p, labels=FETA if labels else None)
        sp = "x".join(f"{v:.3g}" for v in img.spacing)
        line = (f"{p}: shape {'x'.join(map(str, img.shape))}, spacing {sp} mm, "
                f"{orientation_code(img.affine)}, dtype {img.header.get_data_dtype()}, "
                f"range [{img.data.min():.4g}, {img.data.max():.4g}]")
        out.print(line)
        if labels:
            import numpy as np

            counts = np.bincount(img.data.ravel(), minlength=len(FETA))
            vols = ", ".join(f"{FETA[v].short} {counts[v] * img.voxel_volume / 1000:.2f}" for v in FETA.foreground)
            out.print(f"  volumes (cm^3): {vols}")
