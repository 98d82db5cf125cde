"""From the files and folders a user names to NIfTI files: the one rule for every command and config.

* a file is taken as it is (it must be named ``.nii`` or ``.nii.gz``);
* a folder with at least one ``sub-*`` sub-folder is a FeTA/BIDS dataset (:func:`~fetalseg.datasets.discover`):
  each subject gives its file of the requested kind;
* any other folder is a flat folder: every ``*.nii``/``*.nii.gz`` file in it, sorted by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable

from ..errors import InputError
from ..io import is_nifti_path
from .bids import discover, subject_id


@dataclass(frozen=True)
class InputFile:
    """One NIfTI file found from the inputs.

    Attributes
    ----------
    subject : str
        BIDS subject key (``sub-X`` or ``sub-X_ses-Y``), else the file name without ``.nii[.gz]``.
    path : Path
        The file.
    relative : Path
        Its path below the folder it was found in (``sub-X/anat/NAME`` in a BIDS dataset, the file
        name otherwise), for outputs that mirror the inputs.
    bids_root : Path or None
        The BIDS dataset folder it comes from; None for files and flat folders.
    """

    subject: str
    path: Path
    relative: Path
    bids_root: Path | None = None


def is_bids_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder with at least one ``sub-*`` sub-folder (a FeTA/BIDS dataset)."""
    p = Path(path)
    return p.is_dir() and any(d.is_dir() for d in p.glob("sub-*"))


def _key(f: Path) -> str:
    return subject_id(f) or f.name.split(".nii")[0]


def _from_bids(root: Path, kind: str, strict: bool, keep) -> list[InputFile]:
    """Files of ``kind`` ('t2w', 'dseg' or a :attr:`Subject.files` key) of the subjects of ``root``
    that ``keep(subject key)`` accepts."""
    require = kind if kind in ("t2w", "dseg") and not strict else None
    out, any_file = [], False
    for s in discover(root, require=require):
        f = getattr(s, kind) if kind in ("t2w", "dseg") else s.files.get(kind)
        any_file = any_file or f is not None
        if not keep(s.id):
            continue
        if f is None:
            if strict:
                raise InputError(root, f"subject {s.id} has no {kind} file")
            continue
        out.append(InputFile(s.id, Path(f), Path(f).relative_to(root), root))
    if not any_file:
        raise InputError(root, f"no subjects found with a {kind} file")
    return out


def _from_flat(folder: Path) -> list[InputFile]:
    files = sorted(f for f in folder.iterdir() if f.is_file() and is_nifti_path(f))
    if not files:
        raise InputError(folder, "no NIfTI files (.nii, .nii.gz) in folder")
    return [InputFile(_key(f), f, Path(f.name)) for f in files]


def expand_inputs(paths: Iterable[str | os.PathLike], *, kind: str = "t2w", strict: bool = False,
                  include: Collection[str] | None = None, exclude: Collection[str] = ()) -> list[InputFile]:
    """Expand files and folders to NIfTI files, in the order given (module docstring).

    Parameters
    ----------
    paths : iterable of path-like
        Files, BIDS dataset folders and flat folders, mixed freely.
    kind : str
        What a BIDS subject gives: 't2w', 'dseg', or the key of another of its files
        (:attr:`~fetalseg.datasets.Subject.files`, e.g. 'desc-withcc_dseg').
    strict : bool
        A BIDS subject without a file of ``kind`` is an error (default: it is left out).
    include, exclude : collections of str, optional
        Keep only these BIDS subjects / drop these (subject keys; files and flat folders are kept).

    Raises
    ------
    InputError
        A missing path, a file not named ``.nii``/``.nii.gz``, a folder without NIfTI files or subjects.
    """
    def keep(key: str) -> bool:
        return (include is None or key in include) and key not in exclude

    out: list[InputFile] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError(p, "file not found")
        if is_bids_folder(p):
            out.extend(_from_bids(p, kind, strict, keep))
            continue
        if p.is_dir():
            found = _from_flat(p)
        elif not is_nifti_path(p):
            raise InputError(p, "not a NIfTI file (expected .nii or .nii.gz)")
        else:
            found = [InputFile(_key(p), p, Path(p.name))]
        out.extend(found)
    return out


def nifti_files(paths: Iterable[str | os.PathLike], **options) -> list[Path]:
    """The paths of :func:`expand_inputs` (same options)."""
    return [f.path for f in expand_inputs(paths, **options)]
