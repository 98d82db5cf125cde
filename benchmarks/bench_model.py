"""Model benchmark: the tables of the model card (issue 11), from a fresh clone.

* **Held-out atlas**: the real T2w of the three spina bifida atlas time points never used in training
  (sub-sb23pre, sub-sb28op, sub-sb33op, from ``../shared/data/sb-atlas``), segmented by ``fetalseg.segment``
  with its defaults (left-right TTA, topological post-processing) and scored with the FeTA 2024 metrics
  (``fetalseg.metrics.evaluate_case``): Dice, HD95 (mm), volume similarity and Euler characteristic
  difference per label, mean over cases.
* **Held-out phantoms**: 8 simulated brains (``fetalseg.phantom.make_subject``, every pathology, GA 21-37, seeds
  100-107, never used in training: the training phantoms use seed 11), unmasked (skull, fluid, maternal tissue).
* **Robustness** on the held-out atlas images (no TTA, the perturbation applied to the input; the reference
  transformed alike for rotations): contrast inverted inside the head, T1-like contrast (grey matter brighter
  than white matter, CSF dark; a per-tissue intensity remap drawn from the reference labels), 3 mm slices along
  each axis (Gaussian slice profile, then back to 0.8 mm), a strong bias field, Rician noise, and the brain
  rotated by 30, 90 and 180 degrees about each axis inside the same grid. Mean Dice and its drop from the
  unperturbed image (same run, no TTA).
* **Speed**: seconds per volume end to end (model grid, network, post-processing, back to the input grid).

Usage::

    python benchmarks/bench_model.py [--model PATH] [--write docs/model-default-bench.md] [--quick]
        [--no-robustness] [--phantoms 8] [--threads 2]     (--model twice or more: an ensemble)

``--quick`` runs one atlas case, two phantoms and three perturbations (a smoke test). ``--write`` stores the
Markdown tables (printed either way) for the model card.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

ATLAS = HERE.parent.parent / "shared" / "data" / "sb-atlas"
HELDOUT = ("sub-sb23pre", "sub-sb28op", "sub-sb33op")
PHANTOMS = [(21.0, "normal"), (24.0, "vm"), (26.0, "acc"), (28.0, "sb"), (30.0, "micro"), (32.0, "normal"),
            (35.0, "vm"), (37.0, "normal")]
NAMES = ("eCSF", "cGM", "WM", "vent", "cereb", "dGM", "bstem")


# --- cases ---------------------------------------------------------------------------------------
def atlas_cases(ids):
    """(id, T2w Image, FeTA label array) of the held-out atlas time points."""
    from fetalseg.datasets import discover
    from fetalseg.io import load_image
    from fetalseg.labels import FETA

    subs = {s.id: s for s in discover(ATLAS, require="both")}
    return [(i, load_image(subs[i].t2w), load_image(subs[i].dseg, labels=FETA).data) for i in ids]


def phantom_cases(n: int):
    from fetalseg.phantom import make_subject

    out = []
    for k, (ga, pathology) in enumerate(PHANTOMS[:n]):
        s = make_subject(ga=ga, pathology=pathology, seed=100 + k)
        out.append((f"phantom-{pathology}-{ga:.0f}w", s.image, np.asarray(s.labels.data)))
    return out


# --- perturbations -------------------------------------------------------------------------------
def _head(img: np.ndarray) -> np.ndarray:
    return img > np.percentile(img, 1) + 1e-6 * (np.percentile(img, 99) - np.percentile(img, 1))


def inverted(img, lab):
    head = _head(img)
    hi = np.percentile(img[head], 99.5)
    out = np.where(head, np.clip(hi - img, 0, None), 0)
    return out.astype(np.float32), lab


def t1_like(img, lab):
    """Per-tissue remap: relative position inside each tissue kept, tissue means reordered T1-like."""
    t1_mean = {0: 0.0, 1: 0.15, 2: 0.75, 3: 0.55, 4: 0.12, 5: 0.7, 6: 0.8, 7: 0.72}
    out = np.zeros_like(img, dtype=np.float32)
    scale = np.percentile(img[lab > 0], 99) if (lab > 0).any() else 1.0
    for v, m in t1_mean.items():
        sel = lab == v
        if sel.any():
            out[sel] = m + 0.5 * (img[sel] - img[sel].mean()) / scale
    return np.clip(out, 0, None), lab


def thick_slices(axis: int):
    def f(img, lab):
        import torch

        from fetalseg.synth.resolution import apply_resolution

        res = [0.8, 0.8, 0.8]
        res[axis] = 3.0
        p = {"on": True, "mode": "slice", "axis": axis, "resolution_mm": res, "thickness_mm": res}
        x = apply_resolution(torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)), p, 0.8)
        return x.numpy(), lab
    return f


def bias_field(img, lab):
    import torch

    from fetalseg.synth.bias import bias_field as field

    f = field({"on": True, "std": 0.6, "grid": [4, 4, 4], "seed": 7}, img.shape, torch.device("cpu")).numpy()
    return (img * f).astype(np.float32), lab


def rician(img, lab):
    rng = np.random.default_rng(3)
    s = 0.06 * np.percentile(img, 99)
    n1, n2 = rng.normal(0, s, img.shape), rng.normal(0, s, img.shape)
    return np.sqrt((img + n1) ** 2 + n2 ** 2).astype(np.float32), lab


def rotation(axis: int, degrees: float):
    def f(img, lab):
        from scipy import ndimage

        planes = [(1, 2), (0, 2), (0, 1)][axis]
        r = ndimage.rotate(img, degrees, axes=planes, reshape=False, order=1, mode="constant")
        lr = ndimage.rotate(lab, degrees, axes=planes, reshape=False, order=0, mode="constant")
        return r.astype(np.float32), lr.astype(np.uint8)
    return f


def perturbations(quick: bool):
    out = {"inverted": inverted, "T1-like": t1_like, "bias": bias_field, "Rician noise": rician}
    out.update({f"3 mm slices {'xyz'[a]}": thick_slices(a) for a in range(3)})
    out.update({f"rot {d} {'xyz'[a]}": rotation(a, d) for d in (30, 90, 180) for a in range(3)})
    if quick:
        return {k: out[k] for k in ("inverted", "3 mm slices z", "rot 30 x")}
    return out


# --- running -------------------------------------------------------------------------------------
POSE = True  # --no-pose: segment without the head-pose step (fetalseg.infer.posed), as `segment --no-pose`


def segment_and_score(model, image, ref, tta: bool):
    import fetalseg
    from fetalseg.metrics import evaluate_case

    t0 = time.perf_counter()
    seg = fetalseg.segment(image, model=model, tta=tta, pose=POSE)
    dt = time.perf_counter() - t0
    rows = evaluate_case(np.asarray(seg.data), np.asarray(ref), image.spacing)
    return {r["label"]: r for r in rows}, dt


def table(title: str, results: list[dict]) -> str:
    """Markdown: one row per metric, one column per label, mean over cases."""
    lines = [f"**{title}** ({len(results)} cases)", "", "| metric | " + " | ".join(NAMES) + " | mean |",
             "| --- |" + " --- |" * (len(NAMES) + 1)]
    for m, fmt in (("dice", "{:.3f}"), ("hd95", "{:.1f}"), ("vs", "{:.3f}"), ("ed", "{:.1f}")):
        per = []
        for v in range(1, 8):
            vals = [float(r[v][m]) for r in results if math.isfinite(float(r[v][m]))]
            per.append(float(np.mean(vals)) if vals else math.nan)
        lines.append(f"| {m} | " + " | ".join(fmt.format(x) for x in per) + f" | **{fmt.format(np.nanmean(per))}** |")
    return "\n".join(lines)


def mean_dice(rows: dict) -> float:
    return float(np.mean([float(rows[v]["dice"]) for v in range(1, 8)]))


def robustness(model, cases, quick: bool) -> str:
    lines = ["**Robustness** (held-out atlas images, no TTA; mean Dice over labels 1-7 and cases)", "",
             "| input | mean Dice | drop | worst label |", "| --- | --- | --- | --- |"]
    base = [segment_and_score(model, img, ref, tta=False)[0] for _, img, ref in cases]
    b = float(np.mean([mean_dice(r) for r in base]))
    lines.append(f"| unperturbed | {b:.3f} | | |")
    for name, fn in perturbations(quick).items():
        res = []
        for _, img, ref in cases:
            x, r = fn(np.asarray(img.data, dtype=np.float32), np.asarray(ref))
            res.append(segment_and_score(model, img.with_data(x), r, tta=False)[0])
        d = float(np.mean([mean_dice(r) for r in res]))
        per = [np.mean([float(r[v]["dice"]) for r in res]) for v in range(1, 8)]
        worst = int(np.argmin(per))
        lines.append(f"| {name} | {d:.3f} | {b - d:+.3f} | {NAMES[worst]} {per[worst]:.2f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=None,
                    help="model file (default: the shipped model); repeat for an ensemble (mean of probabilities)")
    ap.add_argument("--write", type=Path, default=None, help="write the Markdown tables to this file")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-robustness", action="store_true")
    ap.add_argument("--phantoms", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-pose", action="store_true", help="segment without the head-pose step (segment --no-pose)")
    ap.add_argument("--no-heldout", action="store_true", help="robustness only")
    args = ap.parse_args(argv)
    global POSE
    POSE = not args.no_pose
    if args.model is not None and len(args.model) == 1:
        args.model = args.model[0]
    import torch

    torch.set_num_threads(args.threads)
    if not (ATLAS / "participants.tsv").is_file():
        sys.exit(f"needs the shared atlas at {ATLAS}")
    atlas = atlas_cases(HELDOUT[:1] if args.quick else HELDOUT)
    phantoms = [] if args.no_heldout else phantom_cases(min(args.phantoms, 2) if args.quick else args.phantoms)
    parts, times = [], []
    sets = (("Held-out atlas images (spina bifida)", atlas), ("Held-out phantoms", phantoms))
    for title, cases in () if args.no_heldout else sets:
        res = []
        for cid, img, ref in cases:
            rows, dt = segment_and_score(args.model, img, ref, tta=True)
            res.append(rows)
            times.append(dt)
            print(f"{cid}: mean Dice {mean_dice(rows):.3f}, {dt:.1f} s", flush=True)
        parts.append(table(title, res))
    if times:
        parts.append(f"Seconds per volume (left-right TTA, {args.threads} threads): median "
                     f"{np.median(times):.1f} s, max {np.max(times):.1f} s over {len(times)} volumes.")
    if not args.no_robustness:
        parts.append(robustness(args.model, atlas, args.quick))
    text = "\n\n".join(parts) + "\n"
    print(text)
    if args.write:
        from fetalseg.io import write_text

        write_text(args.write, text, overwrite=True)


if __name__ == "__main__":
    main()
