"""``fetalseg phantom``: write a simulated FeTA/BIDS cohort of fetal brain phantoms with known truth."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 10

PATHOLOGY_HELP = "Comma-separated pathologies, assigned round robin: normal, vm, acc, sb, micro."


def register(app: typer.Typer) -> None:
    app.command("phantom")(phantom)


def _ga_range(text: str, out: Path) -> tuple[float, float]:
    from ..errors import InputError

    parts = text.split(":")
    try:
        if len(parts) == 1:
            lo = hi = float(parts[0])
        elif len(parts) == 2:
            lo, hi = float(parts[0]), float(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise InputError(out, f"--ga must be MIN:MAX or a single age in weeks, got {text!r}") from None
    return lo, hi


def phantom(
    out: Path = typer.Option(..., "-o", "--out", help="Output dataset folder."),
    n: int = typer.Option(20, "--n", help="Number of subjects."),
    ga: str = typer.Option("20:38", "--ga", help="Gestational-age range MIN:MAX in weeks (20-38)."),
    pathology: str = typer.Option("normal,vm,acc,sb,micro", "--pathology", help=PATHOLOGY_HELP),
    sites: int = typer.Option(3, "--sites", help="Number of acquisition site presets (1-5)."),
    voxel: float = typer.Option(0.8, "--voxel", help="Isotropic voxel size in mm."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same bytes."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
) -> None:
    """Simulate a fetal brain MRI cohort: T2w, FeTA and generation labels, biometry truth and landmarks."""
    from ..errors import InputError
    from ..phantom import make_cohort
    from .common import console, progress

    lo, hi = _ga_range(ga, out)
    paths = [p.strip() for p in pathology.split(",") if p.strip()]
    if not paths:
        raise InputError(out, "--pathology is empty")
    if n < 1:
        raise InputError(out, f"--n must be at least 1, got {n}")
    if seed < 0:
        raise InputError(out, f"--seed must be non-negative, got {seed}")
    from ..phantom.cohort import prepare_cohort

    prepare_cohort(out, n, (lo, hi), paths, sites, voxel, seed, overwrite)  # errors before any output
    with progress() as bar:
        task = bar.add_task("phantoms", total=n)
        rows = make_cohort(out, n=n, ga_range=(lo, hi), pathologies=paths, sites=sites, voxel=voxel, seed=seed,
                           overwrite=overwrite, on_subject=lambda i, row: bar.advance(task))
    console().print(f"wrote {len(rows)} subjects to {out} (participants.tsv, biometry.tsv)")
