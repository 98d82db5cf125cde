"""What a subject page says: label volumes, topology per label, QC, biometry with centiles, warnings.

Warnings (one line each): QC score above the review threshold (:data:`fetalseg.infer.qc.QC_THRESHOLD`
unless given), a foreground label missing from the label map, a label whose Betti numbers differ
from its expected topology, a biometry measurement outside the 3rd-97th centile, no image found,
unknown gestational age (no normative context).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .collect import SubjectInputs

#: The centile band outside which a measurement is flagged.
CENTILE_BAND = (3.0, 97.0)


@dataclass
class SubjectContent:
    """Numbers and warnings of one subject page (figures are made separately)."""

    inputs: SubjectInputs
    labels: list[dict]
    brain_mm3: float
    qc: dict
    qc_score: float | None
    qc_flag: bool
    qc_threshold: float
    biometry: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.inputs.id


def label_rows(labels: np.ndarray, voxel_volume: float, soft: dict | None = None) -> list[dict]:
    """Per FeTA foreground label: volume (mm^3, voxel count x voxel volume), soft volume from the
    sidecar when given, share of the brain (%), Betti numbers (6-connected foreground,
    :func:`fetalseg.metrics.betti_numbers`), the expected Betti numbers and whether they match."""
    from ..infer.volumes import hard_volumes
    from ..labels import FETA
    from ..metrics import betti_numbers

    vols = hard_volumes(labels, voxel_volume, max(FETA.values) + 1)
    brain = float(vols[1:].sum())
    rows = []
    for lab in FETA.labels[1:]:
        mask = labels == lab.value
        betti = betti_numbers(mask) if vols[lab.value] > 0 else (0, 0, 0)
        rows.append({"value": lab.value, "short": lab.short, "name": lab.name, "volume_mm3": float(vols[lab.value]),
                     "soft_mm3": (soft or {}).get(f"{lab.short}_mm3"),
                     "percent": 100.0 * float(vols[lab.value]) / brain if brain else 0.0,
                     "betti": tuple(int(b) for b in betti), "target": lab.betti,
                     "topology_ok": lab.betti is None or tuple(betti) == tuple(lab.betti),
                     "missing": vols[lab.value] == 0})
    return rows


def _finite(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def _biometry_row(m: str, entry: dict, ga: float | None) -> dict:
    """One measure of a biometry JSON: image value, fused value, z, centile (from the norms when
    absent), the flag ('low'/'high' outside the 3rd-97th centile, else 'normal') and the reason of a
    missing value."""
    from .. import norms

    v = _finite(entry.get("image_mm"))
    z, cen = _finite(entry.get("z")), _finite(entry.get("centile"))
    if v is not None and ga is not None:
        z = norms.zscore(m, v, ga) if z is None else z
        cen = norms.centile(m, v, ga) if cen is None else cen
    flag = None if cen is None else ("low" if cen < CENTILE_BAND[0] else "high" if cen > CENTILE_BAND[1] else "normal")
    return {"measure": m, "value": v, "fused": _finite(entry.get("fused_mm")), "z": z, "centile": cen,
            "flag": flag, "outside": flag in ("low", "high"), "reason": entry.get("reason") if v is None else None}


def read_biometry(path, ga: float | None) -> tuple[list[dict], float | None]:
    """Measurements of a ``fetalseg biometry`` JSON (``<subject>_biometry.json``).

    The file holds ``ga_weeks`` and, under ``measures``, per measure (LCC, HV, bBIP, sBIP, TCD) the
    image measurement ``image_mm`` (null when the structure is absent, with a ``reason``), the
    ``fused_mm`` estimate, and the ``z`` and ``centile`` of the image value. Missing z-scores and
    centiles are computed from :mod:`fetalseg.norms` at ``ga`` (else the file's ``ga_weeks``).
    Returns one row per measure present (``measure, value, fused, z, centile, flag, outside, reason``)
    and the GA used.
    """
    from .. import norms

    try:
        data = json.loads(open(path, encoding="utf-8").read())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable biometry JSON ({exc.__class__.__name__})") from None
    table = data.get("measures") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise InputError(path, "not a fetalseg biometry JSON (no 'measures' object)")
    if ga is None:
        ga = _finite(data.get("ga_weeks"))
    rows = [_biometry_row(m, table[m], ga) for m in norms.MEASURES if isinstance(table.get(m), dict)]
    return rows, ga


def _warnings(c: SubjectContent, threshold: float) -> list[str]:
    out = []
    if c.qc_flag:
        out.append(f"QC score {c.qc_score:.3g} is above the review threshold {threshold:g}: check this "
                   "segmentation by eye.")
    missing = [r["short"] for r in c.labels if r["missing"]]
    if missing:
        out.append(f"Label(s) missing from the segmentation: {', '.join(missing)}.")
    wrong = [f"{r['short']} {r['betti']}" for r in c.labels if not r["topology_ok"] and not r["missing"]]
    if wrong:
        out.append(f"Topology differs from the expected one in {len(wrong)} label(s): {', '.join(wrong)}.")
    for b in c.biometry:
        if b["value"] is None:
            out.append(f"{b['measure']} not measured: {b['reason'] or 'no value'}.")
        elif b["outside"]:
            out.append(f"{b['measure']} = {b['value']:.1f} mm is outside the {CENTILE_BAND[0]:g}rd-"
                       f"{CENTILE_BAND[1]:g}th centile (centile {b['centile']:.1f}).")
    if c.inputs.image is None:
        out.append("No image found for this label map: the views show the labels only.")
    if c.inputs.ga is None:
        out.append("Gestational age unknown: no normative context.")
    return out


def subject_content(inputs: SubjectInputs, labels: np.ndarray, voxel_volume: float,
                    threshold: float | None = None) -> SubjectContent:
    """The :class:`SubjectContent` of one subject from its label map (FeTA values) and found inputs."""
    from ..infer.qc import QC_THRESHOLD

    qc = inputs.sidecar.get("qc") or {}
    own = qc.get("qc_threshold")  # the segmenting model's (calibrated) threshold, when the sidecar has one
    thr = float(threshold) if threshold is not None else (float(own) if isinstance(own, (int, float)) else QC_THRESHOLD)
    score = qc.get("qc_score")
    score = float(score) if isinstance(score, (int, float)) else None
    rows = label_rows(labels, voxel_volume, inputs.sidecar.get("volumes_mm3"))
    c = SubjectContent(inputs, rows, float(sum(r["volume_mm3"] for r in rows)), qc, score,
                       bool(score is not None and score > thr), thr)
    if inputs.biometry_json is not None:
        c.biometry, ga = read_biometry(inputs.biometry_json, inputs.ga)
        if inputs.ga is None and ga is not None:
            inputs.ga = ga
    c.warnings = _warnings(c, thr)
    return c
