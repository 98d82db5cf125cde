"""Benchmark ``fetalseg segment``: a 256^3, 0.5 mm volume end to end on CPU, against an nnU-Net-style baseline.

Pipeline runs (each in a fresh subprocess so that its peak RAM is its own): read the NIfTI, segment
with a default-size network with the brain-centred crop, post-process, QC, map back to 0.5 mm, write
the uint8 label map. Two models: the shipped model (``fetalseg/models/default``, at its card's
resolution, 1.6 mm) and the same network with random weights (``torch.manual_seed(0)``) at 0.8 mm, the
finer grid a user's own model may use. Configurations: no TTA, left-right TTA, and both again with
bfloat16 autocast.

Baseline (nnU-Net style): the same network on the native 0.5 mm grid (whole 256^3 field of view),
sliding windows of the training patch size (128^3) with 50 % overlap and Gaussian blending, as
nnU-Net predicts (without its mirroring TTA). Its time is ESTIMATED: a fixed subset of its windows
is timed and scaled to the full window count (printed), plus the measured cost of the blending.

Usage: ``python benchmarks/bench_segment.py [--threads 2] [--baseline-windows 2] [--quick] [--model shipped|random-0.8]``
(``--quick``: 128^3 at 1 mm, for a smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


def phantom(n: int, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """A fetal-brain-like 35-week phantom (about 88 x 108 x 76 mm) in an n^3 field of view, masked T2w-like."""
    rng = np.random.default_rng(0)
    aff = np.diag([spacing, spacing, spacing, 1.0])
    aff[:3, 3] = -(n - 1) / 2 * spacing
    c = (np.arange(n) - (n - 1) / 2) * spacing
    x, y, z = np.meshgrid(c, c, c, indexing="ij", sparse=True)
    r = np.sqrt((x / 44.0) ** 2 + (y / 54.0) ** 2 + (z / 38.0) ** 2)
    img = np.zeros((n, n, n), np.float32)
    for radius, value in ((1.0, 900.0), (0.9, 400.0), (0.82, 650.0), (0.3, 1000.0)):  # CSF, GM, WM, ventricles
        img[r < radius] = value
    img[(r < 0.5) & (np.abs(x) < 12) & (z < -5)] = 350.0  # deep GM
    brain = r < 1.0
    img[brain] += rng.normal(0, 25.0, int(brain.sum())).astype(np.float32)
    return img, aff


def run_pipeline(args) -> None:
    """Child process: one end-to-end configuration; prints a JSON line."""
    import torch

    from fetalseg.infer import Predictor
    from fetalseg.infer.segment import run_segmentation
    from fetalseg.io import load_image, save_image
    from fetalseg.nets import build_network

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "shipped":  # the installed default model, at its card's resolution
        from fetalseg.infer.models import load_predictor

        pred = load_predictor(None, precision=args.precision)
    else:  # the same network size with random weights at 0.8 mm (a finer model grid costs more)
        pred = Predictor(build_network("default"), resolution_mm=0.8, divisor=16, patch_size=(128, 128, 128),
                         precision=args.precision, name="default-random")
    t0 = time.perf_counter()
    img = load_image(args.input)
    t1 = time.perf_counter()
    res = run_segmentation(img, pred, tta=args.tta, merge="mean", postprocess=True)
    t2 = time.perf_counter()
    save_image(res.labels, args.output, dtype="uint8", overwrite=True)
    t3 = time.perf_counter()
    print(json.dumps({"total_s": t3 - t0, "load_s": t1 - t0, "save_s": t3 - t2, "stages": res.timings,
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2}))


def run_baseline(args) -> None:
    """Child process: time ``--baseline-windows`` windows of the native-resolution sliding window."""
    import torch
    from monai.inferers.utils import _get_scan_interval, compute_importance_map, dense_patch_slices

    from fetalseg.io import load_image
    from fetalseg.nets import build_network

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = build_network("default").eval()
    img = load_image(args.input)
    data = img.data
    lo, hi = np.percentile(data[::2, ::2, ::2], [0.5, 99.5])
    x = torch.from_numpy(np.clip((data - lo) / (hi - lo), 0, 1).astype(np.float32))[None, None]
    roi = (128, 128, 128)
    scan = _get_scan_interval(tuple(x.shape[2:]), roi, 3, (0.5, 0.5, 0.5))
    slices = dense_patch_slices(tuple(x.shape[2:]), roi, scan)
    n_total = len(slices)
    pick = [slices[i] for i in np.linspace(0, n_total - 1, args.baseline_windows).round().astype(int)]
    weight = compute_importance_map(roi, mode="gaussian", sigma_scale=0.125)
    out = torch.zeros((1, 8) + tuple(x.shape[2:]))
    norm = torch.zeros((1, 1) + tuple(x.shape[2:]))
    with torch.inference_mode():
        t = time.perf_counter()
        for sl in pick:
            win = x[(slice(None), slice(None)) + tuple(sl)]
            p = torch.softmax(net(win), dim=1)
            out[(slice(None), slice(None)) + tuple(sl)] += p * weight
            norm[(slice(None), slice(None)) + tuple(sl)] += weight
        per_window = (time.perf_counter() - t) / len(pick)
        t = time.perf_counter()
        labels = torch.argmax(out / norm.clamp_min(1e-6), dim=1)
        finish = time.perf_counter() - t
    del labels
    print(json.dumps({"windows_total": n_total, "windows_timed": len(pick), "per_window_s": per_window,
                      "estimated_total_s": per_window * n_total + finish,
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2}))


def child(mode: str, extra: list[str], args) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--threads", str(args.threads), *extra]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"bench_segment: {mode} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline-windows", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", choices=["pipeline", "baseline"])
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--tta", action="store_true")
    ap.add_argument("--precision", default="float32")
    ap.add_argument("--skip-bf16", action="store_true")
    ap.add_argument("--model", choices=["shipped", "random-0.8"], default=None,
                    help="Only this model (default: both the shipped model and a random 0.8 mm one).")
    args = ap.parse_args()
    if args.child == "pipeline":
        return run_pipeline(args)
    if args.child == "baseline":
        return run_baseline(args)

    import nibabel as nib

    n, sp = (128, 1.0) if args.quick else (256, 0.5)
    load = os.getloadavg()[0]
    print(f"bench_segment: {n}^3 at {sp} mm, default-size network (shipped model, and random weights at 0.8 mm), "
          f"{args.threads} threads, "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "t2w.nii.gz", Path(tmp) / "dseg.nii.gz"
        data, aff = phantom(n, sp)
        nib.save(nib.Nifti1Image(data, aff), src)
        rows = []
        models = [args.model] if args.model else ["shipped", "random-0.8"]
        configs = [(m, "float32", False) for m in models] + [(m, "float32", True) for m in models]
        if not args.skip_bf16:
            configs += [(m, "bfloat16", t) for m in models for t in (False, True)]
        for model, prec, tta in configs:
            extra = ["--input", str(src), "--output", str(dst), "--precision", prec, "--model", model]
            extra += ["--tta"] if tta else []
            r = child("pipeline", extra, args)
            rows.append((f"{model}, {prec}", tta, r))
            st = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            print(f"  pipeline {model:10s} {prec:8s} tta={'LR ' if tta else 'off'}: {r['total_s']:6.1f} s end to end "
                  f"(load {r['load_s']:.1f}, {st}, save {r['save_s']:.1f}); peak RAM {r['peak_rss_gb']:.2f} GB",
                  flush=True)
        b = child("baseline", ["--input", str(src), "--baseline-windows", str(args.baseline_windows)], args)
        print(f"  baseline nnU-Net-style at native {sp} mm, 128^3 windows, 50% overlap: "
              f"{b['windows_total']} windows, {b['per_window_s']:.1f} s/window timed on {b['windows_timed']} "
              f"-> ESTIMATED {b['estimated_total_s']:.0f} s "
              f"without TTA; peak RAM {b['peak_rss_gb']:.2f} GB")
        for prec, tta, r in rows:
            print(f"  ratio baseline / pipeline ({prec}, tta={'LR' if tta else 'off'}): "
                  f"{b['estimated_total_s'] / r['total_s']:.1f}x" + ("  (target >= 15x)" if not tta else ""))


if __name__ == "__main__":
    main()
