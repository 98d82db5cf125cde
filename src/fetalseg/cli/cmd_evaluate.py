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
    from ..errors import InputError
    from ..io import check_writable
    from ..metrics.evaluate import parse_empty

    if output is not None:
        check_writable(output, overwrite)
    try:
        parse_empty(empty)
    except ValueError as exc:
        raise InputError(None, f"--empty: {exc}") from None
    if ec_target not in ("expected", "reference"):
        raise InputError(None, f"--ec-target must be 'expected' or 'reference', got {ec_target!r}")
    preds, refs = _label_files(pred), _label_files(gt)
    pairs, only_pred, only_ref = _match(preds, refs, single=not pred.is_dir() and not gt.is_dir())
    err = _console(stderr=True)
    for what, items in (("predictions without a reference", only_pred), ("references without a prediction", only_ref)):
        if items:
            err.print(f"unmatched {what} ({len(items)}): " + ", ".join(f"{k} ({p})" for k, p in items))
    if not pairs:
        raise InputError(pred, f"no prediction matches a reference in {gt} (subjects are matched by BIDS id sub-*)")
    opts = dict(resample_pred=resample_pred, empty=empty, ec_target=ec_target)
    rows = _run(pairs, opts, jobs)
    if output is not None:
        from ..metrics.evaluate import write_csv

        write_csv(rows, output, overwrite=overwrite)
    _print_summary(rows, empty, ec_target, len(pairs), output)


def _console(stderr: bool = False):
    from .common import console

    return console(stderr=stderr)


def _label_files(path: Path):
    """A file, a FeTA/BIDS folder (``sub-*/anat/*_dseg``) or a flat folder of NIfTI label maps."""
    from ..datasets import expand_inputs

    return expand_inputs([path], kind="dseg")


def _match(preds, refs, single: bool):
    """Pair files (:class:`~fetalseg.datasets.InputFile`) by subject key; returns
    (pairs [(subject, pred, ref)], unmatched preds, unmatched refs)."""
    from ..errors import InputError

    if single and len(preds) == 1 and len(refs) == 1:
        return [(refs[0].subject, preds[0].path, refs[0].path)], [], []
    maps = []
    for files in (preds, refs):
        m: dict[str, Path] = {}
        for f in files:
            if f.subject in m:
                raise InputError(f.path, f"subject {f.subject} appears twice (also {m[f.subject]})")
            m[f.subject] = f.path
        maps.append(m)
    mp, mr = maps
    pairs = [(k, mp[k], mr[k]) for k in sorted(mp) if k in mr]
    return pairs, [(k, mp[k]) for k in sorted(mp) if k not in mr], [(k, mr[k]) for k in sorted(mr) if k not in mp]


def _evaluate_pair(subject: str, pred_path: Path, ref_path: Path, opts: dict):
    """Worker: rows of one case, or ('error', path, problem) for bad input (InputError does not pickle)."""
    from ..errors import InputError

    try:
        return _evaluate_pair_raw(subject, pred_path, ref_path, opts)
    except InputError as exc:
        return ("error", exc.path, exc.problem)


def _evaluate_pair_raw(subject: str, pred_path: Path, ref_path: Path, opts: dict):
    import numpy as np

    from ..errors import InputError
    from ..io import load_image, resample_labels
    from ..labels import FETA
    from ..metrics.evaluate import evaluate_case

    ref = load_image(ref_path, labels=FETA)
    prd = load_image(pred_path, labels=FETA)
    diff = float(np.abs(prd.affine - ref.affine).max())
    if prd.shape != ref.shape or diff > 1e-3:
        if not opts["resample_pred"]:
            what = (f"shape {'x'.join(map(str, prd.shape))} vs {'x'.join(map(str, ref.shape))}"
                    if prd.shape != ref.shape else f"affines differ by up to {diff:.3g} mm")
            raise InputError(pred_path, f"grid differs from the reference {ref_path} ({what}); "
                                        "use --resample-pred to resample the prediction")
        data = resample_labels(prd.data, prd.affine, ref.shape, ref.affine, method="nearest")
    else:
        data = prd.data
    return evaluate_case(data, ref.data, ref.spacing, FETA, empty=opts["empty"], ec_target=opts["ec_target"],
                         subject=subject, extras=True)


def _run(pairs, opts: dict, jobs: int) -> list[dict]:
    from ..errors import InputError
    from .common import progress

    results: dict[str, list] = {}
    show = len(pairs) > 1
    with progress(disable=not show) as bar:
        task = bar.add_task("evaluate", total=len(pairs))
        if jobs == 1 or len(pairs) == 1:
            for subject, p, r in pairs:
                results[subject] = _evaluate_pair_raw(subject, p, r, opts)
                bar.advance(task)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = mp.get_context("spawn")  # no fork of a process that may hold threads
            with ProcessPoolExecutor(max_workers=min(jobs, len(pairs)), mp_context=ctx) as pool:
                futs = {pool.submit(_evaluate_pair, s, p, r, opts): s for s, p, r in pairs}
                for fut in as_completed(futs):
                    out = fut.result()
                    if isinstance(out, tuple) and out and out[0] == "error":
                        for f in futs:
                            f.cancel()
                        raise InputError(out[1], out[2])
                    results[futs[fut]] = out
                    bar.advance(task)
    return [row for subject, _, _ in pairs for row in results[subject]]


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

    from ..errors import InputError
    from ..io import check_writable
    from ..metrics.evaluate import read_csv
    from ..metrics.ranking import HIGHER_IS_BETTER, rank_methods

    if output is not None:
        check_writable(output, overwrite)
    names = _method_names(csvs)
    methods = {n: read_csv(p) for n, p in zip(names, csvs)}
    try:
        table = rank_methods(methods)
    except ValueError as exc:
        raise InputError(None, str(exc)) from None
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
    if output is not None:
        import csv
        import io

        from ..io import write_text

        cols = ["method", *HIGHER_IS_BETTER, *(f"rank_{m}" for m in HIGHER_IS_BETTER), "mean_rank", "final_rank"]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in table:
            w.writerow([r[c] for c in cols])
        write_text(output, buf.getvalue(), overwrite=overwrite)


def _method_names(paths: List[Path]) -> list[str]:
    """Methods are named after their files (stem; parent folder added when stems collide)."""
    from ..errors import InputError

    stems = [p.name[:-4] if p.name.lower().endswith(".csv") else p.name for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    names = [f"{p.parent.name}/{s}" for p, s in zip(paths, stems)]
    if len(set(names)) != len(names):
        dup = next(p for p, n in zip(paths, names) if names.count(n) > 1)
        raise InputError(dup, "given twice")
    return names
