"""Shape statistics of phantoms against the 15 shared spina bifida atlas label maps (issue 15).

The atlases are a reference, not a template: every one of them is spina bifida (Chiari II), so the
phantoms are compared twice, as neurotypical (``normal``) and as spina bifida (``sb``) at the
atlases' gestational ages. A difference that the ``sb`` phantoms share with the atlases is what spina
bifida explains in the phantom model; a difference that remains between the ``sb`` phantoms and the
atlases is a shape error of the phantom.

Statistics per label map (FeTA labels, 0.8 mm like the atlases):

- the 21 shape features of the generator's sampler (:func:`fetalseg.synth.sampler.shape_features`):
  whole-brain volume, area, area/volume; per label 2-7 volume fraction, area fraction, area/volume;
- label volumes (cm^3, labels 1-7);
- cortical thickness ``2 V / A`` of the grey matter (mm; a sheet of thickness t has A = 2 V / t).

Each atlas statistic is fitted by a straight line in GA on a log scale (exponential growth; 15 points,
21-34 w); every phantom value is compared with the fit at its GA as a ratio. The table gives the median ratio of the ``normal`` and
``sb`` phantoms and the atlases' own residual spread (relative SD around the fit); ``flag`` marks
statistics where the ``sb`` phantoms are off by more than 25 % (``**``) or 10 % (``*``) and more
than two residual SDs: differences beyond what spina bifida explains.

Run: ``python benchmarks/bench_phantom_shape.py [--atlas ../shared/data/sb-atlas] [--seeds 1]``
(about 30 phantoms at 0.8 mm: one to two minutes on 2 busy cores). ``--csv FILE`` writes the table.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from fetalseg.io import load_labels  # noqa: E402
from fetalseg.phantom import make_subject  # noqa: E402
from fetalseg.synth.sampler import FEATURE_NAMES, shape_features  # noqa: E402

VOLUME_NAMES = [f"volume_cm3_{k}" for k in range(1, 8)]
NAMES = list(FEATURE_NAMES) + VOLUME_NAMES + ["cortical_thickness_mm"]


def statistics(feta: np.ndarray, spacing) -> np.ndarray:
    """All statistics of one FeTA label map (see the module docstring), in the order of :data:`NAMES`."""
    f = shape_features(feta, spacing, convention="feta")
    vox = float(np.prod(spacing)) / 1000.0
    vols = np.bincount(feta.ravel().astype(np.intp), minlength=8)[1:8] * vox
    gm_apv = f[FEATURE_NAMES.index("area_per_volume_2")]
    thick = 2.0 / gm_apv if gm_apv > 0 else float("nan")
    return np.concatenate([f, vols, [thick]])


def atlas_table(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """GA (weeks) and statistics (n, len(NAMES)) of every atlas subject under ``root``."""
    rows = [r.split("\t") for r in (root / "participants.tsv").read_text().splitlines()]
    head = rows[0]
    ga_col, id_col = head.index("Gestational age"), head.index("participant_id")
    gas, stats = [], []
    for r in rows[1:]:
        sid = r[id_col]
        img = load_labels(root / sid / "anat" / f"{sid}_rec-atlas_dseg.nii.gz")
        gas.append(float(r[ga_col]))
        stats.append(statistics(np.asarray(img.data), img.spacing))
    return np.array(gas), np.array(stats)


def phantom_table(gas, pathology: str, seeds: int, voxel: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """GA and statistics of phantoms at every GA of ``gas`` for ``seeds`` seeds (FeTA labels)."""
    out_ga, stats = [], []
    for ga in gas:
        for seed in range(seeds):
            s = make_subject(float(np.clip(ga, 20.0, 38.0)), pathology, voxel=voxel, seed=seed)
            out_ga.append(ga)
            stats.append(statistics(s.labels.data, s.labels.spacing))
    return np.array(out_ga), np.array(stats)


def compare(atlas_ga, atlas, groups: dict) -> list[dict]:
    """Per statistic: the atlas fit's residual relative SD and each group's median ratio to the fit."""
    rows = []
    A = np.stack([atlas_ga, np.ones_like(atlas_ga)], axis=1)
    for j, name in enumerate(NAMES):
        logs = np.log(np.maximum(atlas[:, j], 1e-12))
        coef, *_ = np.linalg.lstsq(A, logs, rcond=None)
        rel_sd = float(np.exp(np.std(logs - A @ coef, ddof=2)) - 1.0)
        row = {"statistic": name, "atlas_mean": float(atlas[:, j].mean()), "atlas_rel_sd": rel_sd}
        for g, (ga, vals) in groups.items():
            ratio = vals[:, j] / np.exp(coef[0] * ga + coef[1])
            row[f"{g}_ratio"] = float(np.median(ratio))
        sb = row.get("sb_ratio", float("nan"))
        off = abs(sb - 1.0)
        row["flag"] = "**" if off > 0.25 and off > 2 * rel_sd else ("*" if off > 0.10 and off > 2 * rel_sd else "")
        rows.append(row)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atlas", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sb-atlas")
    ap.add_argument("--seeds", type=int, default=1, help="phantoms per atlas GA and pathology")
    ap.add_argument("--gas", type=str, default="", help="comma-separated GA subset of the atlases (quick runs)")
    ap.add_argument("--csv", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    if not (args.atlas / "participants.tsv").exists():
        sys.exit(f"{args.atlas}: no participants.tsv (the shared atlas is needed)")
    atlas_ga, atlas = atlas_table(args.atlas)
    gas = sorted(set(atlas_ga.tolist()))
    if args.gas:
        gas = [float(g) for g in args.gas.split(",")]
    groups = {p: phantom_table(gas, p, args.seeds) for p in ("normal", "sb")}
    rows = compare(atlas_ga, atlas, groups)
    print(f"{len(atlas)} atlas maps (GA {atlas_ga.min():g}-{atlas_ga.max():g}), "
          f"{len(groups['normal'][0])} normal and {len(groups['sb'][0])} sb phantoms at 0.8 mm")
    print(f"{'statistic':<30}{'atlas mean':>12}{'atlas sd%':>10}{'normal x':>10}{'sb x':>8}  flag")
    for r in rows:
        print(f"{r['statistic']:<30}{r['atlas_mean']:>12.4g}{100 * r['atlas_rel_sd']:>10.1f}"
              f"{r['normal_ratio']:>10.2f}{r['sb_ratio']:>8.2f}  {r['flag']}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
