"""``fetalseg biometry``: output formats (FeTA TSV, landmark NIfTI, JSON, chart), evaluate,
fit-baseline, and bad input (missing GA, GA outside 18-40 weeks, segmentation on another grid)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from badinput import assert_one_line_error

from fetalseg import norms
from fetalseg.biometry.formats import LANDMARK_VALUES
from fetalseg.biometry.measure import MEASURES


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from fetalseg.phantom import make_cohort

    root = tmp_path_factory.mktemp("bio") / "ds"
    make_cohort(root, n=2, ga_range=(26.0, 30.0), pathologies=("normal", "vm"), sites=1, voxel=1.5, seed=3)
    return root


@pytest.fixture(scope="module")
def measured(cohort, tmp_path_factory):
    from fetalseg.cli.main import run

    out = tmp_path_factory.mktemp("bio-out") / "out"
    with pytest.raises(SystemExit) as exc:
        run(["biometry", str(cohort), "--seg", str(cohort), "-o", str(out)])
    assert exc.value.code in (0, None)
    return out


def _tsv(path):
    lines = path.read_text().splitlines()
    return [ln.split("\t") for ln in lines]


@pytest.mark.slow
def test_outputs_and_formats(cohort, measured):
    ids = sorted(p.name for p in cohort.glob("sub-*"))
    rows = _tsv(measured / "biometry.tsv")
    assert rows[0] == ["participant_id", *MEASURES] and [r[0] for r in rows[1:]] == ids
    for sid in ids:
        one = _tsv(measured / f"{sid}_biometry.tsv")
        assert one[0] == list(MEASURES) and len(one) == 2
        rec = json.loads((measured / f"{sid}_biometry.json").read_text())
        t2w = nib.load(next((cohort / sid / "anat").glob("*_T2w.nii.gz")))
        marks = nib.load(measured / f"{sid}_landmarks.nii.gz")
        assert marks.shape == t2w.shape and np.allclose(marks.affine, t2w.affine)
        data = np.asarray(marks.dataobj)
        assert data.dtype == np.uint8 and set(np.unique(data)) <= {0, 1, 2, 3, 4, 5}
        inv = np.linalg.inv(t2w.affine)
        ga = rec["ga_weeks"]
        for m in MEASURES:
            d = rec["measures"][m]
            pts = np.asarray(d["landmarks_world_mm"])
            assert np.linalg.norm(pts[1] - pts[0]) == pytest.approx(d["image_mm"], abs=2e-3)
            vox = pts @ inv[:3, :3].T + inv[:3, 3]
            have = np.argwhere(data == LANDMARK_VALUES[m])
            assert 1 <= len(have) <= 2
            for v in vox:  # the marked voxel is the nearest one (ties at half voxels either way)
                assert np.abs(have - v).max(axis=1).min() <= 0.51
            assert d["z"] == pytest.approx(norms.zscore(m, d["image_mm"], ga), abs=1e-3)
            assert d["centile"] == pytest.approx(norms.centile(m, d["image_mm"], ga), abs=0.05)  # image_mm has 3 decimals
            assert d["fused_source"] in ("image", "fused")
        assert int(np.count_nonzero(data)) <= 10
    assert (measured / "biometry-chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_evaluate_against_truth(cli, cohort, measured, tmp_path):
    out = tmp_path / "mape.json"
    code, stdout, err = cli("biometry", "evaluate", measured / "biometry.tsv", cohort / "biometry.tsv", "-o", out)
    assert code == 0, err
    res = json.loads(out.read_text())
    pred, truth = _tsv(measured / "biometry.tsv"), _tsv(cohort / "biometry.tsv")
    tcol = {r[0]: r for r in truth[1:]}
    apes = []
    for r in pred[1:]:
        for j in range(1, 6):
            g = tcol[r[0]][truth[0].index(pred[0][j])]
            if g != "n/a" and r[j] != "n/a":
                apes.append(100 * abs(float(r[j]) - float(g)) / float(g))
    assert res["overall"] == pytest.approx(np.mean(apes), abs=1e-6)
    assert "overall MAPE" in stdout


def test_fit_baseline_command(cli, tmp_path):
    ga = np.round(np.linspace(20, 38, 12), 2)
    lines = ["participant_id\tGestational age\t" + "\t".join(MEASURES)]
    for i, g in enumerate(ga):
        lines.append(f"sub-{i:02d}\t{g:.2f}\t" + "\t".join(f"{(k + 1) * g - 3 * k:.4f}" for k in range(5)))
    table = tmp_path / "table.tsv"
    table.write_text("\n".join(lines) + "\n")
    out = tmp_path / "baseline.json"
    code, stdout, err = cli("biometry", "fit-baseline", table, "-o", out)
    assert code == 0, err
    data = json.loads(out.read_text())
    for k, m in enumerate(MEASURES):
        assert data["mean_coefficients"][m] == pytest.approx([k + 1, -3 * k], abs=1e-3)


@pytest.fixture()
def single(tmp_path):
    lab = np.zeros((20, 20, 20), np.uint8)
    lab[5:15, 5:15, 8:15] = 3
    lab[8:12, 4:8, 4:8] = 5
    img = nib.Nifti1Image(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), np.eye(4))
    nib.save(img, tmp_path / "sub-01_T2w.nii.gz")
    nib.save(nib.Nifti1Image(lab, np.eye(4)), tmp_path / "sub-01_dseg.nii.gz")
    other = np.diag([1.2, 1.2, 1.2, 1.0])
    nib.save(nib.Nifti1Image(lab, other), tmp_path / "sub-01_other_dseg.nii.gz")
    return tmp_path


@pytest.mark.parametrize("extra,phrase", [
    ((), "gestational age missing"),
    (("--ga", "17"), "outside 18-40 weeks"),
    (("--ga", "41.5"), "outside 18-40 weeks"),
])
def test_bad_gestational_age(cli, single, extra, phrase):
    out = single / "out"
    code, stdout, err = cli("biometry", single / "sub-01_T2w.nii.gz", "--seg", single / "sub-01_dseg.nii.gz",
                            "-o", out, *extra)
    assert_one_line_error(code, stdout, err, phrase, single / "sub-01_T2w.nii.gz")
    assert not out.exists()


def test_segmentation_on_another_grid(cli, single):
    out = single / "out"
    seg = single / "sub-01_other_dseg.nii.gz"
    code, stdout, err = cli("biometry", single / "sub-01_T2w.nii.gz", "--seg", seg, "--ga", "28", "-o", out)
    assert_one_line_error(code, stdout, err, "differs from the image grid", seg)
    assert not out.exists()


def test_participants_ga_outside_range(cli, tmp_path):
    from fetalseg.phantom import make_cohort

    root = tmp_path / "ds"
    make_cohort(root, n=1, ga_range=(25.0, 25.0), pathologies=("normal",), sites=1, voxel=2.0, seed=1)
    part = root / "participants.tsv"
    lines = part.read_text().splitlines()
    cells = lines[1].split("\t")
    cells[lines[0].split("\t").index("Gestational age")] = "16"
    part.write_text("\n".join([lines[0], "\t".join(cells)]) + "\n")
    out = tmp_path / "out"
    code, stdout, err = cli("biometry", root, "--seg", root, "-o", out)
    assert_one_line_error(code, stdout, err, "outside 18-40 weeks", part)
    assert not out.exists()


@pytest.mark.slow
def test_segments_first_without_seg(cli, tmp_path):
    from fetalseg.io import save_image
    from fetalseg.phantom import make_subject

    s = make_subject(30.0, "normal", voxel=1.2, seed=5)
    img = tmp_path / "sub-07_T2w.nii.gz"
    save_image(s.image, img)
    out = tmp_path / "out"
    code, stdout, err = cli("biometry", img, "--ga", "30", "-o", out)
    assert code == 0, err
    rec = json.loads((out / "sub-07_biometry.json").read_text())
    assert rec["labels_from"].startswith("fetalseg.segment")
    assert np.isfinite(rec["measures"]["bBIP"]["image_mm"])
    assert _tsv(out / "sub-07_biometry.tsv")[0] == list(MEASURES)
