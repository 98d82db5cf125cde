"""Pilot runs (issue 11, item 1): candidate networks ranked by held-out Dice at an equal CPU budget.

``bench_train.py --candidates`` times one training step of each candidate network; a faster step is only worth
having if the network learns as much per CPU-hour. Here each candidate trains from scratch for the same wall-clock
budget (``--minutes``): its step time is probed first (fp32, or bf16 where the CPU has native bf16, as
``bf16: auto`` trains; plus one synthesis step), the number of steps is the budget divided by that time, and the
run's best checkpoint (validation on the held-out atlas label maps) is scored with the FeTA Dice on the real T2w
images of the three held-out atlas time points (no TTA, no pose step). Every candidate sees the same label maps
(the 12 training maps of the shared atlas), generator, grid (1.2 mm, where a 96^3 patch holds a whole brain, the
campaign's leg-3 setting), learning rate and seed.

Everything is written under ``--out`` (configs, run folders, exported models, ``pilots.md``); an existing run
folder is resumed, with its step count kept. From a fresh clone (the shared data in ``../shared``)::

    python benchmarks/bench_pilots.py --out ../runs/pilots [--minutes 30] [--candidates "base 8, 5 levels,..."]

``--quick`` is a smoke test (3.2 mm, 64^3 patches, a few steps, one held-out case). At 32^3 the 5-level networks'
deepest level is 2^3 voxels, and the default network's loss diverged there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_phantom_transfer import (NAMES, add_run_args, atlas_dataset, held_out_cases,  # noqa: E402
                                    n_training_maps, require_atlas, run, run_config, score)
from bench_train import CANDIDATES, _run_worker, synth_time  # noqa: E402

DEFAULT_PILOTS = ("base 8, 5 levels", "base 16, 5 levels (default)")


def probe(args, network: dict, patch: int) -> float:
    """Seconds of one training step of ``network`` at ``patch``^3 (network step, as ``bf16: auto`` trains, plus
    one synthesis), measured in a fresh process."""
    from fetalseg.train.loop import cpu_has_bf16

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    worker_args = argparse.Namespace(preset="default", steps=2, threads=args.threads)
    r = _run_worker(worker_args, env, "cpu", patch, cpu_has_bf16(), network)
    if isinstance(r, str):
        raise RuntimeError(f"step-time probe failed: {r}")
    return float(r["step_s"]) + (0.0 if args.quick else synth_time(patch) or 0.0)


def pilot_config(label: str, network: dict, steps: int, args) -> dict:
    """Training config of one pilot: only the network and the step count differ between pilots."""
    cfg = run_config(f"pilot-{_slug(label)}", [atlas_dataset()], args, steps=steps,
                     network={"preset": "default", **network}, bf16="auto")
    cfg["validation"]["every"] = max(1, steps // 6)
    cfg["checkpoint_every"] = max(1, steps // 20)
    return cfg


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-").replace("--", "-")


def steps_of(run_dir: Path, budget_s: float, step_s: float) -> int:
    """The pilot's step count: kept from an existing run (resume), else the budget over the probed step time."""
    cfg = run_dir.parent.parent / f"{run_dir.name}.yaml"
    if run_dir.exists() and cfg.exists():
        import yaml

        return int(yaml.safe_load(cfg.read_text())["steps"])
    return max(1, int(budget_s // step_s))


def table(rows: list[dict]) -> str:
    """Markdown: one row per pilot."""
    lines = ["| candidate | step s (probe) | steps | wall min | " + " | ".join(NAMES) + " | mean |",
             "| --- |" + " --- |" * (len(NAMES) + 4)]
    for r in rows:
        lines.append(f"| {r['label']} | {r['step_s']:.2f} | {r['steps']} | {r['wall_min']:.1f} | "
                     + " | ".join(f"{x:.3f}" for x in r["dice"]) + f" | **{np.mean(r['dice']):.3f}** |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE.parent.parent / "runs" / "pilots")
    ap.add_argument("--candidates", default=";".join(DEFAULT_PILOTS),
                    help="';'-separated labels of bench_train.py's candidate table (plain memory and norm only)")
    ap.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget of each pilot")
    add_run_args(ap)
    ap.add_argument("--quick", action="store_true", help="smoke test: 3.2 mm, 64^3, a few steps, one held-out case")
    args = ap.parse_args(argv)
    require_atlas()
    known = {label: (net, patch) for label, net, patch, variant in CANDIDATES if not variant}
    chosen = [c.strip() for c in args.candidates.split(";") if c.strip()]
    if not chosen or any(c not in known for c in chosen):
        sys.exit(f"--candidates: choose from {'; '.join(known)}, got {args.candidates!r}")
    if not args.minutes > 0:
        sys.exit(f"--minutes must be positive, got {args.minutes}")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    args.steps = 1  # run_config's budget field; each pilot passes its own step count
    if args.quick:
        args.resolution, args.minutes = 3.2, min(args.minutes, 0.2)
    cases = held_out_cases()[:1 if args.quick else None]
    rows = []
    for label in chosen:
        network, patch = known[label]
        args.patch = 64 if args.quick else patch
        step_s = probe(args, network, args.patch)
        run_dir = args.out / "runs" / f"pilot-{_slug(label)}"
        steps = steps_of(run_dir, args.minutes * 60, step_s)
        model = run(run_dir.name, pilot_config(label, network, steps, args), args)
        summary = json.loads((run_dir / "summary.json").read_text())
        per_case = score(model, cases)
        rows.append({"label": label, "step_s": step_s, "steps": steps, "wall_min": summary["elapsed_s"] / 60,
                     "dice": np.mean(np.stack(list(per_case.values())), axis=0)})
        print(f"  {label}: {steps} steps, mean Dice {np.mean(rows[-1]['dice']):.3f}", flush=True)
    text = (f"Pilots of {args.minutes:g} minutes each from scratch at {args.resolution:g} mm, seed {args.seed}, "
            f"{args.threads} threads; the {n_training_maps()} training atlas maps; Dice on the real T2w of "
            f"{', '.join(c[0] for c in cases)} (best checkpoint, no TTA, no pose step)\n\n" + table(rows) + "\n")
    (args.out / "pilots.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
