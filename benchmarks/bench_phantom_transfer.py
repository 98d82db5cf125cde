"""Transfer benchmark of the phantom anatomy (issue 15): what a network learns from phantom label maps.

The same small network is trained with the same budget and seed, with the default generator
(synthetic images drawn from label maps, ``source: synth``), three times:

* ``phantoms``: on phantom GENERATION label maps only (a cohort written by ``fetalseg phantom``);
* ``atlas``: on the 12 training label maps of the shared spina bifida atlas only (the three held-out
  time points excluded);
* ``both``: on both datasets, equal weight;

and each run's best checkpoint (by validation Dice on the held-out atlas label maps) is exported and
evaluated on the **real T2w images** of the three held-out atlas time points (sub-sb23pre, sub-sb28op,
sub-sb33op) with ``fetalseg.segment`` (no test-time augmentation) and the FeTA Dice per label.
Goal: ``phantoms`` within 0.05 mean Dice of ``atlas``, and ``both`` at least as good as ``atlas``.

Everything is written under ``--out`` (configs, the phantom cohort ``data/phantoms``, run folders
``runs/NAME``, exported models, ``transfer.md``); an existing run folder is resumed, so the script can be
stopped and restarted.
From a fresh clone (the shared data in ``../shared``)::

    python benchmarks/bench_phantom_transfer.py --out ../runs/transfer [--steps 1500] [--runs atlas,phantoms,both]

Two 1500-step runs at 1.2 mm take hours on 2 CPU cores. ``--steps 4 --quick`` is a smoke test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ATLAS = (HERE.parent.parent / "shared" / "data" / "sb-atlas").resolve()
HELDOUT = ["sub-sb23pre", "sub-sb28op", "sub-sb33op"]
NAMES = ("eCSF", "cGM", "WM", "vent", "cereb", "dGM", "bstem")
PHANTOM_ARGS = ["--n", "24", "--ga", "20:38", "--pathology", "normal,normal,vm,acc,micro", "--voxel", "0.8",
                "--seed", "11"]
NETWORK = {"levels": 4, "base_features": 8, "max_features": 64, "deep_supervision": 2}


def _fetalseg(*args: str) -> None:
    exe = Path(sys.executable).with_name("fetalseg")
    cmd = [str(exe) if exe.exists() else "fetalseg", *args]
    print("+ fetalseg", " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


def atlas_dataset(**extra) -> dict:
    """The shared atlas's training label maps (the held-out time points excluded), with ``extra`` keys."""
    return {"name": "sb-atlas", "paths": [str(ATLAS)], "labels_key": "desc-withcc_dseg", "convention": "withcc",
            "exclude": list(HELDOUT), **extra}


def datasets(name: str, phantoms: Path) -> list[dict]:
    """The training datasets of a run (absolute paths)."""
    atlas = atlas_dataset()
    ph = {"name": "phantoms", "paths": [str(phantoms)], "labels_key": "desc-generation_dseg",
          "convention": "generation"}
    return {"atlas": [atlas], "phantoms": [ph], "both": [atlas, ph]}[name]


def run_config(name: str, data: list[dict], args, **extra) -> dict:
    """A benchmark run's training config: the small network, ``args``' budget, grid, patch and seed, validation
    on the held-out atlas time points; ``extra`` keys (``source``, ``synth``, ...) override or add."""
    return {"name": name, "seed": args.seed, "steps": args.steps, "batch_size": 1,
            "patch_size": [args.patch] * 3, "resolution_mm": args.resolution, "network": dict(NETWORK),
            "source": "synth", "datasets": data,
            "validation": {"paths": [str(ATLAS)], "include": list(HELDOUT), "every": max(1, args.steps // 10)},
            "optim": {"name": "adamw", "lr": 0.002}, "checkpoint_every": max(1, args.steps // 20),
            "threads": args.threads, **extra}


def config(name: str, phantoms: Path, args) -> dict:
    """Training config of one run: same network, budget, seed and generator for every run."""
    synth = {} if args.skull_strip is None else {"p_skull_strip": args.skull_strip}
    return run_config(f"transfer-{name}", datasets(name, phantoms), args, synth=synth)


def run(name: str, cfg_dict: dict, args) -> Path:
    """Train (or resume) one run of config ``cfg_dict`` under ``args.out`` and export its best checkpoint;
    returns the model path."""
    import yaml

    out = args.out / "runs" / name
    cfg = args.out / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
    done = out / "summary.json"
    if not done.exists():
        _fetalseg("train", str(cfg), "-o", str(out), "--no-progress", *(["--resume"] if out.exists() else []))
    model = args.out / f"{name}.safetensors"
    if not model.exists():
        _fetalseg("export", str(out), "-o", str(model))
    return model


def score(model: Path, cases) -> dict[str, np.ndarray]:
    """Dice per held-out case and label 1-7 (rows: cases) of ``model`` on the real T2w images."""
    import fetalseg
    from fetalseg.metrics import evaluate_case

    out = {}
    for sid, img, ref in cases:
        # the images are upright: score what the network learnt, not the pose search
        seg = fetalseg.segment(img, model=str(model), tta=False, pose=False)
        rows = {r["label"]: r for r in evaluate_case(np.asarray(seg.data), ref, img.spacing)}
        out[sid] = np.array([rows[k]["dice"] for k in range(1, 8)])
    return out


def held_out_cases():
    from fetalseg.datasets import discover
    from fetalseg.io import load_image
    from fetalseg.labels import FETA

    subs = {s.id: s for s in discover(ATLAS, require="both")}
    return [(i, load_image(subs[i].t2w), load_image(subs[i].dseg, labels=FETA).data) for i in HELDOUT]


def n_training_maps() -> int:
    """How many atlas label maps the atlas runs train on (all with a T2w and labels, less the held-out)."""
    from fetalseg.datasets import discover

    return sum(s.id not in HELDOUT for s in discover(ATLAS, require="both"))


def table(results: dict[str, dict[str, np.ndarray]]) -> str:
    """Markdown: one row per run, Dice per label (mean over the held-out cases) and the mean."""
    lines = ["| training label maps | " + " | ".join(NAMES) + " | mean |", "| --- |" + " --- |" * (len(NAMES) + 1)]
    for name, per_case in results.items():
        d = np.mean(np.stack(list(per_case.values())), axis=0)
        lines.append(f"| {name} | " + " | ".join(f"{x:.3f}" for x in d) + f" | **{d.mean():.3f}** |")
    return "\n".join(lines)


def add_run_args(ap) -> None:
    """The training-run options the atlas benchmarks share: grid, seed and threads."""
    ap.add_argument("--resolution", type=float, default=1.2, help="training grid (mm)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)


def require_atlas() -> None:
    """Exit with a one-line message when the shared atlas is not beside the clone."""
    if not (ATLAS / "participants.tsv").exists():
        sys.exit(f"{ATLAS}: the shared atlas is needed")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE.parent.parent / "runs" / "phantom-transfer")
    ap.add_argument("--runs", default="phantoms,atlas,both")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--patch", type=int, default=80, help="patch side (voxels, a multiple of 8)")
    add_run_args(ap)
    ap.add_argument("--pathology", default=PHANTOM_ARGS[5],
                    help="the phantom cohort's pathology cycle (fetalseg phantom --pathology)")
    ap.add_argument("--skull-strip", type=float, default=None,
                    help="the generator's p_skull_strip (default: the generator's own): how often a sample shows the "
                         "brain alone, as the skull-stripped atlas images do, rather than the whole head")
    ap.add_argument("--quick", action="store_true", help="smoke test: 4 phantoms, 3.2 mm, 32^3, one held-out case")
    args = ap.parse_args(argv)
    require_atlas()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    phantom_args = list(PHANTOM_ARGS)
    phantom_args[5] = args.pathology
    if args.quick:
        args.resolution, args.patch = 3.2, 32
        phantom_args[1], phantom_args[7] = "4", "1.6"
    phantoms = args.out / "data" / "phantoms"
    if not (phantoms / "participants.tsv").exists():
        _fetalseg("phantom", "-o", str(phantoms), *phantom_args)
    cases = held_out_cases()[:1 if args.quick else None]
    results = {}
    for name in args.runs.split(","):
        results[name] = score(run(name, config(name, phantoms, args), args), cases)
    strip = "" if args.skull_strip is None else f", p_skull_strip {args.skull_strip:g}"
    text = (f"phantoms: {args.pathology}{strip}; {args.steps} steps at {args.resolution:g} mm, "
            f"{args.patch}^3 patches, network {json.dumps(NETWORK)}, seed {args.seed}; "
            f"Dice on the real T2w of {', '.join(c[0] for c in cases)} (no TTA, no pose step)\n\n"
            + table(results) + "\n")
    (args.out / "transfer.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
