"""Helpers shared by command modules: consoles, progress bars, input expansion, option types."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ..errors import InputError

OVERWRITE = typer.Option(False, "--overwrite", help="Replace existing outputs.")


def console(stderr: bool = False):
    """A Rich console (stdout by default)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def progress(disable: bool = False):
    """A Rich progress bar on stderr with count, elapsed and remaining time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console(stderr=True), disable=disable, transient=False,
    )


def nifti_inputs(paths: list[Path], *, kind: str = "t2w") -> list[Path]:
    """Expand CLI inputs to NIfTI files: files are kept, folders are searched.

    A folder is read as a FeTA/BIDS dataset when it has ``sub-*`` sub-folders (``kind`` 't2w' or 'dseg'
    picks the files), else every ``*.nii``/``*.nii.gz`` in it is taken. Raises :class:`InputError`
    for a missing path or a folder without NIfTI files.
    """
    from ..datasets import discover
    from ..io import is_nifti_path

    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise InputError(p, "file not found")
        if p.is_dir():
            if any(d.is_dir() for d in p.glob("sub-*")):
                ds = discover(p, require=kind)
                out.extend(getattr(s, kind) for s in ds)
            else:
                files = sorted(f for f in p.iterdir() if is_nifti_path(f))
                if not files:
                    raise InputError(p, "no NIfTI files (.nii, .nii.gz) in folder")
                out.extend(files)
        else:
            out.append(p)
    return out


def ensure_new(paths: list[os.PathLike], overwrite: bool) -> None:
    """Raise :class:`InputError` for the first output that exists when ``overwrite`` is false."""
    if overwrite:
        return
    for p in paths:
        if Path(p).exists():
            raise InputError(p, "already exists (use --overwrite to replace it)")
