"""Benchmark ``fetalseg analyze`` and ``fetalseg report`` on a phantom cohort segmented by the shipped model.

Preparation (timed, not part of the target): ``fetalseg phantom`` (N subjects, GA 20-38 weeks, all
pathologies, 3 sites, 0.8 mm), ``fetalseg segment`` with the shipped model (left-right TTA, volumes
and QC), ``fetalseg evaluate`` against the phantom truth. Then, each as a fresh command-line
process (imports included): ``fetalseg analyze`` (dice, hd95, ed; per-case mean and per label) and
``fetalseg report`` (one page per subject and the index). Target (issue 14): both together under
5 minutes for 20 phantoms on 2 cores.

This is also the real-path check of the analysis: it prints the summary's dominant factor and
cross-validated R^2 per metric for phantoms whose factors (quality, GA, pathology, site) are known.

Usage: ``python benchmarks/bench_report.py [--n 20] [--keep DIR]`` (``--keep``: prepare the cohort in
DIR once and reuse it on later runs).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FETALSEG = [sys.executable, "-c", "from fetalseg.cli.main import run; run()"]


def sh(*args: str) -> float:
    """Run ``fetalseg ARGS`` in a fresh process; returns the wall time (s); stops on failure."""
    t = time.perf_counter()
    r = subprocess.run([*FETALSEG, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"fetalseg {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def prepare(root: Path, n: int) -> dict[str, float]:
    """Phantom cohort, segmentation and metrics in ``root`` (skipped when already there)."""
    times = {}
    if not (root / "metrics.csv").exists():
        times["phantom"] = sh("phantom", "-o", str(root / "phantom"), "--n", str(n), "--ga", "20:38", "--sites", "3",
                              "--seed", "1", "--overwrite")
        times["segment"] = sh("segment", str(root / "phantom"), "-o", str(root / "seg"), "--qc", str(root / "qc.csv"),
                              "--quiet", "--overwrite")
        times["evaluate"] = sh("evaluate", str(root / "seg"), str(root / "phantom"), "-o", str(root / "metrics.csv"),
                               "--overwrite")
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--keep", type=Path, default=None, help="Folder to prepare the cohort in once and reuse.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        prep = prepare(root, args.n)
        t_an = sh("analyze", str(root / "metrics.csv"), str(root / "phantom" / "participants.tsv"), "-o",
                  str(root / "analysis"), "--overwrite")
        t_rep = sh("report", str(root / "seg"), "-o", str(root / "report"), "--overwrite")
        summary = (root / "analysis" / "summary.md").read_text()
        size = sum(f.stat().st_size for f in (root / "report").iterdir()) / 1e6
    load = os.getloadavg()[0]
    print(f"cohort: {args.n} phantoms, load average {load:.1f} (2 cores)")
    for k, v in prep.items():
        print(f"  preparation {k}: {v:.1f} s")
    print(f"fetalseg analyze: {t_an:.1f} s")
    print(f"fetalseg report:  {t_rep:.1f} s ({size:.1f} MB of HTML)")
    total = t_an + t_rep
    print(f"analyze + report: {total:.1f} s (target < 300 s: {'met' if total < 300 else 'NOT met'})")
    for sec in re.findall(r"## (\w+) \(mean over labels\)\n\n(.*?)\n\n(.*?)\n", summary, re.S):
        print(f"  {sec[0]}: {sec[1][:110]}")
        print(f"      {sec[2][:160]}")


if __name__ == "__main__":
    main()
