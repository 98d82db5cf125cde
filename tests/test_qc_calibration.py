"""QC calibration: the calibrated score, its fit and its use in segment() and the report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fetalseg.infer import Predictor, qc, segment
from fetalseg.infer.qc_fit import fit_calibration, flag_agreement
from test_infer_helpers import IntensityCodedModel, affine, phantom_image


def _report(disagreement=0.0, relabelled=0.0, topo=0, uncertainty=0.0):
    return {"agreement": 1.0 - disagreement, "relabelled_fraction": relabelled, "topology_errors": topo,
            "confidence": 1.0 - uncertainty}


def test_calibration_validates_its_fields():
    with pytest.raises(ValueError, match="unknown feature"):
        qc.QCCalibration(0.1, {"bogus": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        qc.QCCalibration(0.1, {"uncertainty": -1.0})
    with pytest.raises(ValueError, match="flag_below"):
        qc.QCCalibration(0.1, {}, flag_below=1.5)
    assert qc.QCCalibration.from_card({"name": "x"}) is None
    with pytest.raises(ValueError, match="invalid qc_calibration"):
        qc.QCCalibration.from_card({"name": "x", "qc_calibration": {"intercept": 0.1, "slope": 2}})
    with pytest.raises(ValueError, match="invalid qc_calibration"):
        qc.QCCalibration.from_card({"name": "x", "qc_calibration": [0.1]})
    cal = qc.QCCalibration(0.1, {"uncertainty": 2.0}, flag_below=0.6)
    assert qc.QCCalibration.from_card({"qc_calibration": cal.to_dict()}) == cal


def test_predicted_dice_by_hand_and_clipped():
    cal = qc.QCCalibration(0.05, {"disagreement": 1.0, "uncertainty": 2.0, "topology_errors_per_100": 0.5})
    f = qc.qc_features(_report(disagreement=0.1, uncertainty=0.05, topo=20))
    assert f == pytest.approx({"disagreement": 0.1, "relabelled_fraction": 0.0, "topology_errors_per_100": 0.2,
                               "uncertainty": 0.05})
    assert cal.predicted_dice(f) == pytest.approx(1 - (0.05 + 0.1 + 0.1 + 0.1))
    assert cal.predicted_dice(qc.qc_features(_report(uncertainty=0.9))) == 0.0
    # missing signals (one member: agreement None; no probabilities: confidence None) count 0
    assert qc.qc_features({"agreement": None, "confidence": None})["disagreement"] == 0.0


def test_mean_confidence_brute_force():
    rng = np.random.default_rng(0)
    p = rng.random((4, 5, 6, 7)).astype(np.float32)
    p /= p.sum(0)
    raw, best = np.argmax(p, 0).astype(np.uint8), p.max(0)
    expected = np.mean([p[raw[i, j, k], i, j, k] for i, j, k in zip(*np.nonzero(raw))])
    assert qc.mean_confidence(best, raw) == pytest.approx(expected, rel=1e-6)
    assert qc.mean_confidence(best, np.zeros_like(raw)) is None
    with pytest.raises(ValueError, match="shape"):
        qc.mean_confidence(best[:-1], raw)


def test_qc_report_calibrated_and_heuristic():
    a = np.zeros((10, 10, 10), np.uint8)
    a[2:8, 2:8, 2:8] = 3
    b = a.copy()
    b[2:5] = 0
    chosen = np.where(a > 0, 0.8, 1.0).astype(np.float32)
    heur = qc.qc_report([a, b], a, 0, chosen=chosen)
    assert heur["qc_method"] == "heuristic" and heur["qc_threshold"] == pytest.approx(qc.QC_THRESHOLD)
    assert heur["confidence"] == pytest.approx(0.8)
    cal = qc.QCCalibration(0.0, {"uncertainty": 1.0, "disagreement": 1.0}, flag_below=0.6)
    rep = qc.qc_report([a, b], a, 0, chosen=chosen, calibration=cal)
    expected = 1 - (0.2 + (1 - heur["agreement"]))
    assert rep["qc_method"] == "calibrated" and rep["predicted_dice"] == pytest.approx(expected, abs=1e-4)
    assert rep["qc_score"] == pytest.approx(1 - expected, abs=1e-4)
    assert rep["qc_threshold"] == pytest.approx(0.4) and rep["qc_flag"] == (expected < 0.6)


def test_fit_recovers_a_known_linear_relation_with_nonnegative_weights():
    rng = np.random.default_rng(1)
    n = 40
    dis, unc, rel = rng.uniform(0, 0.3, n), rng.uniform(0, 0.2, n), rng.uniform(0, 0.05, n)
    topo = rng.integers(0, 30, n)
    dice = 1 - (0.05 + 0.8 * dis + 1.5 * unc) + rng.normal(0, 0.005, n)
    dice += 0.3 * rel  # relabelling "helps" here: its weight must be clamped to 0, never negative
    reports = [_report(d, r, int(t), u) for d, r, t, u in zip(dis, rel, topo, unc)]
    cal, pred = fit_calibration(reports, dice, [f"s{i // 4}" for i in range(n)], margin=0.1)
    assert cal.weights["disagreement"] == pytest.approx(0.8, abs=0.05)
    assert cal.weights["uncertainty"] == pytest.approx(1.5, abs=0.08)
    assert cal.weights["relabelled_fraction"] == 0.0
    assert cal.cases == n and cal.cv_mae < 0.02 and cal.spearman > 0.95
    assert cal.flag_below == pytest.approx(np.median(dice) - 0.1)
    assert np.abs(pred - dice).mean() == pytest.approx(cal.cv_mae)


def test_fit_rejects_bad_input():
    reports = [_report(0.1 * i) for i in range(6)]
    with pytest.raises(ValueError, match="one value per report"):
        fit_calibration(reports, [0.5] * 5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit_calibration(reports, [0.5] * 5 + [1.5])
    with pytest.raises(ValueError, match="3 groups"):
        fit_calibration(reports, [0.5] * 6, ["a", "a", "a", "b", "b", "b"])


def test_flag_agreement_counts():
    out = flag_agreement([0.3, 0.7, 0.4, 0.9], [0.35, 0.45, 0.8, 0.9], 0.5)
    assert out == {"failures": 2, "flagged": 2, "hits": 1, "recall": 0.5, "precision": 0.5}
    assert math.isnan(flag_agreement([0.9], [0.9], 0.5)["recall"])


def test_segment_uses_the_card_calibration():
    shape = (30, 30, 30)
    img, _ = phantom_image(shape, affine(shape=shape))
    norm = IntensityCodedModel.normalisation
    cal = qc.QCCalibration(0.02, {"uncertainty": 1.0}, flag_below=0.99)
    pred = Predictor(IntensityCodedModel(), normalisation=norm, card={"qc_calibration": cal.to_dict()})
    res = segment(img, pred, return_result=True, dae="none", device="cpu")
    assert res.qc["qc_method"] == "calibrated"
    expected = 1 - (0.02 + (1 - res.qc["confidence"]))
    assert res.qc["predicted_dice"] == pytest.approx(expected, abs=2e-4)
    assert res.qc["qc_flag"] == (expected < 0.99)
    plain = segment(img, Predictor(IntensityCodedModel(), normalisation=norm), return_result=True, dae="none",
                    device="cpu")
    assert plain.qc["qc_method"] == "heuristic" and "predicted_dice" not in plain.qc


def test_report_flags_against_the_sidecar_threshold_unless_one_is_given(tmp_path):
    from fetalseg.report.collect import SubjectInputs
    from fetalseg.report.content import subject_content

    labels = np.zeros((8, 8, 8), np.uint8)
    labels[2:6, 2:6, 2:6] = 3
    side = {"qc": {"qc_score": 0.3, "qc_threshold": 0.4, "qc_method": "calibrated"}}
    own = subject_content(SubjectInputs("sub-a", tmp_path / "a.nii.gz", side), labels, 1.0)
    assert own.qc_threshold == pytest.approx(0.4) and not own.qc_flag
    forced = subject_content(SubjectInputs("sub-a", tmp_path / "a.nii.gz", side), labels, 1.0, threshold=0.2)
    assert forced.qc_threshold == pytest.approx(0.2) and forced.qc_flag
    old = subject_content(SubjectInputs("sub-b", tmp_path / "b.nii.gz", {"qc": {"qc_score": 0.3}}), labels, 1.0)
    assert old.qc_threshold == pytest.approx(qc.QC_THRESHOLD) and old.qc_flag  # sidecars without a threshold


def test_calibration_is_not_used_when_its_signal_is_missing():
    """One member (no TTA): no agreement, so a disagreement-weighted calibration would predict blindly."""
    a = np.zeros((10, 10, 10), np.uint8)
    a[2:8, 2:8, 2:8] = 3
    cal = qc.QCCalibration(0.1, {"disagreement": 2.0}, flag_below=0.6)
    assert cal.missing({"agreement": None, "confidence": 0.9}) == ["disagreement"]
    assert qc.QCCalibration(0.1, {"disagreement": 0.0}).missing({"agreement": None}) == []
    one = qc.qc_report([a], a, 0, calibration=cal)
    assert one["qc_method"] == "heuristic" and "predicted_dice" not in one
    two = qc.qc_report([a, a], a, 0, calibration=cal)
    assert two["qc_method"] == "calibrated" and two["predicted_dice"] == pytest.approx(0.9)
