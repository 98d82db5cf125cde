"""Benchmark: time to simulate one phantom subject (labels + T2w + biometry truth).

Targets (issue 3): one subject at 0.8 mm (about 160^3) in <= 3 s and at 0.5 mm (256^3) in <= 12 s on
2 CPU cores. The baseline measured in the same run is the cost of the unavoidable part: drawing
one float32 random volume of the same size and blurring it once (a lower bound on any image
simulation of that size), so the ratio says how much the anatomy and topology add.

Run: ``python benchmarks/bench_phantom.py [--repeat 3]`` (seeds 0..repeat-1; the grid size varies a little
with the drawn head size).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from fetalseg.phantom import make_subject  # noqa: E402

CASES = [  # (GA, voxel mm, target s): 33 w gives about 160^3 at 0.8 mm and 256^3 at 0.5 mm
    (33.0, 0.8, 3.0),
    (33.0, 0.5, 12.0),
]


def baseline(shape) -> float:
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    img = rng.standard_normal(shape, dtype=np.float32)
    ndi.gaussian_filter(img, 1.0)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs (seeds) per case; best and worst are reported")
    args = ap.parse_args()
    make_subject(24.0, voxel=1.5, seed=0)  # warm-up: imports, caches
    print(f"{'case':<22}{'shape':>14}{'best s':>9}{'worst s':>9}{'target s':>10}{'baseline s':>12}{'ratio':>8}")
    for ga, voxel, target in CASES:
        times = []
        for r in range(args.repeat):
            t = time.perf_counter()
            s = make_subject(ga, "normal", voxel=voxel, seed=r)
            times.append(time.perf_counter() - t)
        base = baseline(s.image.shape)
        best, worst = min(times), max(times)
        shape = "x".join(map(str, s.image.shape))
        ok = "ok" if worst <= target else ("best ok" if best <= target else "SLOW")
        print(f"{f'{ga:g} w, {voxel:g} mm':<22}{shape:>14}{best:>9.2f}{worst:>9.2f}{target:>10.1f}{base:>12.2f}"
              f"{best / base:>8.1f}  {ok}")


if __name__ == "__main__":
    main()
