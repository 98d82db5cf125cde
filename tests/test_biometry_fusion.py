"""fetalseg.biometry.fusion: the log-scale posterior by hand, outlier handling, EM fit on known mixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fetalseg.biometry.fusion import (FUSION, ImageError, LogRegression, fit_image_error, fit_log_regression, fuse,
                                     select_fusion)


def test_one_gaussian_is_the_precision_weighted_average_on_the_log_scale():
    # prior 66 +- 2.64 mm -> s0 = 0.04; image error SD 0.03 -> w = 0.0016 / (0.0016 + 0.0009) = 0.64
    fused, w, src = fuse(70.0, ImageError.gaussian(0.03), 66.0, 2.64)
    assert w == pytest.approx(0.64, abs=1e-9)
    assert fused == pytest.approx(math.exp(0.64 * math.log(70.0) + 0.36 * math.log(66.0)), rel=1e-9)
    assert src == "fused"
    fused, w, src = fuse(70.0, ImageError.gaussian(0.001), 66.0, 3.0)
    assert src == "image" and fused == pytest.approx(70.0, abs=0.02)
    fused, w, src = fuse(70.0, ImageError.gaussian(5.0), 66.0, 3.0)
    assert src == "prior" and fused == pytest.approx(66.0, abs=0.05)


def test_a_known_bias_is_removed():
    # an image that measures 10 % short (log bias log 0.9) and is otherwise exact gives the truth back
    err = ImageError.gaussian(1e-4, bias=math.log(0.9))
    fused, w, _ = fuse(0.9 * 20.0, err, 25.0, 4.0)
    assert fused == pytest.approx(20.0, rel=1e-3) and w > 0.99


def test_a_gross_outlier_falls_back_to_the_prior():
    err = ImageError((0.8, 0.2), (0.0, 0.0), (0.03, 0.6))
    near, w_near, _ = fuse(68.0, err, 66.0, 2.64)  # 3 % from the prior: the core explains it
    far, w_far, _ = fuse(130.0, err, 66.0, 2.64)  # twice the prior: a failed segmentation
    assert w_near > 0.5 and w_far < 0.05
    assert abs(far - 66.0) < 2.0 and abs(near - 68.0) < 1.0
    # a single Gaussian with the same RMS (0.27) discards the good measurement as well
    single = ImageError.gaussian(err.rms())
    assert fuse(68.0, single, 66.0, 2.64)[1] < 0.05


def test_missing_stays_missing_and_arguments_are_checked():
    fused, w, src = fuse(float("nan"), ImageError.gaussian(0.1), 66.0, 2.0)
    assert math.isnan(fused) and w == 0.0 and src == "missing"  # never replaced by the prior
    with pytest.raises(ValueError, match="prior_mean"):
        fuse(60.0, ImageError.gaussian(0.1), -1.0, 2.0)
    with pytest.raises(ValueError, match="sum to 1"):
        ImageError((0.5, 0.2), (0.0, 0.0), (0.1, 0.2))
    with pytest.raises(ValueError, match="sds must be positive"):
        ImageError.gaussian(0.0)
    with pytest.raises(ValueError, match="at least 5"):
        fit_image_error([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])


def test_fit_recovers_a_known_mixture_and_prefers_one_gaussian_when_true():
    rng = np.random.default_rng(0)
    truth = rng.uniform(10, 80, 3000)
    core = rng.random(truth.size) < 0.75
    e = np.where(core, rng.normal(-0.05, 0.02, truth.size), rng.normal(0.1, 0.3, truth.size))
    fit = fit_image_error(truth * np.exp(e), truth)
    assert len(fit.weights) == 2
    assert fit.weights[0] == pytest.approx(0.75, abs=0.05)
    assert fit.means[0] == pytest.approx(-0.05, abs=0.01) and fit.sds[0] == pytest.approx(0.02, abs=0.005)
    assert fit.means[1] == pytest.approx(0.1, abs=0.05) and fit.sds[1] == pytest.approx(0.3, abs=0.04)
    one = fit_image_error(truth * np.exp(rng.normal(0.02, 0.04, truth.size)), truth)
    assert len(one.weights) == 1
    assert one.means[0] == pytest.approx(0.02, abs=0.005) and one.sds[0] == pytest.approx(0.04, abs=0.005)


def test_log_regression_recovers_known_coefficients_and_reports_its_image_weight():
    rng = np.random.default_rng(1)
    mu = rng.uniform(10, 80, 200)
    truth = mu * np.exp(rng.normal(0, 0.08, mu.size))
    measured = np.exp(0.3 + np.log(truth) / 0.6)  # a size-dependent error: log m = 0.3 + log t / 0.6
    fit = fit_log_regression(measured, truth, mu)  # exact inverse: log t = -0.18 + 0.6 log m
    assert (fit.intercept, fit.image, fit.prior) == pytest.approx((-0.18, 0.6, 0.0), abs=1e-6)
    fused, w, src = fuse(float(measured[0]), fit, float(mu[0]), 3.0)
    assert fused == pytest.approx(truth[0], rel=1e-6) and w == pytest.approx(0.6) and src == "fused"
    with pytest.raises(ValueError, match="at least 5"):
        fit_log_regression([1.0] * 4, [1.0] * 4, [1.0] * 4)


def test_selection_picks_the_model_that_the_data_follow():
    rng = np.random.default_rng(2)
    mu = rng.uniform(10, 80, 40)
    sd = 0.06 * mu
    truth = mu * np.exp(rng.normal(0, 0.06, mu.size))
    exact = truth * np.exp(rng.normal(0, 0.002, mu.size))  # an image far more precise than the prior
    model, loo = select_fusion(exact, truth, mu, sd)
    assert model is None and loo["image"] == min(loo.values())
    shrunk = np.exp(0.5 + 0.7 * np.log(truth))  # a size-dependent bias only a regression undoes
    model, loo = select_fusion(shrunk, truth, mu, sd)
    assert isinstance(model, LogRegression) and loo["regression"] < 0.5 < loo["image"]
    outliers = truth * np.exp(np.where(np.arange(mu.size) % 4 == 0, 0.5, rng.normal(0, 0.01, mu.size)))
    model, loo = select_fusion(outliers, truth, mu, sd)  # one case in four off by +65 %
    assert isinstance(model, ImageError) and loo["mixture"] < loo["regression"] and loo["mixture"] < loo["image"]


def test_shipped_models_cover_every_measure():
    for kind in ("labels", "segmented"):
        assert set(FUSION[kind]) == {"LCC", "HV", "bBIP", "sBIP", "TCD"}
        for m, model in FUSION[kind].items():
            assert model is None or isinstance(model, (ImageError, LogRegression))
            if model is not None:  # any estimate stays within a plausible factor of image and prior
                fused = fuse(30.0, model, 32.0, 2.0)[0]
                assert 20.0 < fused < 45.0
    assert fuse(61.5, None, 66.0, 2.0) == (61.5, 1.0, "image")
