"""``fetalseg evaluate`` (FeTA 2024 metrics of predictions against references) and ``fetalseg rank``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import OVERWRITE

ORDER = 30


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.command("rank")(rank)


def evaluate(
    pred: Path = typer.Argument(..., help="Predicted label map (NIfTI) or a folder of them (flat or FeTA/BIDS)."),
    gt: Path = typer.Argument(..., help="Reference label map or folder; subjects are matched by BIDS subject id."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV with one row per (subject, label)."),
    resample_pred: bool = typer.Option(False, "--resample-pred",
                                       help="Resample predictions (nearest neighbour) onto the reference grid "
                                            "instead of stopping on a grid mismatch."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Cases evaluated in parallel (processes)."),
    empty: str = typer.Option("inf", "--empty",
                              help="HD95 when a label is empty in prediction or reference: inf, nan or a penalty in mm."),
    ec_target: str = typer.Option("expected", "--ec-target",
                                  help="EC target for ED: 'expected' (label topology: grey matter 2, others 1) "
                                       "or 'reference' (the reference mask's EC)."),
    overwrite: bool = OVERWRITE,
) -> None:
    """FeTA 2024 metrics (Dice, HD95, volume similarity, Euler/Betti topology and ED) per subject and label."""
    from ..metrics.files import FileEvaluation
    from .common import StepBar

    ev = FileEvaluation(pred, gt, output=output, overwrite=overwrite, resample_pred=resample_pred, empty=empty,
                        ec_target=ec_target)
    err = _console(stderr=True)
    for what, items in (("predictions without a reference", ev.only_pred), ("references without a prediction",
                                                                             ev.only_ref)):
        if items:
            err.print(f"unmatched {what} ({len(items)}): " + ", ".join(f"{k} ({p})" for k, p in items))
    with StepBar("evaluate", info=False, min_total=2) as bar:
        rows = ev.run(jobs, progress=bar)
    _print_summary(rows, empty, ec_target, len(ev.pairs), output)


def _console(stderr: bool = False):
    from .common import console

    return console(stderr=stderr)


def _num(v: float, digits: int) -> str:
    import math

    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{v:.{digits}f}"


def _print_summary(rows, empty: str, ec_target: str, n_cases: int, output) -> None:
    from rich import box
    from rich.table import Table

    from ..labels import FETA
    from ..metrics.evaluate import summarize

    summ = summarize(rows)
    t = Table(title=f"FeTA metrics, {n_cases} case(s): mean±SD (ED target: {ec_target})",
              box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for col in ("label", "Dice", "HD95 mm", "VS", "ED", "Betti err", "empty"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for s in summ:
        name = "all" if s["label"] == "all" else f"{s['label']} {FETA[s['label']].short}"

        def ms(m, d):
            return f"{_num(s[m + '_mean'], d)}±{_num(s[m + '_sd'], d)}"

        t.add_row(name, ms("dice", 3), ms("hd95", 2), ms("vs", 3), ms("ed", 1),
                  ms("betti_error", 1), str(s["n_empty"]), end_section=s["label"] == rows[-1]["label"])
    out = _console()
    if not out.is_terminal:  # files and pipes: no need to squeeze the table into 80 columns
        out.width = max(out.width, 100)
    out.print(t)
    n_empty = summ[-1]["n_empty"]
    out.print(f"{n_empty} (subject, label) case(s) with a label empty in prediction or reference "
              f"(HD95 set to {empty}).")
    if output is not None:
        out.print(f"wrote {output}")


def rank(
    csvs: List[Path] = typer.Argument(..., help="Metrics CSVs from `fetalseg evaluate`, one per method."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the ranking table as CSV."),
    overwrite: bool = OVERWRITE,
) -> None:
    """FeTA ranking of methods: mean Dice, HD95, VS and ED over labels and cases, ranked; final = mean rank."""
    from rich.table import Table

    from ..metrics.files import rank_files
    from ..metrics.ranking import HIGHER_IS_BETTER

    table = rank_files(csvs, output, overwrite)
    t = Table(title=f"FeTA ranking of {len(table)} method(s)")
    t.add_column("method")
    for m in HIGHER_IS_BETTER:
        t.add_column(m.upper() if m != "dice" else "Dice", justify="right")
        t.add_column("rank", justify="right")
    t.add_column("mean rank", justify="right")
    t.add_column("final", justify="right")
    digits = {"dice": 3, "hd95": 2, "vs": 3, "ed": 2}
    for r in table:
        cells = [r["method"]]
        for m in HIGHER_IS_BETTER:
            cells += [_num(r[m], digits[m]), str(r[f"rank_{m}"])]
        t.add_row(*cells, f"{r['mean_rank']:.2f}", str(r["final_rank"]))
    out = _console()
    if not out.is_terminal:
        out.width = max(out.width, 120)
    out.print(t)
