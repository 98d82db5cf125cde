"""QC calibration benchmark (issue 11, item 9): does the QC score find the bad segmentations?

Segments a calibration set with known truth using ``fetalseg.segment``'s defaults (left-right TTA, DAE,
topological post-processing), and compares each case's QC signals with its true mean Dice over labels 1-7:

* the three held-out atlas images (``bench_model.HELDOUT``), unperturbed and under eight of the model
  benchmark's perturbations (contrast inverted, T1-like, bias field, Rician noise, 3 mm slices along z,
  rotations of 30 degrees about x and 90 degrees about y and z), and
* held-out phantoms (``bench_model.PHANTOMS``: every pathology, GA 21-37, seeds never used in training).

It fits the model's calibration (:func:`fetalseg.infer.qc_fit.fit_calibration`: predicted Dice from the QC
features, weights >= 0, cross-validated leaving one subject out) and prints, for the heuristic score (the
fallback without calibration) and the calibrated one, Spearman's correlation with the true Dice, the mean
absolute error of the predicted Dice, and how the review flag finds the cases below ``flag_below``.

Usage::

    python benchmarks/bench_qc.py [--model PATH] [--quick] [--write docs/qc.md] [--write-card]

``--write-card`` stores the calibration in the model's card (``<model>.json``, key ``qc_calibration``);
``--quick`` is a smoke test (one atlas image, two conditions, two phantoms).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import bench_model as bm  # noqa: E402  (the model benchmark's cases and perturbations)

MARGIN = 0.1  # review flag: predicted Dice this far below the model's median
CONDITIONS = ("inverted", "T1-like", "bias", "Rician noise", "3 mm slices z", "rot 30 x", "rot 90 y", "rot 90 z")


def calibration_cases(quick: bool):
    """(group, condition, image, reference) of the calibration set."""
    perturb = bm.perturbations(False)
    conds = CONDITIONS[:1] if quick else CONDITIONS
    for sid, img, ref in bm.atlas_cases(bm.HELDOUT[:1] if quick else bm.HELDOUT):
        yield sid, "none", img, ref
        for c in conds:
            x, r = perturb[c](np.asarray(img.data, dtype=np.float32), np.asarray(ref))
            yield sid, c, img.with_data(x), r
    for cid, img, ref in bm.phantom_cases(2 if quick else len(bm.PHANTOMS)):
        yield cid, "none", img, ref


def run_cases(model, quick: bool) -> list[dict]:
    import fetalseg
    from fetalseg.metrics import evaluate_case

    rows = []
    for group, cond, img, ref in calibration_cases(quick):
        out = fetalseg.segment(img, model=model, return_result=True)
        seg = out.labels
        res = {r["label"]: r for r in evaluate_case(np.asarray(seg.data), np.asarray(ref), img.spacing)}
        rows.append({"group": group, "condition": cond, "dice": bm.mean_dice(res), "qc": out.qc})
        q = out.qc
        print(f"{group:28s} {cond:14s} Dice {rows[-1]['dice']:.3f}  agreement {q['agreement']}  "
              f"confidence {q['confidence']}  topo {q['topology_errors']}  relabelled {q['relabelled_fraction']}",
              flush=True)
    return rows


def summary(rows: list[dict], cal, predicted: np.ndarray) -> str:
    from scipy.stats import spearmanr

    from fetalseg.infer.qc import QC_THRESHOLD, qc_score
    from fetalseg.infer.qc_fit import flag_agreement

    dice = np.array([r["dice"] for r in rows])
    heur = np.array([qc_score(r["qc"]["agreement"] if r["qc"]["agreement"] is not None else math.nan,
                              r["qc"]["relabelled_fraction"], r["qc"]["topology_errors"]) for r in rows])
    f_cal = flag_agreement(predicted, dice, cal.flag_below)
    n_heur = int(np.sum(heur > QC_THRESHOLD))
    hits_heur = int(np.sum((heur > QC_THRESHOLD) & (dice < cal.flag_below)))
    lines = [f"**QC calibration** ({len(rows)} segmentations of {len(set(r['group'] for r in rows))} subjects; "
             f"true mean Dice median {np.median(dice):.3f}, range {dice.min():.3f}-{dice.max():.3f}; "
             f"review flag below a predicted Dice of {cal.flag_below:.3f} = median - {MARGIN:g})", "",
             "| score | Spearman with true Dice | MAE of predicted Dice | flagged | true failures found |",
             "| --- | --- | --- | --- | --- |",
             f"| heuristic (no calibration; flag > {QC_THRESHOLD:g}) | {spearmanr(-heur, dice).statistic:.2f} | n/a | "
             f"{n_heur}/{len(rows)} | {hits_heur}/{f_cal['failures']} |",
             f"| calibrated (leave-one-subject-out) | {spearmanr(predicted, dice).statistic:.2f} | {cal.cv_mae:.3f} | "
             f"{f_cal['flagged']}/{len(rows)} | {f_cal['hits']}/{f_cal['failures']} |", "",
             "Calibration (fitted on all cases): predicted Dice = 1 - (" + f"{cal.intercept:.3f} + "
             + " + ".join(f"{w:.3f} x {k}" for k, w in cal.weights.items()) + ")."]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (default: the shipped model)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write", type=Path, default=None, help="write the Markdown summary to this file")
    ap.add_argument("--write-card", action="store_true", help="store the calibration in the model card")
    args = ap.parse_args(argv)
    import torch

    from fetalseg.infer.qc_fit import fit_calibration
    from fetalseg.io import write_text

    torch.set_num_threads(args.threads)
    if not (bm.ATLAS / "participants.tsv").is_file():
        sys.exit(f"needs the shared atlas at {bm.ATLAS}")
    rows = run_cases(args.model, args.quick)
    cal, predicted = fit_calibration([r["qc"] for r in rows], [r["dice"] for r in rows], [r["group"] for r in rows],
                                     margin=MARGIN, source=f"benchmarks/bench_qc.py: {len(rows)} segmentations (held-out atlas "
                                            "images and perturbations, held-out phantoms)")
    text = summary(rows, cal, predicted) + "\n"
    print(text)
    if args.write:
        write_text(args.write, text, overwrite=True)
    if args.write_card:
        from fetalseg.infer.models import resolve_model

        card = resolve_model(args.model).with_suffix(".json")
        data = json.loads(card.read_text())
        data["qc_calibration"] = cal.to_dict()
        write_text(card, json.dumps(data, indent=2) + "\n", overwrite=True)
        print(f"calibration written to {card}")


if __name__ == "__main__":
    main()
