"""fetalseg.biometry: measurements against phantom truth and toy shapes, NaN reasons, baseline,
centile maths, MAPE (fusion: test_biometry_fusion.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from biometry_helpers import midline_height, toy_brain

from fetalseg import norms
from fetalseg.biometry.baseline import default_baseline, fit_baseline, load_baseline
from fetalseg.biometry.context import normative
from fetalseg.biometry.evaluate import mape
from fetalseg.biometry.measure import MEASURES, measure_biometry
from fetalseg.pose import rotate_image


def test_toy_brain_widths_match_the_ellipsoids():
    # cerebrum semi-axis x 15 voxels, cerebellum semi-axis x 8 voxels; 0.5 mm voxels; voxel-centre
    # sampling puts the boundary within half a voxel of the continuous surface at each end
    lab, _ = toy_brain()
    affine = np.diag([0.5, 0.5, 0.5, 1.0])
    bio = measure_biometry(lab, affine)
    assert bio.values["bBIP"] == pytest.approx(15.0, abs=0.5)  # 2 * 15 voxels * 0.5 mm
    assert bio.values["TCD"] == pytest.approx(8.0, abs=0.5)  # 2 * 8 * 0.5
    assert bio.values["HV"] == pytest.approx(3.5, abs=0.5)  # 2 * 3.5 * 0.5 (cerebellum z semi-axis)
    for m in ("bBIP", "TCD", "HV"):
        a, b = bio.landmarks[m]
        assert np.linalg.norm(b - a) == pytest.approx(bio.values[m], abs=1e-6)


def test_missing_structures_give_nan_with_a_reason():
    lab, _ = toy_brain()
    no_cb = lab.copy()
    no_cb[no_cb == 5] = 0
    bio = measure_biometry(no_cb, np.eye(4))
    assert math.isnan(bio.values["TCD"]) and math.isnan(bio.values["HV"])
    assert "cerebellum" in bio.reasons["TCD"] and "HV" not in bio.landmarks
    # toy brain in the withcc convention without label 8: no callosum
    withcc = np.zeros_like(lab)
    for feta, cc in {3: 1, 4: 2, 5: 3, 1: 4, 2: 5, 6: 6, 7: 7}.items():
        withcc[lab == feta] = cc
    bio = measure_biometry(withcc, np.eye(4), convention="withcc")
    assert math.isnan(bio.values["LCC"]) and "agenesis" in bio.reasons["LCC"]
    assert np.isfinite(bio.values["bBIP"])


@pytest.fixture(scope="module")
def phantom28():
    from fetalseg.phantom import make_subject

    return make_subject(28.0, "normal", voxel=0.8, seed=1)


@pytest.mark.slow
def test_measurements_match_phantom_truth(phantom28):
    s = phantom28
    feta = measure_biometry(s.labels.data, s.labels.affine)
    gen = measure_biometry(s.generation.data, s.generation.affine, convention="generation", pose=feta.pose)
    for m in ("bBIP", "sBIP", "TCD", "HV"):
        assert feta.values[m] == pytest.approx(s.biometry[m], abs=1.0), m
    assert gen.values["LCC"] == pytest.approx(s.biometry["LCC"], abs=1.0)
    assert feta.values["LCC"] == pytest.approx(s.biometry["LCC"], abs=1.5)
    assert "skull" in gen.sources["sBIP"] and "external CSF" in feta.sources["sBIP"]
    # landmarks: bBIP and sBIP lie in the phantom's axial plane z = 0, TCD/bBIP ends are left-right
    for m in ("bBIP", "sBIP"):
        assert np.abs(feta.landmarks[m][:, 2]).max() < 2.0
        d = feta.landmarks[m][1] - feta.landmarks[m][0]
        assert abs(d[0]) / np.linalg.norm(d) > 0.99


@pytest.mark.slow
@pytest.mark.parametrize("ga,pathology,seed", [(24.0, "sb", 11), (32.0, "vm", 12), (36.0, "micro", 13)])
def test_pathological_phantoms_match_truth(ga, pathology, seed):
    from fetalseg.phantom import make_subject

    s = make_subject(ga, pathology, voxel=0.8, seed=seed)
    feta = measure_biometry(s.labels.data, s.labels.affine)
    gen = measure_biometry(s.generation.data, s.generation.affine, convention="generation", pose=feta.pose)
    for m in ("bBIP", "sBIP", "TCD"):
        assert feta.values[m] == pytest.approx(s.biometry[m], abs=1.0), m
    assert gen.values["LCC"] == pytest.approx(s.biometry["LCC"], abs=1.0)
    # HV against a brute-force count on the label map itself: for some spina bifida phantoms the
    # midline cerebellum of the labels is shorter than the anatomy's truth (a phantom matter)
    assert feta.values["HV"] == pytest.approx(midline_height(s.labels.data == 5, s.labels.affine), abs=1.0)


@pytest.mark.slow
def test_rotated_copy_gives_the_same_measurements(phantom28):
    s = phantom28
    up = measure_biometry(s.labels.data, s.labels.affine)
    rot, r, c = rotate_image(s.labels, (25.0, -20.0, 30.0), labels=True)
    tilted = measure_biometry(rot.data, rot.affine)
    for m in MEASURES:
        assert tilted.values[m] == pytest.approx(up.values[m], abs=1.0), m
    # the rotated landmarks sit where the upright ones move to (within 2 mm)
    moved = (up.landmarks["TCD"] - c) @ r.T + c
    assert np.abs(np.sort(moved, axis=0) - np.sort(tilted.landmarks["TCD"], axis=0)).max() < 2.0


@pytest.mark.slow
def test_callosal_agenesis_phantom_gives_nan_lcc():
    from fetalseg.phantom import make_subject

    s = make_subject(30.0, "acc", voxel=1.0, seed=4)
    bio = measure_biometry(s.generation.data, s.generation.affine, convention="generation")
    assert math.isnan(s.biometry["LCC"]) and math.isnan(bio.values["LCC"])
    assert "callosal agenesis" in bio.reasons["LCC"]


def test_centile_maths_by_hand():
    # bBIP at 30 weeks: mean 0.016*900 + 1.763*30 - 0.9597 = 66.3303, SD 0.1308*30 - 1.32 = 2.604
    r = normative("bBIP", 66.3303 + 2.604, 30.0)
    assert r["z"] == pytest.approx(1.0, abs=1e-9)
    assert r["centile"] == pytest.approx(84.1345, abs=1e-3)  # Phi(1)
    assert r["flag"] == "normal"
    low = normative("bBIP", 66.3303 - 2.0 * 2.604, 30.0)
    assert low["centile"] == pytest.approx(2.2750, abs=1e-3) and low["flag"] == "low"  # Phi(-2)
    assert normative("bBIP", 66.3303 + 2.0 * 2.604, 30.0)["flag"] == "high"
    nan = normative("LCC", float("nan"), 30.0)
    assert math.isnan(nan["z"]) and nan["flag"] is None


def test_baseline_fit_recovers_a_known_line(tmp_path):
    rng = np.random.default_rng(0)
    ga = rng.uniform(20, 38, 200)
    values = {"TCD": 1.5 * ga - 12.0 + rng.normal(0, 0.5, ga.size), "HV": np.where(ga > 30, np.nan, 0.6 * ga)}
    b = fit_baseline(ga, values, degree=1)
    assert b.mean["TCD"] == pytest.approx([1.5, -12.0], abs=0.6)  # intercept SE about 0.2
    from sklearn.linear_model import LinearRegression

    lr = LinearRegression().fit(ga[:, None], values["TCD"])  # independent least squares
    assert b.mean["TCD"] == pytest.approx([lr.coef_[0], lr.intercept_], abs=1e-8)
    assert b.sd["TCD"][0] == pytest.approx(0.5, abs=0.08)
    assert b.n["HV"] == int(np.sum(ga <= 30)) and b.predict("HV", 25.0) == pytest.approx(15.0)
    path = tmp_path / "b.json"
    path.write_text(b.to_json())
    again = load_baseline(path)
    assert again.predict("TCD", 31.0) == pytest.approx(b.predict("TCD", 31.0))
    with pytest.raises(ValueError, match="at least"):
        fit_baseline(ga[:2], {"TCD": ga[:2]}, degree=1)


def test_default_baseline_is_the_norms():
    b = default_baseline()
    for m in MEASURES:
        assert b.predict(m, 27.5) == pytest.approx(norms.norm_mean(m, 27.5))
        assert b.spread(m, 27.5) == pytest.approx(norms.norm_sd(m, 27.5))


@pytest.mark.shared
def test_packaged_norms_equal_the_shared_table(biometry_norms_tsv):
    shared = norms._parse(biometry_norms_tsv.read_text(encoding="utf-8"), str(biometry_norms_tsv))
    assert shared == norms.load_norms()


def test_mape_by_hand():
    gt = {"a": {"LCC": 20.0, "HV": 10.0, "bBIP": 50.0, "sBIP": 60.0, "TCD": 25.0},
          "b": {"LCC": float("nan"), "HV": 12.0, "bBIP": 55.0, "sBIP": 66.0, "TCD": 30.0}}
    pred = {"a": {"LCC": 22.0, "HV": 10.0, "bBIP": 45.0, "sBIP": 60.0, "TCD": float("nan")},
            "b": {"LCC": 30.0, "HV": 9.0, "bBIP": 55.0, "sBIP": 69.3, "TCD": 33.0}}
    res = mape(pred, gt)
    assert res["per_measure"]["LCC"] == pytest.approx(10.0)  # only case a; b's truth is NaN
    assert res["per_measure"]["HV"] == pytest.approx((0 + 25.0) / 2)
    assert res["per_measure"]["bBIP"] == pytest.approx(5.0)
    assert res["missing"]["TCD"] == 1 and res["per_measure"]["TCD"] == pytest.approx(10.0)
    every = [10.0, 0.0, 10.0, 0.0, 25.0, 0.0, 5.0, 10.0]
    assert res["overall"] == pytest.approx(np.mean(every))


@pytest.mark.slow
@pytest.mark.shared
def test_sb_atlas_rotated_copy_and_chiari_cerebellum(sb_atlas):
    from fetalseg.io import load_image
    from fetalseg.labels import WITHCC

    sid = "sub-sb30op"
    lab = load_image(sb_atlas / sid / "anat" / f"{sid}_rec-atlas_desc-withcc_dseg.nii.gz", labels=WITHCC)
    up = measure_biometry(lab.data, lab.affine, convention="withcc")
    assert all(np.isfinite(up.values[m]) for m in MEASURES)
    # spina bifida with Chiari II: a small cerebellum (TCD below the normative mean at 30 weeks)
    assert up.values["TCD"] < norms.norm_mean("TCD", 30.0)
    rot, r, _ = rotate_image(lab, (-20.0, 15.0, 25.0), labels=True)
    tilted = measure_biometry(rot.data, rot.affine, convention="withcc")
    assert np.degrees(np.arccos(min(1.0, abs(float(tilted.pose.normal @ (r @ up.pose.normal)))))) < 3.0
    for m in MEASURES:
        assert tilted.values[m] == pytest.approx(up.values[m], abs=1.0), m
