"""Benchmark: all FeTA metrics of one 256^3 case with 7 labels, against the challenge's own tools.

Case: an sb-atlas label map (sub-sb34op, 0.8 mm) resampled to 0.5 mm (one-hot linear) on a 256^3 grid
centred on the brain = reference; prediction = reference shifted by one voxel along x, plus random
labels on 30 % of the voxels of a ball of radius 12 voxels (seeded).

Measured in the same run, each in a fresh process limited to 2 threads:
- fetalseg: ``evaluate_case`` (Dice, VS, HD95, EC, Betti numbers, ED for labels 1-7);
- baseline A, the FeTA topology code path: gudhi CubicalComplex persistence per label (crop to bbox
  + 2, mask as top-cell filtration, GF(2), min_persistence 0.99), as in the challenge;
- baseline B: skimage ``euler_number(connectivity=1)`` + surface-distance HD95 per label.
Results are checked to agree. Peak memory is the worker's ``ru_maxrss``.

Usage: ``python benchmarks/bench_metrics.py [--repeat 5] [--skip-gudhi]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "2"

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ATLAS = REPO.parent / "shared" / "data" / "sb-atlas" / "sub-sb34op" / "anat" / "sub-sb34op_rec-atlas_dseg.nii.gz"


def make_case(path: Path, n: int = 256, spacing: float = 0.5, seed: int = 0):
    from fetalseg.io import load_labels, resample_labels
    from fetalseg.labels import FETA

    img = load_labels(path, FETA)
    idx = np.argwhere(img.data > 0)
    centre_vox = (idx.min(0) + idx.max(0)) / 2
    centre = img.affine[:3, :3] @ centre_vox + img.affine[:3, 3]
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = centre - spacing * (n - 1) / 2
    ref = resample_labels(img.data, img.affine, (n, n, n), affine, method="linear")
    rng = np.random.default_rng(seed)
    pred = np.roll(ref, 1, axis=0)
    x, y, z = np.ogrid[:n, :n, :n]
    ball = (x - n // 2 - 20) ** 2 + (y - n // 2) ** 2 + (z - n // 2 - 10) ** 2 <= 12**2
    flip = ball & (rng.random((n, n, n)) < 0.3)
    pred[flip] = rng.integers(0, 8, size=int(flip.sum()), dtype=ref.dtype)
    return ref, pred, (spacing,) * 3


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(kind: str, case: str, repeat: int) -> dict:
    if kind == "make":
        t = time.perf_counter()
        ref, pred, sp = make_case(ATLAS)
        np.savez(case, ref=ref, pred=pred, spacing=np.array(sp))
        return {"seconds": time.perf_counter() - t, "labels": np.unique(ref).tolist(),
                "differ": int((ref != pred).sum())}
    d = np.load(case)
    ref, pred, sp = d["ref"], d["pred"], tuple(d["spacing"])
    base = _rss_mb()
    times, result = [], None
    if kind == "fetalseg":
        from fetalseg.metrics import evaluate_case

        evaluate_case(pred[:48, :48, :48], ref[:48, :48, :48], sp)  # warm caches (area table, offsets)
        for _ in range(repeat):
            t = time.perf_counter()
            rows = evaluate_case(pred, ref, sp)
            times.append(time.perf_counter() - t)
        result = {r["label"]: [r["hd95"], r["betti0"], r["betti1"], r["betti2"], r["ec"]] for r in rows}
    elif kind == "gudhi":
        import gudhi

        from fetalseg.metrics import bbox_crop

        t = time.perf_counter()
        result = {}
        for lab in range(1, 8):
            m = pred == lab
            crop = np.pad(bbox_crop(m), 2).astype(np.float64)  # the FeTA crop: bbox + 2 voxels
            cc = gudhi.CubicalComplex(top_dimensional_cells=crop)
            cc.persistence(homology_coeff_field=2, min_persistence=0.99)
            reg = cc.cofaces_of_persistence_pairs()[0]
            b = [len(reg[2]) if len(reg) > 2 else 0, len(reg[1]) if len(reg) > 1 else 0, len(reg[0])]
            result[lab] = b
        times.append(time.perf_counter() - t)
    elif kind == "skimage+sd":
        import surface_distance as sdist
        from skimage.measure import euler_number

        t = time.perf_counter()
        result = {}
        for lab in range(1, 8):
            g, p = ref == lab, pred == lab
            hd = sdist.compute_robust_hausdorff(sdist.compute_surface_distances(g, p, sp), 95)
            result[lab] = [float(hd), int(euler_number(p, connectivity=1))]
        times.append(time.perf_counter() - t)
    return {"kind": kind, "times": times, "rss_mb": _rss_mb(), "rss_before_mb": base,
            "result": {str(k): v for k, v in result.items()}}


def run_worker(kind: str, case: Path, repeat: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--case", str(case), "--repeat", str(repeat)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-gudhi", action="store_true", help="Leave out the slow gudhi baseline.")
    ap.add_argument("--worker")
    ap.add_argument("--case")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.case, args.repeat)))
        return
    if not ATLAS.exists():
        sys.exit(f"sb-atlas not found at {ATLAS}")
    # every step runs in its own process so that each ru_maxrss is its own (the parent stays small)
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case.npz"
        made = run_worker("make", case, 1)
        print(f"case: 256^3 at 0.5 mm from {ATLAS.name}, labels {made['labels']}, "
              f"{made['differ']} voxels differ (built in {made['seconds']:.1f} s)")
        print(f"cpus available: {len(os.sched_getaffinity(0))}, threads limited to 2; "
              f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        ours = run_worker("fetalseg", case, args.repeat)
        base_b = run_worker("skimage+sd", case, 1)
        base_a = None if args.skip_gudhi else run_worker("gudhi", case, 1)
    t_ours = float(np.median(ours["times"]))
    print(f"fetalseg evaluate_case (7 labels, all metrics): median {t_ours:.3f} s, min {min(ours['times']):.3f} s "
          f"over {len(ours['times'])} runs; peak RSS {ours['rss_mb']:.0f} MB (case loaded: {ours['rss_before_mb']:.0f} MB)")
    ok_b = all(abs(ours["result"][k][0] - base_b["result"][k][0]) == 0 and ours["result"][k][4] == base_b["result"][k][1]
               for k in ours["result"])
    tb = base_b["times"][0]
    print(f"skimage euler_number + surface-distance HD95: {tb:.2f} s  -> ratio {tb / t_ours:.1f}x; "
          f"results identical: {ok_b}; peak RSS {base_b['rss_mb']:.0f} MB")
    if base_a is not None:
        ta = base_a["times"][0]
        ok_a = all(ours["result"][k][1:4] == base_a["result"][k] for k in ours["result"])
        print(f"gudhi cubical persistence (FeTA topology):     {ta:.2f} s  -> ratio {ta / t_ours:.1f}x; "
              f"Betti numbers identical: {ok_a}; peak RSS {base_a['rss_mb']:.0f} MB")
    target = t_ours <= 1.5 and ours["rss_mb"] <= 2048
    print(f"target (<= 1.5 s, <= 2 GB): {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
