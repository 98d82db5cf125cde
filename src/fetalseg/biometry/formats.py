"""File formats: the FeTA 2024 biometry TSV, the landmark NIfTI and the per-subject JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..io import Image
from .measure import MEASURES, Biometry

__all__ = ["LANDMARK_VALUES", "feta_tsv", "read_biometry_tsv", "landmark_image", "subject_record"]

LANDMARK_VALUES = {"LCC": 1, "HV": 2, "bBIP": 3, "sBIP": 4, "TCD": 5}
"""Voxel value of each measure's two landmarks in the landmark NIfTI."""


def _fmt(v) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{float(v):.2f}"


def feta_tsv(rows: list[dict], ids: list[str] | None = None) -> str:
    """FeTA 2024 biometry TSV text: header ``LCC HV bBIP sBIP TCD`` (mm, 2 decimals, 'n/a' for NaN),
    one line per dict; with ``ids`` a first column ``participant_id``."""
    head = (["participant_id"] if ids is not None else []) + list(MEASURES)
    lines = ["\t".join(head)]
    for i, r in enumerate(rows):
        cells = ([ids[i]] if ids is not None else []) + [_fmt(r.get(m)) for m in MEASURES]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def read_biometry_tsv(path) -> tuple[list[str | None], dict[str, np.ndarray], dict[str, list[str]]]:
    """Read a biometry TSV: returns (ids or Nones, measure -> values (mm, NaN for n/a/empty), other
    columns as text). Measures not in the file are absent from the dict.

    Raises ``ValueError`` naming the line for a wrong field count or a non-numeric measure.
    """
    p = Path(path)
    lines = [ln for ln in p.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{p}: empty table")
    header = [h.strip() for h in lines[0].split("\t")]
    cols: dict[str, list[str]] = {h: [] for h in header}
    for n, ln in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in ln.split("\t")]
        if len(cells) != len(header):
            raise ValueError(f"{p}: line {n} has {len(cells)} fields, expected {len(header)}")
        for h, c in zip(header, cells):
            cols[h].append(c)
    values = {}
    for m in MEASURES:
        if m in cols:
            try:
                values[m] = np.array([float("nan") if c in ("", "n/a", "NA", "nan") else float(c)
                                      for c in cols[m]])
            except ValueError:
                raise ValueError(f"{p}: column {m} has a non-numeric value") from None
    ids = cols.get("participant_id", [None] * (len(lines) - 1))
    other = {h: v for h, v in cols.items() if h not in MEASURES and h != "participant_id"}
    return list(ids), values, other


def load_biometry_tsv(path) -> tuple[list[str | None], dict[str, np.ndarray], dict[str, list[str]]]:
    """:func:`read_biometry_tsv` for user input: a missing or unreadable file, or one with none of the
    measure columns, raises :class:`~fetalseg.errors.InputError` naming the file and the problem."""
    from ..errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found")
    try:
        ids, values, other = read_biometry_tsv(p)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(p, f"not a readable biometry table ({exc})") from None
    if not values:
        raise InputError(p, f"has none of the columns {' '.join(MEASURES)}")
    return ids, values, other


def landmark_image(bio: Biometry, like: Image) -> Image:
    """uint8 image on ``like``'s grid: each measure's two landmarks set to its
    :data:`LANDMARK_VALUES` value at the nearest voxel (landmarks outside the grid are skipped)."""
    out = np.zeros(like.shape, np.uint8)
    inv = np.linalg.inv(like.affine)
    for m, pts in bio.landmarks.items():
        vox = np.rint(np.asarray(pts) @ inv[:3, :3].T + inv[:3, 3]).astype(int)
        for v in vox:
            if np.all(v >= 0) and np.all(v < like.shape):
                out[tuple(v)] = LANDMARK_VALUES[m]
    return Image(out, like.affine.copy(), header=like.header)


def subject_record(sid: str, ga: float, bio: Biometry, context: dict) -> dict:
    """JSON-ready record: GA, per measure the raw image value, landmarks (world mm), source, reason,
    GA-baseline value, fused value and its source, z-score, centile and flag; and the pose."""
    measures = {}
    for m in MEASURES:
        pts = bio.landmarks.get(m)
        measures[m] = {"image_mm": _num(bio.values[m]),
                       "landmarks_world_mm": None if pts is None else np.round(pts, 3).tolist(),
                       "source": bio.sources.get(m), "reason": bio.reasons.get(m), **context[m]}
    return {"participant_id": sid, "ga_weeks": ga, "space": "world RAS+ mm (the input image's affine)",
            "measures": measures, "pose": bio.pose.to_dict() if bio.pose is not None else None}


def _num(v):
    return None if v is None or not math.isfinite(float(v)) else round(float(v), 3)


def dumps(record) -> str:
    """JSON text of a record (NaN written as null)."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, float):
            return None if not math.isfinite(x) else round(x, 4)
        return x

    return json.dumps(clean(record), indent=2) + "\n"
