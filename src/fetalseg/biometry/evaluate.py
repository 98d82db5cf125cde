"""Biometry error as FeTA 2024 computes it: absolute percentage error per case and measure, averaged."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..datasets.bids import subject_id
from ..errors import InputError
from .formats import load_biometry_tsv
from .measure import MEASURES

__all__ = ["ape", "mape", "load_biometry_table", "evaluate_biometry"]


def ape(pred: float, truth: float) -> float:
    """Absolute percentage error (%) of ``pred`` against ``truth`` (mm): ``100 |pred - truth| / |truth|``."""
    return 100.0 * abs(pred - truth) / abs(truth)


def mape(pred: dict[str, dict[str, float]], gt: dict[str, dict[str, float]]) -> dict:
    """MAPE (%) per measure and overall.

    ``pred`` and ``gt`` map case id -> {measure: mm}. For each case in ``gt`` and each measure the
    absolute percentage error is ``100 |pred - gt| / gt``; a measure's MAPE averages it over cases,
    the overall MAPE over every (case, measure) pair. Pairs where the truth is NaN (an absent
    structure) are left out; where the truth is finite but the prediction NaN or missing they are
    counted in ``missing`` and left out too.

    Returns ``{'per_measure': {m: MAPE}, 'overall': MAPE, 'n': {m: pairs}, 'missing': {m: count},
    'per_case': {id: {m: APE}}}``.
    """
    per_case: dict[str, dict[str, float]] = {}
    errs: dict[str, list[float]] = {m: [] for m in MEASURES}
    missing = {m: 0 for m in MEASURES}
    for cid, truth in gt.items():
        p = pred.get(cid, {})
        per_case[cid] = {}
        for m in MEASURES:
            g, v = truth.get(m, float("nan")), p.get(m, float("nan"))
            if not math.isfinite(g):
                continue
            if not math.isfinite(v):
                missing[m] += 1
                continue
            e = ape(v, g)
            errs[m].append(e)
            per_case[cid][m] = e
    every = [e for m in MEASURES for e in errs[m]]
    return {"per_measure": {m: float(np.mean(errs[m])) if errs[m] else float("nan") for m in MEASURES},
            "overall": float(np.mean(every)) if every else float("nan"),
            "n": {m: len(errs[m]) for m in MEASURES}, "missing": missing, "per_case": per_case}


def load_biometry_table(path) -> dict[str, dict[str, float]]:
    """Case id -> {measure: mm} from a TSV (with ``participant_id``, or one row named by the file's
    subject id) or a folder of ``*biometry.tsv`` files (one case each, named by subject id).

    Raises :class:`InputError` for a missing path, an unreadable table, or a case without an id.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    files = sorted(p.rglob("*biometry.tsv")) if p.is_dir() else [p]
    if not files:
        raise InputError(p, "no *biometry.tsv files in folder")
    out: dict[str, dict[str, float]] = {}
    for f in files:
        ids, values, _ = load_biometry_tsv(f)
        for i, cid in enumerate(ids):
            cid = cid or subject_id(f.name) or (f.name.removesuffix(".tsv") if len(ids) == 1 else None)
            if cid is None:
                raise InputError(f, "rows without participant_id in a multi-row table")
            out[cid] = {m: float(v[i]) for m, v in values.items()}
    return out


def evaluate_biometry(pred_path, gt_path) -> dict:
    """:func:`mape` of the tables at ``pred_path`` against ``gt_path`` (see :func:`load_biometry_table`).

    Raises :class:`InputError` when no case of the truth has a prediction.
    """
    pred, gt = load_biometry_table(pred_path), load_biometry_table(gt_path)
    common = [c for c in gt if c in pred]
    if not common:
        raise InputError(pred_path, f"no case id in common with {gt_path} (e.g. {next(iter(gt))})")
    res = mape(pred, {c: gt[c] for c in common})
    res["cases"] = len(common)
    res["unmatched_truth"] = sorted(set(gt) - set(pred))
    return res
