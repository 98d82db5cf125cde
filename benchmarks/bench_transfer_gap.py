"""Where the transfer gap of issue 15 comes from: three checks on models from ``bench_phantom_transfer.py``.

1. Confusion on the held-out real T2w: for each true label, the fraction of its voxels given each label
   (the three cases pooled).
2. Dice of each model on phantoms of a cohort it was trained on (``--phantoms``: a FeTA/BIDS phantom folder,
   ``--subjects``): can the model fit the phantoms' labels at all?
3. Dice on synthetic images drawn from the held-out atlas label maps (the default generator's intensity, bias,
   resolution and noise draws, no spatial deformation, seeds 0 and 1): the generator's own domain with the
   atlas's anatomy.

Every segmentation is ``fetalseg.segment`` without TTA or the pose step, as the transfer benchmark scores. From a
fresh clone, after ``bench_phantom_transfer.py --out ../runs/transfer``::

    python benchmarks/bench_transfer_gap.py ../runs/transfer/phantoms.safetensors ../runs/transfer/atlas.safetensors \\
        --phantoms ../runs/transfer/data/phantoms
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_phantom_transfer import HELDOUT, NAMES, held_out_cases, require_atlas, score  # noqa: E402


def confusion(model: Path, cases) -> np.ndarray:
    """(8, 8) voxel counts, truth (rows) against prediction, summed over ``cases``."""
    import fetalseg

    c = np.zeros((8, 8))
    for _, img, ref in cases:
        seg = np.asarray(fetalseg.segment(img, model=str(model), tta=False, pose=False).data).astype(int)
        c += np.bincount(np.asarray(ref).astype(int).ravel() * 8 + seg.ravel(), minlength=64).reshape(8, 8)
    return c


def phantom_cases(root: Path, subjects: list[str]):
    from fetalseg.io import load_image
    from fetalseg.labels import FETA

    out = []
    for sid in subjects:
        anat = root / sid / "anat"
        out.append((sid, load_image(next(anat.glob("*_T2w.nii.gz"))),
                    load_image(next(anat.glob("*_rec-sim_dseg.nii.gz")), labels=FETA).data))
    return out


def synthetic_atlas_cases(seeds=(0, 1)):
    """Synthetic images from the held-out atlas label maps (0.8 mm, 160^3, no spatial deformation)."""
    import torch

    from fetalseg.io import Image
    from fetalseg.synth import SynthConfig, SynthGenerator

    gen = SynthGenerator(SynthConfig(output_shape=(160, 160, 160), voxel_mm=0.8, p_affine=0.0, p_elastic=0.0,
                                     p_flip=0.0, p_skull_strip=0.0, p_motion=0.0, p_inflation=0.0))
    out = []
    for sid, _, ref in held_out_cases():
        for seed in seeds:
            b = gen.sample([torch.from_numpy(np.asarray(ref).astype(np.int64))], torch.Generator().manual_seed(seed))
            out.append((f"{sid}-s{seed}", Image(b.image[0, 0].numpy(), np.diag([0.8, 0.8, 0.8, 1.0])),
                        b.target[0].numpy()))
    return out


def _dice_rows(title: str, results: dict[str, dict[str, np.ndarray]]) -> list[str]:
    lines = [f"**{title}**", "", "| model | " + " | ".join(NAMES) + " | mean |", "| --- |" + " --- |" * 8]
    for name, per_case in results.items():
        d = np.mean(np.stack(list(per_case.values())), axis=0)
        lines.append(f"| {name} | " + " | ".join(f"{x:.3f}" for x in d) + f" | **{d.mean():.3f}** |")
    return lines + [""]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+", help="exported transfer models (.safetensors)")
    ap.add_argument("--phantoms", type=Path, help="phantom cohort folder the phantom models were trained on")
    ap.add_argument("--subjects", default="sub-005,sub-013,sub-017", help="phantoms to score (comma-separated)")
    args = ap.parse_args(argv)
    require_atlas()
    lines = [f"Held-out cases: {', '.join(HELDOUT)}; `fetalseg.segment` without TTA or pose step", ""]
    real = held_out_cases()
    for m in args.models:
        f = confusion(m, real)
        f = f / np.maximum(f.sum(1, keepdims=True), 1)
        lines += [f"**Confusion on the real images, {m.name}** (rows: truth 0-7, fraction of its voxels)", "",
                  "| truth | " + " | ".join(str(k) for k in range(8)) + " |", "| --- |" + " --- |" * 8]
        lines += [f"| {t} | " + " | ".join(f"{x:.3f}" for x in f[t]) + " |" for t in range(8)] + [""]
    if args.phantoms:
        ph = phantom_cases(args.phantoms, args.subjects.split(","))
        lines += _dice_rows(f"Dice on phantoms {args.subjects}", {m.name: score(m, ph) for m in args.models})
    syn = synthetic_atlas_cases()
    lines += _dice_rows("Dice on synthetic images of the held-out atlas maps", {m.name: score(m, syn) for m in args.models})
    text = "\n".join(lines)
    print(text)


if __name__ == "__main__":
    main()
