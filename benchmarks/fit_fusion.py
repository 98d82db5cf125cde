"""Fit the biometry fusion's image error models (``fetalseg.biometry.fusion.IMAGE_ERROR``) on calibration phantoms.

Input: the per-phantom rows that ``bench_biometry.py --dump`` writes (truth, the geometric measurement from the true
FeTA labels, and from ``fetalseg.segment`` with the shipped model). The calibration cohorts are disjoint from the
evaluation cohort (seeds 1000+):

    python benchmarks/bench_biometry.py --seed-base 2000 --n 15 --skip-atlas --dump cal-2000.json
    python benchmarks/bench_biometry.py --seed-base 2100 --n 15 --skip-atlas --dump cal-2100.json
    python benchmarks/fit_fusion.py cal-2000.json cal-2100.json

Per kind ('labels', 'segmented') and measure: the fitted mixture (1 or 2 components by BIC; SD floor 0.5 % for given
labels, 1 % for segmented ones) and the calibration MAPE of the raw image value and of the fused one. Where fusion
does not lower the calibration MAPE, the entry is ``None`` (the image value is used as it is). Prints the Python
literal to paste into ``IMAGE_ERROR``. Re-fit whenever the default model changes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fetalseg.biometry.baseline import default_baseline
from fetalseg.biometry.fusion import fit_image_error, fuse
from fetalseg.biometry.measure import MEASURES

MIN_SD = {"labels": 0.005, "segmented": 0.01}


def _mape(values, truths) -> float:
    v, t = np.asarray(values, dtype=float), np.asarray(truths, dtype=float)
    ok = np.isfinite(v) & np.isfinite(t)
    return float(np.mean(np.abs(v[ok] - t[ok]) / t[ok]) * 100)


def _literal(err) -> str:
    if err is None:
        return "None"
    cells = ", ".join(f"({', '.join(f'{v:.4f}' for v in vals)},)" for vals in (err.weights, err.means, err.sds))
    return f"ImageError({cells})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dumps", nargs="+", type=Path, help="bench_biometry.py --dump files (calibration cohorts)")
    ap.add_argument("--max-components", type=int, default=2)
    args = ap.parse_args()
    rows = [r for d in args.dumps for r in json.loads(d.read_text())]
    base = default_baseline()
    print(f"# {len(rows)} calibration phantoms from {', '.join(d.name for d in args.dumps)}")
    print("IMAGE_ERROR: dict[str, dict[str, ImageError | None]] = {")
    for kind in ("labels", "segmented"):
        if not all(kind in r for r in rows):
            continue
        print(f'    "{kind}": {{')
        for m in MEASURES:
            x, t = [r[kind][m] for r in rows], [r["truth"][m] for r in rows]
            err = fit_image_error(x, t, max_components=args.max_components, min_sd=MIN_SD[kind])
            fused = [fuse(v, err, base.predict(m, r["ga"]), base.spread(m, r["ga"]))[0] for v, r in zip(x, rows)]
            raw_mape, fused_mape = _mape(x, t), _mape(fused, t)
            keep = err if fused_mape < raw_mape else None
            print(f'        "{m}": {_literal(keep)},  # MAPE % raw {raw_mape:.2f}, fused {fused_mape:.2f}'
                  + ("" if keep else f"; fitted {_literal(err)}"))
        print("    },")
    print("}")


if __name__ == "__main__":
    main()
