"""Find what a report needs for each subject: label map, sidecar, image, GA/pathology, biometry JSON.

Sources, in order of precedence:

- the label map: a ``*_dseg.nii.gz`` file, or every subject of a FeTA/BIDS folder
  (``sub-*/anat/*_dseg.nii.gz``, e.g. a ``fetalseg segment`` output), or every NIfTI of a flat folder;
- its JSON sidecar (``*_dseg.json`` from ``fetalseg segment``: QC, soft volumes, models, source image);
- the image: the sidecar's ``Sources``, else the subject's T2w in the same BIDS folder, else the
  subject's T2w under ``images`` (a BIDS folder);
- GA and pathology: ``participants`` (a ``participants.tsv``), else the ``participants.tsv`` at
  the root of the label map's or the image's BIDS folder;
- biometry: a ``*biometry*.json`` of the subject (``fetalseg biometry`` output) next to the label
  map or under ``biometry`` (a folder).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError


@dataclass
class SubjectInputs:
    """The files and facts found for one subject (``None`` where not found)."""

    id: str
    dseg: Path
    sidecar: dict = field(default_factory=dict)
    image: Path | None = None
    ga: float | None = None
    pathology: str | None = None
    condition: str | None = None
    biometry_json: Path | None = None


def _sid(path: Path) -> str:
    from ..datasets import subject_id

    sid = subject_id(path)
    return sid if sid is not None else path.name.split(".nii")[0].removesuffix("_dseg")


def _bids_root(path: Path) -> Path | None:
    """``ROOT`` for ``ROOT/sub-X/anat/file`` or ``ROOT/sub-X/ses-Y/anat/file``, else None."""
    up = path.parents
    if len(up) < 3 or up[0].name != "anat":
        return None
    if up[1].name.startswith("sub-"):
        return up[2]
    if up[1].name.startswith("ses-") and len(up) > 3 and up[2].name.startswith("sub-"):
        return up[3]
    return None


def label_maps(source: str | os.PathLike) -> list[tuple[str, Path, Path | None]]:
    """``(subject, dseg, t2w or None)`` for a file or a folder; raises :class:`InputError` if none."""
    from ..datasets import discover
    from ..io import is_nifti_path

    src = Path(source)
    if not src.exists():
        raise InputError(src, "file not found")
    if not src.is_dir():
        if not is_nifti_path(src):
            raise InputError(src, "expected a NIfTI label map (.nii, .nii.gz) or a folder")
        return [(_sid(src), src, None)]
    if any(d.is_dir() for d in src.glob("sub-*")):
        return [(s.id, s.dseg, s.t2w) for s in discover(src, require="dseg")]
    files = sorted(f for f in src.iterdir() if f.is_file() and is_nifti_path(f))
    if not files:
        raise InputError(src, "no NIfTI label maps (.nii, .nii.gz) in folder")
    return [(_sid(f), f, None) for f in files]


def read_sidecar(dseg: Path) -> dict:
    """The ``fetalseg segment`` JSON sidecar of a label map, or ``{}`` (unreadable ones raise InputError)."""
    name = dseg.name.split(".nii")[0] + ".json"
    side = dseg.with_name(name)
    if not side.exists():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(side, f"not a readable JSON sidecar ({exc.__class__.__name__})") from None
    return data if isinstance(data, dict) else {}


def _find_image(sid: str, dseg: Path, t2w: Path | None, sidecar: dict, images: Path | None) -> Path | None:
    for src in sidecar.get("Sources", []) or []:
        if Path(src).is_file():
            return Path(src)
    if t2w is not None:
        return t2w
    if images is not None:
        hits = sorted(Path(images).glob(f"{sid.split('_ses-')[0]}/**/{sid}*_T2w.nii*"))
        if hits:
            return hits[0]
    return None


def _participants_row(sid: str, candidates: list[Path | None]) -> dict[str, str]:
    from ..datasets import read_participants

    for tsv in candidates:
        if tsv is not None and tsv.is_file():
            _, rows = read_participants(tsv)
            row = rows.get(sid.split("_ses-")[0])
            if row is not None:
                return row
    return {}


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "n/a") else None
    except ValueError:
        return None


def _find_biometry(sid: str, dseg: Path, biometry: Path | None) -> Path | None:
    folders = [dseg.parent] + ([Path(biometry)] if biometry is not None else [])
    for folder in folders:
        hits = sorted(folder.rglob(f"{sid}*biometry*.json")) if folder.is_dir() else []
        if hits:
            return hits[0]
    return None


def collect(source, *, images=None, participants=None, biometry=None) -> list[SubjectInputs]:
    """Every subject of ``source`` with what the module docstring says is found for it."""
    for p, what in ((images, "folder"), (participants, "file"), (biometry, "folder")):
        if p is not None and not Path(p).exists():
            raise InputError(p, f"{what} not found")
    out = []
    for sid, dseg, t2w in label_maps(source):
        side = read_sidecar(dseg)
        image = _find_image(sid, dseg, t2w, side, Path(images) if images is not None else None)
        roots = [_bids_root(dseg)] + ([_bids_root(image)] if image is not None else [])
        tsvs = [Path(participants) if participants is not None else None] + [
            r / "participants.tsv" if r is not None else None for r in roots]
        row = _participants_row(sid, tsvs)
        out.append(SubjectInputs(sid, dseg, side, image, _float(row.get("Gestational age")),
                                 row.get("Pathology") or None, row.get("Condition") or None,
                                 _find_biometry(sid, dseg, Path(biometry) if biometry is not None else None)))
    return out
