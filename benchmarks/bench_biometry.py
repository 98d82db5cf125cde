"""Benchmark: biometry (LCC HV bBIP sBIP TCD) against phantom truth, the GA baseline, atlases, rotations.

Held-out phantom cohort (seeds 1000+, never used by tests nor to fit the fusion models,
which come from seeds 2000+ and 2100+; GA 20-38, all five pathologies,
sites siteA-siteE, 0.8 mm): MAPE (FeTA 2024: absolute percentage error per case and measure,
averaged) of the geometric measurement from the true FeTA labels, from the generation labels
(callosum and skull labelled), and from ``fetalseg.segment`` with the shipped model; against the
GA baseline on the same cohort (the packaged norms' mean, and a leave-one-out linear regression
on the cohort's truth); fused estimates with the shipped fusion models (fitted by ``fit_fusion.py`` on seeds 2000+ and
2100+); this cohort's per-measure error SD;
mid-sagittal plane and AP-axis errors on rotated copies (up to 30 degrees about each axis);
the spread of measurements between rotated and upright copies; seconds per subject.
Shared sb-atlas volumes (when ../shared is present): each measure with its z-score, from the
withcc labels (callosum label) and the FeTA labels, and rotated copies.

Run: ``python benchmarks/bench_biometry.py [--n 20] [--no-segment] [--atlas-rotations 3] [--chart docs/x.png]
[--seed-base 1000] [--skip-atlas] [--skip-phantoms] [--dump rows.json] [--rescore rows.json]``; ``--dump`` keeps
each phantom's truth and measurements (true labels, segmented) for fitting the fusion models offline
(``fit_fusion.py``); ``--rescore`` prints the MAPE tables of such a file with the current fusion models.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from fetalseg.biometry.baseline import default_baseline, fit_baseline  # noqa: E402
from fetalseg.biometry.context import normative  # noqa: E402
from fetalseg.biometry.evaluate import mape  # noqa: E402
from fetalseg.biometry.fusion import FUSION, fuse  # noqa: E402
from fetalseg.biometry.measure import MEASURES, measure_biometry  # noqa: E402
from fetalseg.pose import rotate_image  # noqa: E402

PATHOLOGIES = ("normal", "vm", "acc", "sb", "micro")
SITES = ("siteA", "siteB", "siteC", "siteD", "siteE")
ATLAS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sb-atlas"


def _angle(a, b) -> float:
    return float(np.degrees(np.arccos(min(1.0, abs(float(np.dot(a, b)))))))


def _cohort_row(i: int, ga: float, segment: bool, rng, seed_base: int) -> dict:
    from fetalseg.phantom import make_subject

    s = make_subject(ga, PATHOLOGIES[i % 5], site=SITES[i % 5], seed=seed_base + i)
    row = {"id": f"sim-{i:03d}", "ga": ga, "pathology": PATHOLOGIES[i % 5], "truth": s.biometry}
    t, c = time.perf_counter(), time.process_time()
    bio = measure_biometry(s.labels.data, s.labels.affine)
    row["t_measure"], row["cpu_measure"] = time.perf_counter() - t, time.process_time() - c
    row["labels"] = bio.values
    row["plane_err"] = _angle(bio.pose.normal, np.array([1.0, 0, 0]))
    row["ap_err"] = _angle(bio.pose.rotation[:, 1], np.array([0, 1.0, 0]))
    row["generation"] = measure_biometry(s.generation.data, s.generation.affine, convention="generation").values
    angles = rng.uniform(-30, 30, size=3)
    rot, r, _ = rotate_image(s.labels, angles, labels=True)
    rb = measure_biometry(rot.data, rot.affine)
    row["rot_angles"] = angles
    row["rot_plane_err"] = _angle(rb.pose.normal, r[:, 0])
    row["rot_ap_err"] = _angle(rb.pose.rotation[:, 1], r[:, 1])
    row["rot_diff"] = {m: rb.values[m] - bio.values[m] for m in MEASURES}
    if segment:
        import fetalseg

        t = time.perf_counter()
        seg = fetalseg.segment(s.image)
        row["t_segment"] = time.perf_counter() - t
        try:
            row["segmented"] = measure_biometry(seg.data, seg.affine).values
        except ValueError as exc:
            row["segmented"] = {m: float("nan") for m in MEASURES}
            row["segment_failure"] = str(exc)
    return row


def _table(rows, key) -> dict[str, dict[str, float]]:
    return {r["id"]: r[key] for r in rows}


def _loo_linear(rows) -> dict[str, dict[str, float]]:
    ga = np.array([r["ga"] for r in rows])
    out = {r["id"]: {} for r in rows}
    for m in MEASURES:
        v = np.array([r["truth"][m] for r in rows])
        for i, r in enumerate(rows):
            keep = np.arange(len(rows)) != i
            b = fit_baseline(ga[keep], {m: v[keep]}, 1)
            out[r["id"]][m] = b.predict(m, r["ga"])
    return out


def _fused(rows, key, models) -> dict[str, dict[str, float]]:
    base = default_baseline()
    return {r["id"]: {m: fuse(r[key][m], models[m], base.predict(m, r["ga"]), base.spread(m, r["ga"]))[0]
                      for m in MEASURES} for r in rows}


def _err_sd(rows, key) -> dict[str, float]:
    out = {}
    for m in MEASURES:
        d = np.array([r[key][m] - r["truth"][m] for r in rows])
        d = d[np.isfinite(d)]
        out[m] = float(np.sqrt(np.mean(d**2))) if d.size else float("nan")
    return out


def _print_mape(name, res) -> None:
    cells = " | ".join(f"{res['per_measure'][m]:.2f}" for m in MEASURES)
    miss = sum(res["missing"].values())
    print(f"| {name} | {cells} | **{res['overall']:.2f}** | {miss} |")


def _cohort(n: int, segment: bool, seed_base: int, dump: str | None) -> list[dict]:
    rng = np.random.default_rng(seed_base)
    gas = np.round(np.linspace(20, 38, n) + rng.uniform(-0.4, 0.4, n), 1).clip(20, 38)
    rows = []
    for i, ga in enumerate(gas):
        rows.append(_cohort_row(i, float(ga), segment, rng, seed_base))
        print(f"  {rows[-1]['id']} {rows[-1]['pathology']:6s} GA {ga:4.1f}: measure {rows[-1]['t_measure']:.1f} s"
              + (f", segment {rows[-1]['t_segment']:.1f} s" if segment else ""), flush=True)
    if dump:
        keep = ("id", "ga", "pathology", "truth", "labels", "generation", "segmented")
        Path(dump).write_text(json.dumps([{k: r[k] for k in keep if k in r} for r in rows], indent=1))
    return rows


def phantom_section(rows: list[dict]) -> None:
    """MAPE tables of a cohort's rows; the plane, rotation and timing lines when the rows have them (not
    when re-scored from a ``--dump`` file)."""
    n, segment = len(rows), all("segmented" in r for r in rows)
    truth = _table(rows, "truth")
    base = default_baseline()
    norms_pred = {r["id"]: {m: base.predict(m, r["ga"]) for m in MEASURES} for r in rows}
    print(f"\nPhantom cohort: {n} held-out subjects, MAPE % (FeTA 2024: per case and measure, then averaged; "
          "truth NaN (callosal agenesis) left out)\n")
    print("| estimate | " + " | ".join(MEASURES) + " | overall | missing |")
    print("| --- |" + " --- |" * (len(MEASURES) + 2))
    _print_mape("geometry, true FeTA labels", mape(_table(rows, "labels"), truth))
    _print_mape("geometry, generation labels (callosum, skull)", mape(_table(rows, "generation"), truth))
    if segment:
        _print_mape("geometry, `fetalseg.segment` (shipped model)", mape(_table(rows, "segmented"), truth))
    _print_mape("GA baseline: packaged norms' mean", mape(norms_pred, truth))
    _print_mape("GA baseline: linear fit on the cohort (leave-one-out)", mape(_loo_linear(rows), truth))
    sd_lab = _err_sd(rows, "labels")
    shipped = FUSION
    _print_mape("fused (true FeTA labels + norms prior)", mape(_fused(rows, "labels", shipped["labels"]), truth))
    if segment:
        sd_seg = _err_sd(rows, "segmented")
        _print_mape("fused (segmented + norms prior)", mape(_fused(rows, "segmented", shipped["segmented"]), truth))
    print("\nImage error SD (RMS of measured - truth, mm), true FeTA labels: "
          + ", ".join(f"{m} {v:.2f}" for m, v in sd_lab.items()))
    if segment:
        print("Image error SD (mm), segmented: " + ", ".join(f"{m} {v:.2f}" for m, v in sd_seg.items()))
    acc = [r for r in rows if r["pathology"] == "acc"]
    if "plane_err" not in rows[0]:
        return
    print(f"Callosal agenesis: LCC NaN from FeTA labels in {sum(np.isnan(r['labels']['LCC']) for r in acc)}/{len(acc)}, "
          f"from generation labels in {sum(np.isnan(r['generation']['LCC']) for r in acc)}/{len(acc)}")
    pe = np.array([r["plane_err"] for r in rows])
    rpe, rap = np.array([r["rot_plane_err"] for r in rows]), np.array([r["rot_ap_err"] for r in rows])
    ape = np.array([r["ap_err"] for r in rows])
    diff = np.array([[abs(r["rot_diff"][m]) for m in MEASURES] for r in rows])
    print(f"Mid-sagittal plane error: upright median {np.median(pe):.2f}, max {pe.max():.2f} deg; rotated (up to 30 deg "
          f"per axis) median {np.median(rpe):.2f}, max {rpe.max():.2f} deg")
    print(f"AP axis error: upright median {np.median(ape):.2f}, max {ape.max():.2f} deg; rotated median "
          f"{np.median(rap):.2f}, max {rap.max():.2f} deg")
    print("Rotated minus upright, max |diff| mm: " + ", ".join(
        f"{m} {np.nanmax(diff[:, j]):.2f}" for j, m in enumerate(MEASURES)))
    t = np.array([r["t_measure"] for r in rows])
    cpu = np.array([r["cpu_measure"] for r in rows])
    print(f"Seconds per subject given a segmentation (pose + 5 measures): wall median {np.median(t):.1f}, max "
          f"{t.max():.1f}; process CPU median {np.median(cpu):.1f}, max {cpu.max():.1f} (load average "
          f"{os.getloadavg()[0]:.1f})")
    if segment:
        ts = np.array([r["t_segment"] for r in rows])
        print(f"Seconds per subject to segment (shipped model): median {np.median(ts):.1f}")


def atlas_section(rotations: int, chart: str | None) -> None:
    from fetalseg.datasets import discover
    from fetalseg.io import load_image
    from fetalseg.labels import FETA, WITHCC

    if not (ATLAS / "participants.tsv").exists():
        print(f"\nsb-atlas not found at {ATLAS}: atlas section skipped")
        return
    ds = discover(ATLAS)
    print("\nsb-atlas (spina bifida, population averages): mm (z-score), withcc labels; "
          "LCC from FeTA labels in the last column\n")
    print("| subject | GA | " + " | ".join(MEASURES) + " | LCC (FeTA) | s |")
    print("| --- | --- |" + " --- |" * (len(MEASURES) + 2))
    points = []
    for s in ds:
        lab = load_image(s.files["desc-withcc_dseg"], labels=WITHCC)
        t = time.perf_counter()
        bio = measure_biometry(lab.data, lab.affine, convention="withcc")
        dt = time.perf_counter() - t
        feta = measure_biometry(load_image(s.dseg, labels=FETA).data, lab.affine, pose=bio.pose)
        ctx = {m: normative(m, bio.values[m], s.ga) for m in MEASURES}
        cells = [f"{bio.values[m]:.1f} ({ctx[m]['z']:+.1f})" for m in MEASURES]
        print(f"| {s.id} | {s.ga:g} | " + " | ".join(cells) + f" | {feta.values['LCC']:.1f} | {dt:.1f} |")
        points.append({"id": s.id, "ga": s.ga, "values": bio.values, "flags": {m: ctx[m]["flag"] for m in MEASURES}})
    rng = np.random.default_rng(3)
    for s in list(ds)[:: max(1, len(ds) // max(rotations, 1))][:rotations]:
        lab = load_image(s.files["desc-withcc_dseg"], labels=WITHCC)
        up = measure_biometry(lab.data, lab.affine, convention="withcc")
        angles = rng.uniform(-30, 30, 3)
        rot, r, _ = rotate_image(lab, angles, labels=True)
        rb = measure_biometry(rot.data, rot.affine, convention="withcc")
        print(f"{s.id} rotated {np.round(angles, 1).tolist()} deg: plane {_angle(rb.pose.normal, r @ up.pose.normal):.2f}"
              f" deg from the rotated upright plane; |diff| mm " +
              ", ".join(f"{m} {abs(rb.values[m] - up.values[m]):.2f}" for m in MEASURES))
    if chart:
        from fetalseg.biometry.chart import growth_chart_png

        Path(chart).write_bytes(growth_chart_png(points, title="sb-atlas (spina bifida) on the norms"))
        print(f"chart: {chart}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="held-out phantom subjects")
    ap.add_argument("--no-segment", action="store_true", help="skip the fetalseg.segment path (slow on CPU)")
    ap.add_argument("--atlas-rotations", type=int, default=3, help="rotated atlas copies")
    ap.add_argument("--chart", default=None, help="write the atlas growth chart PNG here")
    ap.add_argument("--skip-phantoms", action="store_true")
    ap.add_argument("--skip-atlas", action="store_true")
    ap.add_argument("--seed-base", type=int, default=1000,
                    help="phantom seeds seed_base + i (1000: evaluation cohort; 2000 and 2100: the cohorts that "
                         "fitted fusion.FUSION, see fit_fusion.py)")
    ap.add_argument("--dump", default=None, help="write the phantom rows (truth, measurements) to this JSON file")
    ap.add_argument("--rescore", default=None,
                    help="print the MAPE tables of a --dump file with the current fusion models (no segmenting)")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    if args.rescore:
        phantom_section(json.loads(Path(args.rescore).read_text()))
    elif not args.skip_phantoms:
        phantom_section(_cohort(args.n, not args.no_segment, args.seed_base, args.dump))
    if not args.skip_atlas:
        atlas_section(args.atlas_rotations, args.chart)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
