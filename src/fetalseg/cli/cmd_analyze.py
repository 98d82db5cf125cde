"""``fetalseg analyze``: which factors drive a cohort's segmentation metrics (random forest + SHAP)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE

ORDER = 35


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)


def _split(text: Optional[str]) -> Optional[list[str]]:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def analyze(
    metrics_csv: Path = typer.Argument(..., help="Per-case metrics CSV from `fetalseg evaluate`."),
    participants: Path = typer.Argument(..., help="participants.tsv with the factor columns (FeTA/BIDS)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (table, plots, summary.md)."),
    factors: Optional[str] = typer.Option(None, "--factors",
                                          help="Comma-separated factor columns or aliases "
                                               "(quality, ga, pathology, site, condition); "
                                               "default: those of quality,ga,pathology,site present."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated metrics: dice, hd95, vs, ed "
                                                                  "(default dice,hd95,ed)."),
    per_label: bool = typer.Option(True, "--per-label/--mean-only",
                                   help="Also explain each label's metric (table and summary)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the forests and cross-validation folds."),
    trees: int = typer.Option(100, "--trees", min=10, help="Trees per forest."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Domain-shift analysis: one random forest per metric over participant factors, explained with SHAP."""
    from ..analysis import analyze as run_analysis
    from ..errors import InputError, rename_params

    try:
        res = run_analysis(metrics_csv, participants, output, factors=_split(factors), metrics=_split(metrics),
                           per_label=per_label, seed=seed, n_trees=trees, overwrite=overwrite)
    except InputError as exc:
        names = {"factors": "--factors", "metrics": "--metrics", "overwrite": "--overwrite"}
        raise InputError(exc.path, rename_params(exc.problem, names)) from None
    from .common import console

    out = console()
    if not out.is_terminal:  # files and pipes: one line per metric
        out.width = max(out.width, 120)
    out.print(f"{len(res.cases.subjects)} subjects, factors: {', '.join(f.name for f in res.cases.factors)}")
    for r in res.results:
        if r.label != "mean":
            continue
        if not r.stats:
            why = "the same for every subject" if r.note == "constant" else "fewer than 2 finite values"
            out.print(f"  {r.metric}: {why}, nothing to explain")
            continue
        r2 = "n/a (too few subjects)" if r.cv_r2 != r.cv_r2 else f"{r.cv_r2:.2f}"
        verdict = " (explains nothing)" if r.cv_r2 == r.cv_r2 and r.cv_r2 <= 0 else ""
        top = r.stats[0]
        out.print(f"  {r.metric}: CV R^2 {r2}{verdict}; top factor {top['factor']} "
                  f"(range {top['range']:.3g}, mean |SHAP| {top['mean_abs_shap']:.3g})")
    out.print(f"wrote {output}/summary.md, shap_importance.csv, cases.csv and {len(res.files) - 3} figure(s)")
