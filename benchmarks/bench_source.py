"""Training-source ablation (issue 11, item 3): synthetic images only against synthetic and real images mixed.

The same small network (that of ``bench_phantom_transfer.py``) is trained with the same budget, seed and label maps
(the 12 training maps of the shared spina bifida atlas; the three held-out time points excluded) twice:

* ``synth``: ``source: synth``, every sample a synthetic image drawn from a label map (the default generator);
* ``mixed``: ``source: mixed``, a fraction ``--real-fraction`` of the samples the atlas's own T2w image next to the
  map, with the generator's spatial augmentation and the real-image intensity augmentation
  (:mod:`fetalseg.synth.real`), the rest synthetic as above.

Each run's best checkpoint (by validation Dice on the held-out atlas label maps) is exported and scored with the FeTA
Dice on the real T2w images of the three held-out time points, unperturbed and under the contrast, resolution,
bias and noise perturbations of ``bench_model.py`` (no TTA, no pose step: the images are upright, and a rotation
tests the pose step, not the training source). A source "wins" where it is better both unperturbed and on the
mean over perturbations.

Everything is written under ``--out`` (configs, run folders, exported models, ``source.md``); an existing run folder
is resumed. From a fresh clone (the shared data in ``../shared``)::

    python benchmarks/bench_source.py --out ../runs/source-ablation [--steps 1500] [--runs synth,mixed]

About 15 minutes a run at the default budget on an idle 2-core machine; ``--quick`` is a smoke test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_model import perturbations  # noqa: E402
from bench_phantom_transfer import (NAMES, NETWORK, add_run_args, atlas_dataset, held_out_cases,  # noqa: E402
                                    n_training_maps, require_atlas, run, run_config, score)

RUNS = ("synth", "mixed")


def config(name: str, args) -> dict:
    """Training config of one run: only ``source`` (and the maps' images flag) differ between runs."""
    return run_config(f"source-{name}", [atlas_dataset(images=name == "mixed")], args, source=name,
                      real_fraction=args.real_fraction)


def robustness_cases(cases, quick: bool) -> dict[str, list]:
    """``{perturbation: cases}``: the held-out cases under each non-rotation perturbation of ``bench_model``."""
    out = {}
    for pname, fn in perturbations(quick).items():
        if pname.startswith("rot"):
            continue
        moved = []
        for sid, img, ref in cases:
            x, r = fn(np.asarray(img.data, dtype=np.float32), np.asarray(ref))
            moved.append((sid, img.with_data(x), r))
        out[pname] = moved
    return out


def table(results: dict[str, dict[str, dict[str, np.ndarray]]]) -> str:
    """Markdown: per run, Dice per label (unperturbed) and the mean Dice per input."""
    runs = list(results)
    inputs = list(next(iter(results.values())))
    mean = {r: {i: float(np.mean(np.stack(list(results[r][i].values())))) for i in inputs} for r in runs}
    lines = ["| source | " + " | ".join(NAMES) + " | mean |", "| --- |" + " --- |" * (len(NAMES) + 1)]
    for r in runs:
        d = np.mean(np.stack(list(results[r]["unperturbed"].values())), axis=0)
        lines.append(f"| {r} | " + " | ".join(f"{x:.3f}" for x in d) + f" | **{d.mean():.3f}** |")
    lines += ["", "| input | " + " | ".join(runs) + " |", "| --- |" + " --- |" * len(runs)]
    for i in inputs:
        lines.append(f"| {i} | " + " | ".join(f"{mean[r][i]:.3f}" for r in runs) + " |")
    pert = [i for i in inputs if i != "unperturbed"]
    lines.append("| mean over perturbations | " + " | ".join(
        f"**{np.mean([mean[r][i] for i in pert]):.3f}**" for r in runs) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE.parent.parent / "runs" / "source-ablation")
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--real-fraction", type=float, default=0.5, help="mixed: share of real-image samples")
    ap.add_argument("--patch", type=int, default=80, help="patch side (voxels, a multiple of 8)")
    add_run_args(ap)
    ap.add_argument("--quick", action="store_true", help="smoke test: 3.2 mm, 32^3, one held-out case")
    args = ap.parse_args(argv)
    require_atlas()
    runs = args.runs.split(",")
    if not runs or any(r not in RUNS for r in runs):
        sys.exit(f"--runs: choose from {', '.join(RUNS)}, got {args.runs!r}")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.resolution, args.patch = 3.2, 32
    cases = held_out_cases()[:1 if args.quick else None]
    inputs = {"unperturbed": cases, **robustness_cases(cases, args.quick)}
    results = {}
    for name in runs:
        model = run(name, config(name, args), args)
        results[name] = {i: score(model, c) for i, c in inputs.items()}
    text = (f"{args.steps} steps at {args.resolution:g} mm, {args.patch}^3 patches, network {NETWORK}, seed "
            f"{args.seed}, mixed real fraction {args.real_fraction:g}; {n_training_maps()} training atlas maps; Dice on the "
            f"real T2w "
            f"of {', '.join(c[0] for c in cases)} (no TTA, no pose step)\n\n" + table(results) + "\n")
    (args.out / "source.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
