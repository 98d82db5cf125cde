"""``fetalseg relabel`` and ``fetalseg resample``: label conventions and grids."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE

ORDER = 80


def register(app: typer.Typer) -> None:
    app.command("relabel")(relabel)
    app.command("resample")(resample)


def relabel(
    src: Path = typer.Argument(..., help="Label map to convert."),
    output: Path = typer.Option(..., "-o", "--output", help="Output label map (.nii.gz)."),
    source: str = typer.Option("withcc", "--from", help="Convention of SRC: withcc, generation, dhcp, feta."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Convert a label map to FeTA labels (e.g. the sb-atlas 8-label parcellation)."""
    from ..errors import InputError
    from ..io import check_writable, load_image, save_image
    from ..labels import TABLES, to_feta

    if source not in TABLES:
        raise InputError(None, f"--from must be one of {', '.join(sorted(TABLES))}, got {source!r}")
    check_writable(output, overwrite)
    img = load_image(src, labels=TABLES[source])
    save_image(img.with_data(to_feta(img.data, source)), output, dtype="uint8", overwrite=overwrite)
    typer.echo(f"wrote {output}")


def resample(
    src: Path = typer.Argument(..., help="Image or label map."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file (.nii.gz)."),
    like: Optional[Path] = typer.Option(None, "--like", help="Reference image whose grid to use."),
    voxel: Optional[float] = typer.Option(None, "--voxel", help="Isotropic voxel size in mm (keeps the field of view)."),
    labels: bool = typer.Option(False, "--labels", help="SRC is a FeTA label map (one-hot linear interpolation)."),
    interpolation: str = typer.Option("linear", "--interp", help="nearest, linear or cubic (images)."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Resample an image or a label map onto a reference grid or to a voxel size."""
    from ..errors import InputError
    from ..io import check_writable, grid_with_spacing, load_image, resample_image, save_image
    from ..labels import FETA

    if (like is None) == (voxel is None):
        raise InputError(None, "give exactly one of --like or --voxel")
    if voxel is not None and voxel <= 0:
        raise InputError(None, f"--voxel must be positive, got {voxel}")
    if interpolation not in ("nearest", "linear", "cubic"):
        raise InputError(None, f"--interp must be nearest, linear or cubic, got {interpolation!r}")
    check_writable(output, overwrite)
    img = load_image(src, labels=FETA if labels else None)
    grid = load_image(like) if like is not None else grid_with_spacing(img.shape, img.affine, voxel)
    out = resample_image(img, grid, interpolation=interpolation, labels=labels)
    if not isinstance(grid, tuple):
        out.header = img.header
    save_image(out, output, dtype="uint8" if labels else "float32", overwrite=overwrite)
    typer.echo(f"wrote {output}")
