"""Benchmark the topology steps of ``fetalseg segment``: raw model, + guaranteed step, + DAE, + both.

Variants: ``raw`` (arg-max of the network), ``old`` (the earlier component step,
:func:`fetalseg.infer.postprocess.postprocess`, on the same probabilities), ``fix`` (the guaranteed step),
``dae`` and ``dae+fix``.

Cases: the 3 held-out atlas subjects (sub-sb23pre, sub-sb28op, sub-sb33op; 0.8 mm, 135 x 189 x 155;
``../shared/data/sb-atlas``) and held-out phantoms (seeds never used for training the model or the
DAE), all segmented with the shipped model (``fetalseg/models/default``, left-right TTA) and the
shipped DAE (``fetalseg/models/dae-default``). Per case and variant: FeTA Dice, HD95 (mm) and ED
(|EC - EC target|) per label with :func:`fetalseg.metrics.evaluate_case`, whether every label has
exactly its target Betti numbers, voxels changed by the guaranteed step, and seconds of each step
(DAE on the model grid, guaranteed step on the 0.8 mm input grid).

Usage: ``python benchmarks/bench_topology.py [--threads 2] [--phantoms 2] [--dae default|PATH] [--out figures.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

ATLAS = HERE.parent.parent / "shared" / "data" / "sb-atlas"
HELD_OUT = ("sub-sb23pre", "sub-sb28op", "sub-sb33op")
VARIANTS = ("raw", "old", "fix", "dae", "dae+fix")


def cases(n_phantoms: int):
    """(name, T2w Image, FeTA reference labels, spacing) for the held-out atlas subjects and phantoms."""
    from fetalseg.io import load_image
    from fetalseg.phantom import make_subject

    for sub in HELD_OUT:
        anat = ATLAS / sub / "anat"
        if not anat.is_dir():
            print(f"skipped {sub}: {anat} not found")
            continue
        ref = load_image(anat / f"{sub}_rec-atlas_dseg.nii.gz")
        yield sub, load_image(anat / f"{sub}_rec-atlas_T2w.nii.gz"), np.asarray(ref.data, np.uint8), ref.spacing
    for i, (ga, kind) in enumerate([(24.0, "normal"), (32.0, "vm"), (28.0, "acc")][:n_phantoms]):
        sim = make_subject(ga, kind, voxel=0.8, seed=9000 + i)
        yield f"phantom-{kind}-{ga:g}w", sim.image, np.asarray(sim.labels.data, np.uint8), sim.labels.spacing


def run_case(image, ref, spacing, preds, dae) -> dict:
    """Rows (evaluate_case), voxels changed, Betti targets met and seconds of every variant on one case."""
    from fetalseg.infer.postprocess import label_map, postprocess
    from fetalseg.infer.segment import run_segmentation
    from fetalseg.infer.topology_step import guaranteed_labels

    out = {}
    for name, net in (("raw", None), ("dae", dae)):
        res = run_segmentation(image, preds, postprocess=False, posteriors=True, dae=net)
        t_dae = res.timings.get("dae", 0.0) if net is not None else 0.0
        hard = label_map(res.posteriors)[0]
        t0 = time.perf_counter()
        fixed, _ = guaranteed_labels(res.posteriors, image.affine)
        t_fix = time.perf_counter() - t0
        out[name] = _scored(hard, ref, spacing, hard, 0.0, t_dae)
        out["fix" if net is None else "dae+fix"] = _scored(fixed, ref, spacing, hard, t_fix, t_dae)
        if net is None:
            t0 = time.perf_counter()
            old = label_map(postprocess(res.posteriors)[0])[0]
            out["old"] = _scored(old, ref, spacing, hard, time.perf_counter() - t0, 0.0)
    return out


def _scored(lab, ref, spacing, raw, seconds_fix: float, seconds_dae: float) -> dict:
    from fetalseg.metrics import betti_numbers, evaluate_case

    rows = evaluate_case(lab, ref, spacing, empty="nan")
    exact = all(betti_numbers(lab == r["label"]) == ((2, 0, 0) if r["label"] == 2 else (1, 0, 0)) for r in rows)
    return {"rows": rows, "changed": int((lab != raw).sum()), "targets_met": exact,
            "seconds_fix": round(seconds_fix, 2), "seconds_dae": round(seconds_dae, 2)}


def summarise(results: dict) -> None:
    """Print the mean table (over cases and labels) and the per-label Dice / ED tables."""
    print("\n| variant | mean Dice | mean HD95 (mm) | mean ED | cases with every Betti target | voxels changed "
          "(mean) | s DAE | s guaranteed step |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for v in VARIANTS:
        per = [results[c][v] for c in results]
        rows = [r for p in per for r in p["rows"]]
        print(f"| {v} | {np.nanmean([r['dice'] for r in rows]):.4f} | {np.nanmean([r['hd95'] for r in rows]):.2f} | "
              f"{np.nanmean([r['ed'] for r in rows]):.2f} | {sum(p['targets_met'] for p in per)}/{len(per)} | "
              f"{np.mean([p['changed'] for p in per]):.0f} | {np.mean([p['seconds_dae'] for p in per]):.2f} | "
              f"{np.mean([p['seconds_fix'] for p in per]):.2f} |")
    for key, fmt in (("dice", ".3f"), ("ed", ".1f"), ("hd95", ".2f")):
        print(f"\n{key} per label (mean over cases)\n\n| variant | " + " | ".join(str(i) for i in range(1, 8)) + " |")
        print("| --- " * 8 + "|")
        for v in VARIANTS:
            vals = [np.nanmean([r[key] for c in results for r in results[c][v]["rows"] if r["label"] == lab])
                    for lab in range(1, 8)]
            print(f"| {v} | " + " | ".join(format(x, fmt) for x in vals) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--phantoms", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="also write every figure as JSON")
    ap.add_argument("--dae", default="default", help="DAE to benchmark: default or a .safetensors path")
    args = ap.parse_args()
    import torch

    from fetalseg.infer.segment import as_predictors
    from fetalseg.infer.topology_step import resolve_dae

    torch.set_num_threads(args.threads)
    preds = as_predictors(None)
    dae = resolve_dae(args.dae)
    results = {}
    for name, image, ref, spacing in cases(args.phantoms):
        t0 = time.perf_counter()
        results[name] = run_case(image, ref, spacing, preds, dae)
        r = results[name]
        print(f"{name}: " + ", ".join(
            f"{v} Dice {np.nanmean([x['dice'] for x in r[v]['rows']]):.4f} ED "
            f"{np.nanmean([x['ed'] for x in r[v]['rows']]):.1f}" for v in VARIANTS)
            + f"; changed {r['fix']['changed']} / {r['dae+fix']['changed']} voxels (old step {r['old']['changed']}); "
            f"DAE {r['dae']['seconds_dae']:.2f} s, step {r['fix']['seconds_fix']:.2f} s ({time.perf_counter() - t0:.0f} s)")
    summarise(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
