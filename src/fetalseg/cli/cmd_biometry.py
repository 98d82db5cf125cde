"""``fetalseg biometry``: the five FeTA 2024 measurements with landmarks, centiles and a growth chart."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import OVERWRITE

ORDER = 55

HELP = """Measure LCC, HV, bBIP, sBIP and TCD (mm) in standard planes, like a clinician.

\b
fetalseg biometry IMAGE_OR_DIR [--seg SEG] [--ga WEEKS] -o OUT
  segments the T2w first unless --seg is given (a label map on the image's
  grid; for a FeTA/BIDS folder, a folder matched by subject id, e.g. the
  dataset itself); GA from --ga (one image) or participants.tsv (folder).
  Writes OUT/biometry.tsv (participant_id LCC HV bBIP sBIP TCD),
  <id>_biometry.tsv (FeTA 2024), <id>_landmarks.nii.gz (input grid; values
  1 LCC, 2 HV, 3 bBIP, 4 sBIP, 5 TCD), <id>_biometry.json (landmarks in world
  mm, z-scores, centiles, GA baseline, fused values) and biometry-chart.png.
fetalseg biometry fit-baseline TABLE -o baseline.json [--degree 1]
  fits each measure on GA (TABLE: a biometry TSV with a 'Gestational age'
  column or a participants.tsv beside it).
fetalseg biometry evaluate PRED GT [-o mape.json]
  MAPE (%) per measure and overall, as FeTA 2024 computes it.
"""


def register(app: typer.Typer) -> None:
    app.command("biometry", help=HELP, context_settings={"help_option_names": ["-h", "--help"]})(biometry)


def biometry(
    inputs: List[str] = typer.Argument(..., metavar="[fit-baseline|evaluate] IMAGE_OR_DIR...",
                                       help="T2w image or FeTA folder; or a subcommand and its arguments."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output folder (or JSON file)."),
    seg: Optional[Path] = typer.Option(None, "--seg", help="Label map (or folder of them) instead of segmenting."),
    ga: Optional[float] = typer.Option(None, "--ga", help="Gestational age in weeks (single image)."),
    convention: str = typer.Option("auto", "--convention", help="Labels of --seg: auto, feta, withcc, generation."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="GA baseline JSON (default: packaged norms)."),
    model: Optional[str] = typer.Option(None, "--model", help="Segmentation model name or path."),
    estimate: str = typer.Option("fused", "--estimate", help="TSV values: fused (image + GA prior) or image."),
    degree: int = typer.Option(1, "--degree", help="fit-baseline: polynomial degree (1 or 2)."),
    overwrite: bool = OVERWRITE,
) -> None:
    if inputs[0] == "fit-baseline":
        _fit(inputs[1:], output, degree, overwrite)
    elif inputs[0] == "evaluate":
        _evaluate(inputs[1:], output, overwrite)
    else:
        _measure(inputs, output, seg, ga, convention, baseline, model, estimate, overwrite)


def _measure(inputs, output, seg, ga, convention, baseline, model, estimate, overwrite) -> None:
    from ..biometry.baseline import load_baseline
    from ..biometry.run import run_biometry
    from ..errors import InputError
    from .common import console

    if len(inputs) != 1:
        raise InputError(None, f"fetalseg biometry takes one image or folder, got {len(inputs)}")
    if output is None:
        raise InputError(None, "-o/--output folder is required")
    base = None
    if baseline is not None:
        try:
            base = load_baseline(baseline)
        except ValueError as exc:
            raise InputError(baseline, str(exc).split(": ", 1)[-1]) from None
    records = run_biometry(inputs[0], output, seg=seg, ga=ga, convention=convention, baseline=base, model=model,
                           estimate=estimate, overwrite=overwrite)
    out = console()
    for r in records:
        cells = []
        for m, d in r["measures"].items():
            v = d["image_mm"]
            cells.append(f"{m} n/a" if v is None else f"{m} {v:.1f} (z {d['z']:+.1f})")
        out.print(f"{r['participant_id']} GA {r['ga_weeks']:g}: " + ", ".join(cells))
    out.print(f"{output}: biometry.tsv, landmarks, JSON and biometry-chart.png for {len(records)} subject(s)")


def _fit(args, output, degree, overwrite) -> None:
    from ..biometry.baseline import fit_baseline_file
    from ..errors import InputError
    from ..io import check_writable, write_text
    from .common import console

    if len(args) != 1:
        raise InputError(None, "fetalseg biometry fit-baseline takes one TABLE")
    if output is None or not str(output).endswith(".json"):
        raise InputError(output, "fit-baseline output (-o) must be a .json file")
    if degree not in (1, 2):
        raise InputError(None, f"--degree must be 1 or 2, got {degree}")
    check_writable(output, overwrite)
    base = fit_baseline_file(args[0], degree)
    write_text(output, base.to_json(), overwrite=overwrite)
    console().print(f"{output}: degree-{degree} GA baseline, " +
                    ", ".join(f"{m} n={n} sd {base.sd[m][0]:.2f} mm" for m, n in (base.n or {}).items()))


def _evaluate(args, output, overwrite) -> None:
    import json

    from ..biometry.evaluate import evaluate_biometry
    from ..errors import InputError
    from ..io import check_writable, write_text
    from .common import console

    if len(args) != 2:
        raise InputError(None, "fetalseg biometry evaluate takes PRED and GT")
    if output is not None:
        check_writable(output, overwrite)
    res = evaluate_biometry(args[0], args[1])
    out = console()
    for m, v in res["per_measure"].items():
        out.print(f"{m:5s} MAPE {v:6.2f} %  (n={res['n'][m]}, missing {res['missing'][m]})")
    out.print(f"overall MAPE {res['overall']:.2f} % over {res['cases']} case(s)")
    if output is not None:
        write_text(output, json.dumps(res, indent=2, default=float) + "\n", overwrite=overwrite)
