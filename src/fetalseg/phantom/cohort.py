"""A simulated FeTA/BIDS cohort of phantoms (:func:`make_cohort`, used by ``fetalseg phantom``).

Layout written under ``out_dir``::

    participants.tsv                         participant_id, Gestational age, Pathology, Condition,
                                             Severity, Site, Quality, Seed
    biometry.tsv                             participant_id + LCC HV bBIP sBIP TCD (mm, truth)
    dataset_description.json
    sub-XXX/anat/sub-XXX_rec-sim_T2w.nii.gz
    sub-XXX/anat/sub-XXX_rec-sim_dseg.nii.gz                    FeTA labels 0-7
    sub-XXX/anat/sub-XXX_rec-sim_desc-generation_dseg.nii.gz    GENERATION labels 0-12
    sub-XXX/anat/sub-XXX_rec-sim_biometry.tsv                   LCC HV bBIP sBIP TCD (mm)
    sub-XXX/anat/sub-XXX_rec-sim_landmarks.json                 two world points (mm) per measure

Every output is checked before anything is written; the same arguments give the same bytes.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..io import check_writable, save_image, write_text
from .acquisition import SITE_ORDER, SITES
from .anatomy import GA_MAX, GA_MIN, PATHOLOGIES
from .biometry_truth import FETA_COLUMNS
from .pathology import NAMES
from .subject import make_subject

FILES = ("T2w.nii.gz", "dseg.nii.gz", "desc-generation_dseg.nii.gz", "biometry.tsv", "landmarks.json")


def plan_cohort(n: int, ga_range: tuple[float, float], pathologies: Sequence[str], sites: Sequence[str | None],
                seed: int) -> list[dict]:
    """Per-subject settings: id, GA (uniform in ``ga_range``, one decimal), pathology and site
    (round robin, so every pathology and site is represented), and a subject seed."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    lo, hi = float(ga_range[0]), float(ga_range[1])
    if not (GA_MIN <= lo <= hi <= GA_MAX):
        raise ValueError(f"GA range must lie within {GA_MIN:g}-{GA_MAX:g} weeks with min <= max, got {lo:g}:{hi:g}")
    bad = [p for p in pathologies if p not in PATHOLOGIES]
    if bad or not pathologies:
        raise ValueError(f"unknown pathology {bad[0] if bad else ''!r}; known: {', '.join(PATHOLOGIES)}")
    ss = np.random.SeedSequence([int(seed), 104729])
    rng = np.random.default_rng(ss)
    gas = np.round(rng.uniform(lo, hi, size=n), 1)
    seeds = rng.integers(0, 2**31 - 1, size=n)
    width = max(3, len(str(n)))
    return [
        {"id": f"sub-{i + 1:0{width}d}", "ga": float(gas[i]), "pathology": pathologies[i % len(pathologies)],
         "site": sites[i % len(sites)] if sites else None, "seed": int(seeds[i])}
        for i in range(n)
    ]


def subject_paths(out_dir: Path, sid: str) -> dict[str, Path]:
    """Output file paths of one subject, keyed by the entries of :data:`FILES`."""
    anat = Path(out_dir) / sid / "anat"
    return {f: anat / f"{sid}_rec-sim_{f}" for f in FILES}


def make_cohort(out_dir: str | os.PathLike, n: int = 20, ga_range: tuple[float, float] = (20.0, 38.0),
                pathologies: Sequence[str] = PATHOLOGIES, sites: int | Sequence[str] = 3, voxel: float = 0.8,
                seed: int = 0, overwrite: bool = False,
                on_subject: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Simulate ``n`` phantoms and write them as a FeTA/BIDS dataset; returns the participant rows.

    Parameters
    ----------
    out_dir : path-like
        Dataset folder (created).
    n : int
        Number of subjects.
    ga_range : (float, float)
        Gestational ages are drawn uniformly in this range (weeks, within 20-38).
    pathologies : sequence of str
        Pathologies assigned round robin (see :data:`fetalseg.phantom.PATHOLOGIES`).
    sites : int or sequence of str
        Number of site presets (the first of :data:`SITE_ORDER`) or their names; assigned round robin.
    voxel : float
        Isotropic voxel size (mm).
    seed : int
        Master seed; the same arguments give byte-identical files.
    overwrite : bool
        Replace existing files; otherwise any existing output raises :class:`InputError` before
        anything is written.
    on_subject : callable, optional
        Called as ``on_subject(index, row)`` after each subject is written (progress bars).
    """
    out, plan, site_names = prepare_cohort(out_dir, n, ga_range, pathologies, sites, voxel, seed, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, row in enumerate(plan):
        subj = make_subject(row["ga"], row["pathology"], voxel=voxel, site=row["site"], seed=row["seed"])
        rows.append(_write_subject(out, row, subj, overwrite))
        if on_subject is not None:
            on_subject(i, rows[-1])
    _write_tables(out, rows, n, ga_range, pathologies, site_names, voxel, seed, overwrite)
    return rows


def prepare_cohort(out_dir, n, ga_range, pathologies, sites, voxel, seed, overwrite):
    """Validate the arguments and every output path (nothing is written).

    Returns ``(out, plan, site_names)``; raises :class:`InputError` naming the problem.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    if isinstance(sites, (int, np.integer)):
        if not 1 <= int(sites) <= len(SITE_ORDER):
            raise InputError(out, f"`sites` must be 1-{len(SITE_ORDER)}, got {sites}", param="sites")
        site_names: list[str | None] = list(SITE_ORDER[: int(sites)])
    else:
        site_names = list(sites)
        unknown = [s for s in site_names if s not in SITES]
        if unknown:
            raise InputError(out, f"unknown site {unknown[0]!r} in `sites`; known: {', '.join(SITES)}", param="sites")
    try:
        plan = plan_cohort(int(n), ga_range, list(pathologies), site_names, int(seed))
        if not 0.3 <= float(voxel) <= 2.0:
            raise ValueError(f"voxel must be within 0.3-2.0 mm, got {voxel:g}")
    except ValueError as exc:
        raise InputError(out, str(exc)) from None
    # validate every output before writing anything
    top = [out / "participants.tsv", out / "biometry.tsv", out / "dataset_description.json"]
    for p in top + [q for row in plan for q in subject_paths(out, row["id"]).values()]:
        check_writable(p, overwrite)
    return out, plan, site_names


def _write_subject(out: Path, row: dict, subj, overwrite: bool) -> dict:
    paths = subject_paths(out, row["id"])
    save_image(subj.image, paths["T2w.nii.gz"], dtype=np.float32, overwrite=overwrite)
    save_image(subj.labels, paths["dseg.nii.gz"], dtype=np.uint8, overwrite=overwrite)
    save_image(subj.generation, paths["desc-generation_dseg.nii.gz"], dtype=np.uint8, overwrite=overwrite)
    write_text(paths["biometry.tsv"], biometry_tsv([subj.biometry]), overwrite=overwrite)
    write_text(paths["landmarks.json"], landmarks_json(subj), overwrite=overwrite)
    rec = {"participant_id": row["id"], "Gestational age": f"{row['ga']:.1f}",
           "Pathology": "Neurotypical" if row["pathology"] == "normal" else "Pathological",
           "Condition": NAMES[row["pathology"]], "Severity": f"{subj.params['severity']:g}",
           "Site": subj.params["site"], "Quality": f"{subj.params['quality']:.1f}", "Seed": str(row["seed"]),
           "biometry": subj.biometry}
    return rec


def _write_tables(out, rows, n, ga_range, pathologies, site_names, voxel, seed, overwrite) -> None:
    cols = ["participant_id", "Gestational age", "Pathology", "Condition", "Severity", "Site", "Quality", "Seed"]
    lines = ["\t".join(cols)] + ["\t".join(r[c] for c in cols) for r in rows]
    write_text(out / "participants.tsv", "\n".join(lines) + "\n", overwrite=overwrite)
    bio = ["\t".join(("participant_id",) + FETA_COLUMNS)]
    bio += ["\t".join([r["participant_id"]] + [_fmt(r["biometry"].get(c)) for c in FETA_COLUMNS]) for r in rows]
    write_text(out / "biometry.tsv", "\n".join(bio) + "\n", overwrite=overwrite)
    desc = {"Name": "fetalseg phantom cohort", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
            "GeneratedBy": [{"Name": "fetalseg phantom"}],
            "Arguments": {"n": int(n), "ga_range": [float(ga_range[0]), float(ga_range[1])],
                          "pathologies": list(pathologies), "sites": [s or "default" for s in site_names],
                          "voxel": float(voxel), "seed": int(seed)}}
    write_text(out / "dataset_description.json", json.dumps(desc, indent=2, sort_keys=True) + "\n",
               overwrite=overwrite)


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.2f}"


def biometry_tsv(biometries: list[dict]) -> str:
    """FeTA biometry TSV text: header ``LCC HV bBIP sBIP TCD`` and one row per dict (mm, 'n/a' if missing)."""
    lines = ["\t".join(FETA_COLUMNS)]
    lines += ["\t".join(_fmt(b.get(c)) for c in FETA_COLUMNS) for b in biometries]
    return "\n".join(lines) + "\n"


def landmarks_json(subject) -> str:
    """Landmark file: for each measure its two world points (mm, RAS+) and their distance."""
    data = {"space": "world RAS+ mm (the NIfTI affine of the subject's images)",
            "measures": {k: {"points": v, "distance_mm": round(float(subject.biometry[k]), 3)}
                         for k, v in sorted(subject.landmarks.items())}}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
