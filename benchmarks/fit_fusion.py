"""Fit the biometry fusion models (``fetalseg.biometry.fusion.FUSION``) on calibration phantoms.

Input: the per-phantom rows that ``bench_biometry.py --dump`` writes (truth, the geometric measurement from the true
FeTA labels, and from ``fetalseg.segment`` with the shipped model). The calibration cohorts are disjoint from the
evaluation cohort (seeds 1000+):

    python benchmarks/bench_biometry.py --seed-base 2000 --n 15 --skip-atlas --dump cal-2000.json
    python benchmarks/bench_biometry.py --seed-base 2100 --n 15 --skip-atlas --dump cal-2100.json
    python benchmarks/fit_fusion.py cal-2000.json cal-2100.json

Per kind ('labels', 'segmented') and measure: ``fusion.select_fusion`` scores the image alone, the error mixture (SD
floor 0.5 % for given labels, 1 % for segmented ones) and the log regression by leave-one-out MAPE on the calibration
cases and keeps the best, refitted on all. Prints the Python literal to paste into ``FUSION``, each entry with its
leave-one-out MAPEs. Re-fit whenever the default model changes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fetalseg.biometry.baseline import default_baseline
from fetalseg.biometry.fusion import LogRegression, select_fusion
from fetalseg.biometry.measure import MEASURES

MIN_SD = {"labels": 0.005, "segmented": 0.01}


def _literal(model) -> str:
    if model is None:
        return "None"
    if isinstance(model, LogRegression):
        return f"LogRegression({model.intercept:.4f}, {model.image:.4f}, {model.prior:.4f})"
    cells = ", ".join(f"({', '.join(f'{v:.4f}' for v in vals)},)" for vals in (model.weights, model.means, model.sds))
    return f"ImageError({cells})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dumps", nargs="+", type=Path, help="bench_biometry.py --dump files (calibration cohorts)")
    args = ap.parse_args()
    rows = [r for d in args.dumps for r in json.loads(d.read_text())]
    base = default_baseline()
    print(f"# {len(rows)} calibration phantoms from {', '.join(d.name for d in args.dumps)}")
    print("FUSION: dict[str, dict[str, FusionModel]] = {")
    for kind in ("labels", "segmented"):
        if not all(kind in r for r in rows):
            continue
        print(f'    "{kind}": {{')
        for m in MEASURES:
            prior = [(base.predict(m, r["ga"]), base.spread(m, r["ga"])) for r in rows]
            model, loo = select_fusion([r[kind][m] for r in rows], [r["truth"][m] for r in rows],
                                       [p[0] for p in prior], [p[1] for p in prior], min_sd=MIN_SD[kind])
            print(f"        # {m}: leave-one-out MAPE % " + ", ".join(f"{k} {v:.2f}" for k, v in loo.items()))
            print(f'        "{m}": {_literal(model)},')
        print("    },")
    print("}")


if __name__ == "__main__":
    main()
