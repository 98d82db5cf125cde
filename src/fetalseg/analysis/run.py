"""Domain-shift analysis of a segmented cohort: which factors drive the metrics (:func:`analyze`)."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .data import CaseTable, Factor, load_cases
from .forest import design_matrix, explain_target, factor_range

IMPORTANCE_COLUMNS = ("target", "metric", "label", "factor", "kind", "rank", "mean_abs_shap", "range",
                      "low_group", "high_group", "direction", "cv_r2", "n_subjects")


@dataclass
class TargetResult:
    """One explained target (``metric`` over ``label``: a label short name or ``'mean'``)."""

    target: str
    metric: str
    label: str
    cv_r2: float
    n: int
    stats: list[dict]  # one per factor, sorted by mean |SHAP| (largest first)
    shap: np.ndarray | None = None
    base: float = 0.0
    factors: list[Factor] = field(default_factory=list)
    note: str = ""  # why there are no stats: 'constant' or 'no finite values'


@dataclass
class Analysis:
    """What :func:`analyze` computed and wrote."""

    cases: CaseTable
    results: list[TargetResult]
    files: list[Path]
    summary: str


def _direction(factor: Factor, shap_col: np.ndarray) -> str:
    """'+' when the metric's SHAP value rises with a numeric factor, '-' when it falls, '' otherwise."""
    if factor.kind != "numeric" or np.ptp(shap_col) == 0:
        return ""
    from scipy.stats import spearmanr

    rho = spearmanr(factor.values, shap_col).statistic
    return "" if not np.isfinite(rho) or abs(rho) < 0.3 else ("+" if rho > 0 else "-")


def explain_all(cases: CaseTable, *, per_label: bool = True, seed: int = 0, n_trees: int = 100,
                folds: int = 5, bins: int = 4) -> list[TargetResult]:
    """Fit and explain every target of ``cases`` (per-case mean of each metric, then each label)."""
    X, owner = design_matrix(cases.factors)
    names = [(m, "mean", m) for m in cases.metrics]
    if per_label:
        names += [(m, s, f"{m}_{s}") for m in cases.metrics for s in cases.labels]
    out = []
    for metric, label, target in names:
        y = cases.targets[target]
        finite = y[np.isfinite(y)]
        if finite.size < 2 or np.ptp(finite) == 0:
            note = "constant" if finite.size >= 2 else "no finite values"
            out.append(TargetResult(target, metric, label, math.nan, int(finite.size), [], note=note))
            continue
        ex = explain_target(X, owner, y, seed=seed, n_trees=n_trees, folds=folds)
        facs = [Factor(f.name, f.kind, f.values[ex.mask]) for f in cases.factors]
        stats = []
        for k, f in enumerate(facs):
            rng, lo, hi = factor_range(ex.shap[:, k], f, bins)
            stats.append({"factor": f.name, "kind": f.kind, "mean_abs_shap": float(np.mean(np.abs(ex.shap[:, k]))),
                          "range": rng, "low_group": lo, "high_group": hi, "direction": _direction(f, ex.shap[:, k])})
        order = sorted(range(len(stats)), key=lambda k: -stats[k]["mean_abs_shap"])
        for rank, k in enumerate(order, start=1):
            stats[k]["rank"] = rank
        out.append(TargetResult(target, metric, label, ex.cv_r2, ex.n, [stats[k] for k in order],
                                shap=ex.shap, base=ex.base, factors=facs))
    return out


def importance_csv(results: list[TargetResult]) -> str:
    """The table of mean |SHAP| and range per factor per target (columns :data:`IMPORTANCE_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(IMPORTANCE_COLUMNS)
    for r in results:
        for s in r.stats:
            row = {**s, "target": r.target, "metric": r.metric, "label": r.label, "cv_r2": r.cv_r2,
                   "n_subjects": r.n}
            w.writerow([_fmt(row[c]) for c in IMPORTANCE_COLUMNS])
    return buf.getvalue()


def cases_csv(cases: CaseTable) -> str:
    """The joined table: subject, factors, then every target (per-case means first)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = list(cases.targets)
    w.writerow(["subject", *(f.name for f in cases.factors), *names])
    for i, s in enumerate(cases.subjects):
        w.writerow([s, *(_fmt(f.values[i].item()) for f in cases.factors), *(_fmt(cases.targets[t][i]) for t in names)])
    return buf.getvalue()


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else repr(round(v, 6)))
    return str(v)


def output_paths(out_dir: Path, metrics: Sequence[str]) -> dict[str, Path]:
    """Every file :func:`analyze` writes, keyed by a short name."""
    paths = {"importance": out_dir / "shap_importance.csv", "cases": out_dir / "cases.csv",
             "summary": out_dir / "summary.md"}
    for m in metrics:
        paths[f"beeswarm_{m}"] = out_dir / f"beeswarm_{m}.png"
        paths[f"dependence_{m}"] = out_dir / f"dependence_{m}.png"
    return paths


def analyze(metrics_csv: str | os.PathLike, participants_tsv: str | os.PathLike, out_dir: str | os.PathLike, *,
            factors: Sequence[str] | None = None, metrics: Sequence[str] | None = None, per_label: bool = True,
            seed: int = 0, n_trees: int = 100, overwrite: bool = False) -> Analysis:
    """Explain per-case segmentation metrics by participant factors (random forest + SHAP).

    Parameters
    ----------
    metrics_csv : path
        Output of ``fetalseg evaluate`` (one row per subject and label).
    participants_tsv : path
        FeTA ``participants.tsv`` with the factor columns.
    out_dir : path
        Folder for ``shap_importance.csv``, ``cases.csv``, ``summary.md`` and, per metric,
        ``beeswarm_<metric>.png`` and ``dependence_<metric>.png`` (per-case mean over labels).
    factors, metrics : sequences of str, optional
        Factor columns or aliases (default Quality, Gestational age, Pathology, Site when present)
        and metrics (default dice, hd95, ed).
    per_label : bool
        Also explain each label's metric (table and summary; figures are for the means).
    seed, n_trees : int
        Forest seed (also of the cross-validation folds) and number of trees.
    overwrite : bool
        Replace existing outputs.

    Everything is checked and computed before the first file is written; bad input raises
    :class:`fetalseg.errors.InputError` and writes nothing.
    """
    from ..io import check_writable, write_text
    from . import plots
    from .summary import summary_markdown

    cases = load_cases(metrics_csv, participants_tsv, factors, metrics)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        from ..errors import InputError

        raise InputError(out, "exists and is not a folder")
    paths = output_paths(out, cases.metrics)
    for p in paths.values():
        check_writable(p, overwrite)
    results = explain_all(cases, per_label=per_label, seed=seed, n_trees=n_trees)
    text = summary_markdown(cases, results, Path(metrics_csv).name, Path(participants_tsv).name)
    write_text(paths["importance"], importance_csv(results), overwrite=overwrite)
    write_text(paths["cases"], cases_csv(cases), overwrite=overwrite)
    for r in results:
        if r.label != "mean" or r.shap is None:
            continue
        title = f"{r.metric} (mean over labels), n={r.n}, CV R$^2$={r.cv_r2:.2f}"
        plots.beeswarm(paths[f"beeswarm_{r.metric}"], r.shap, r.base, r.factors, title, overwrite=overwrite)
        plots.dependence(paths[f"dependence_{r.metric}"], r.shap, r.factors, [_range_of(r, f) for f in r.factors],
                         r.metric, title, overwrite=overwrite, seed=seed)
    write_text(paths["summary"], text, overwrite=overwrite)
    return Analysis(cases, results, [p for p in paths.values() if p.exists()], text)


def _range_of(r: TargetResult, f: Factor) -> float:
    return next(s["range"] for s in r.stats if s["factor"] == f.name)
