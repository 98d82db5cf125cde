"""Discovery of FeTA/BIDS datasets.

Layout::

    ROOT/participants.tsv                       (optional)
    ROOT/sub-ID/anat/sub-ID_rec-REC_T2w.nii.gz   (image; optional for label-only datasets)
    ROOT/sub-ID/anat/sub-ID_rec-REC_dseg.nii.gz  (FeTA labels; optional)

Sessions (``sub-ID/ses-S/anat``) are supported; the subject key is then ``sub-ID_ses-S``.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

_SUB = re.compile(r"(sub-[A-Za-z0-9]+)(?:_(ses-[A-Za-z0-9]+))?")
REQUIRED_COLUMNS = ("participant_id", "Gestational age", "Pathology")


@dataclass
class Subject:
    """One subject (or subject session) of a dataset.

    Attributes
    ----------
    id : str
        BIDS subject id with the ``sub-`` prefix, plus ``_ses-S`` when there are sessions.
    t2w, dseg : Path or None
        The T2w image and its FeTA label map, when present.
    files : dict[str, Path]
        Every other NIfTI of the subject, keyed by its BIDS suffix with ``desc`` (e.g.
        ``'desc-brain_mask'``, ``'desc-withcc_dseg'``).
    ga : float or None
        Gestational age in weeks from ``participants.tsv``.
    pathology : str or None
        ``Pathology`` column value ("Neurotypical", "Pathological", ...).
    extra : dict[str, str]
        Every other ``participants.tsv`` column, as text.
    """

    id: str
    t2w: Path | None = None
    dseg: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    ga: float | None = None
    pathology: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Dataset:
    """A discovered dataset: its root, subjects sorted by id, and the participants table columns."""

    root: Path
    subjects: list[Subject]
    columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.subjects)

    def __iter__(self):
        return iter(self.subjects)

    def __getitem__(self, key: int | str) -> Subject:
        if isinstance(key, int):
            return self.subjects[key]
        for s in self.subjects:
            if s.id == key:
                return s
        raise KeyError(key)


def subject_id(path: str | os.PathLike) -> str | None:
    """BIDS subject key (``sub-X`` or ``sub-X_ses-Y``) from a file name, or None."""
    m = _SUB.match(Path(path).name)
    if not m:
        return None
    return m.group(1) if m.group(2) is None else f"{m.group(1)}_{m.group(2)}"


def _suffix_key(name: str) -> str:
    """``sub-1_rec-x_desc-brain_mask.nii.gz`` -> ``'desc-brain_mask'``; ``..._T2w.nii.gz`` -> ``'T2w'``."""
    stem = name.split(".nii")[0]
    parts = stem.split("_")
    suffix = parts[-1]
    desc = [p for p in parts[:-1] if p.startswith("desc-")]
    return "_".join(desc + [suffix])


def discover(root: str | os.PathLike, *, require: str | None = None) -> Dataset:
    """Find the subjects of a FeTA/BIDS dataset.

    Parameters
    ----------
    root : path-like
        Dataset folder.
    require : {'t2w', 'dseg', 'both', None}
        Keep only subjects that have these files (default: subjects with a T2w or a dseg).

    Raises
    ------
    InputError
        ``root`` missing or not a folder, no subject found, or a malformed ``participants.tsv``.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(root, "folder not found")
    if not root.is_dir():
        raise InputError(root, "is not a folder")
    subjects: dict[str, Subject] = {}
    for anat in sorted(list(root.glob("sub-*/anat")) + list(root.glob("sub-*/ses-*/anat"))):
        for f in sorted(anat.iterdir()):
            if not f.name.endswith((".nii", ".nii.gz")):
                continue
            key = subject_id(f)
            if key is None:
                continue
            subj = subjects.setdefault(key, Subject(id=key))
            kind = _suffix_key(f.name)
            if kind == "T2w" and subj.t2w is None:
                subj.t2w = f
            elif kind == "dseg" and subj.dseg is None:
                subj.dseg = f
            else:
                subj.files.setdefault(kind, f)
    keep = {
        None: lambda s: s.t2w is not None or s.dseg is not None,
        "t2w": lambda s: s.t2w is not None,
        "dseg": lambda s: s.dseg is not None,
        "both": lambda s: s.t2w is not None and s.dseg is not None,
    }[require]
    found = [s for _, s in sorted(subjects.items()) if keep(s)]
    if not found:
        what = {None: "T2w or dseg", "t2w": "T2w", "dseg": "dseg", "both": "T2w and dseg"}[require]
        raise InputError(root, f"no subjects found (expected sub-*/anat/sub-*_{what} .nii.gz files)")
    columns: list[str] = []
    tsv = root / "participants.tsv"
    if tsv.exists():
        columns, rows = read_participants(tsv)
        for s in found:
            row = rows.get(s.id.split("_ses-")[0])
            if row is not None:
                _apply_row(s, row, tsv)
    return Dataset(root=root, subjects=found, columns=columns)


def read_participants(path: str | os.PathLike) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Read a FeTA ``participants.tsv``: returns the column names and rows keyed by participant id.

    Required columns: ``participant_id``, ``Gestational age``, ``Pathology``; extra columns are kept.
    Raises :class:`InputError` for a missing column, a row with the wrong number of fields, an empty
    or duplicate id, or a gestational age that is not a number (``n/a`` and empty are allowed).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read ({exc.__class__.__name__})") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(path, "is empty")
    reader = csv.reader(lines, delimiter="\t")
    header = [h.strip() for h in next(reader)]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)} (is it tab-separated?)")
    rows: dict[str, dict[str, str]] = {}
    for lineno, fields in enumerate(reader, start=2):
        if len(fields) != len(header):
            raise InputError(path, f"line {lineno} has {len(fields)} fields, expected {len(header)}")
        row = dict(zip(header, (f.strip() for f in fields)))
        pid = row["participant_id"]
        if not pid:
            raise InputError(path, f"line {lineno} has an empty participant_id")
        if not pid.startswith("sub-"):
            pid = f"sub-{pid}"
        if pid in rows:
            raise InputError(path, f"line {lineno}: duplicate participant_id {pid}")
        ga = row["Gestational age"]
        if ga not in ("", "n/a", "NA", "nan"):
            try:
                float(ga)
            except ValueError:
                raise InputError(path, f"line {lineno}: gestational age {ga!r} is not a number") from None
        rows[pid] = row
    return header, rows


def _apply_row(s: Subject, row: dict[str, str], tsv: Path) -> None:
    ga = row.get("Gestational age", "")
    s.ga = float(ga) if ga not in ("", "n/a", "NA", "nan") else None
    s.pathology = row.get("Pathology") or None
    s.extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS}
