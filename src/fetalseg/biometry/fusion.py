"""Fusion of an image measurement with the GA prior, calibrated on phantoms with known truth.

Conventions
-----------
- Measurements, prior means and prior SDs are in mm; GA in weeks.
- Everything is on the log scale: errors grow with the structure (a 20-week vermis is 6 mm, a
  38-week one 25 mm), so one relative model serves every GA, and a fused value is positive.
- The GA prior on ``log truth`` is normal with mean ``log mu`` and SD ``s0 = sigma / mu`` (delta
  method), ``mu`` and ``sigma`` the baseline's mean and SD at the subject's GA.
- The image weight reported with a fused value is its elasticity ``d log fused / d log image``:
  1 for the image alone, 0 for the prior alone. Source 'image' when it is >= 0.95, 'prior' below
  0.05, else 'fused'.

Three models per measure, chosen on calibration phantoms by leave-one-out MAPE
(:func:`select_fusion`):

``None``
    the image value as it is (fusion measured not to help: a precise measurement).
:class:`ImageError`
    a Gaussian mixture of the image error ``e = log(measured / truth)`` (weights ``pi_k``, biases
    ``b_k``, SDs ``s_k``; EM by scikit-learn's ``GaussianMixture``, 1 or 2 components by BIC,
    :func:`fit_image_error`) combined with the prior by Bayes' rule. Given ``y = log measured``,
    component ``k`` has marginal likelihood ``N(y; log mu + b_k, sqrt(s0^2 + s_k^2))`` and posterior
    mean ``log mu + w_k (y - b_k - log mu)``, ``w_k = s0^2 / (s0^2 + s_k^2)``; the responsibilities
    ``r_k`` are proportional to ``pi_k`` times that likelihood, the fused value is ``exp`` of the
    posterior mean, the image weight ``sum_k r_k w_k``. A measurement that agrees with a precise
    core is trusted; a gross outlier (a wide or shifted component) falls back to the prior. With one
    component of zero bias this is the classical precision-weighted average. Reference: the
    conjugate normal update with a finite-mixture likelihood, e.g. Gelman et al., *Bayesian Data
    Analysis*, 3rd ed., ch. 17.
:class:`LogRegression`
    ``log fused = a + b log measured + c log mu`` by least squares (:func:`fit_log_regression`):
    a precision-weighted average is the case ``a = 0, b + c = 1``; the regression also corrects an
    image error that depends on size (a model that segments a small cerebellum proportionally
    shorter than a large one). The image weight is ``b``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ImageError", "LogRegression", "fit_image_error", "fit_log_regression", "select_fusion", "fuse", "FUSION"]

IMAGE_WEIGHT_IMAGE, IMAGE_WEIGHT_PRIOR = 0.95, 0.05
"""Source 'image' when the image weight is at least 0.95, 'prior' below 0.05, else 'fused'."""


@dataclass(frozen=True)
class ImageError:
    """Gaussian mixture of the log-ratio error ``log(measured / truth)`` of an image measurement.

    ``weights`` sum to 1; ``means`` and ``sds`` are in log units (0.05 is about 5 %).
    """

    weights: tuple[float, ...]
    means: tuple[float, ...]
    sds: tuple[float, ...]

    def __post_init__(self):
        k = len(self.weights)
        if k == 0 or len(self.means) != k or len(self.sds) != k:
            raise ValueError(f"weights, means and sds need the same non-zero length, got {k}, "
                             f"{len(self.means)}, {len(self.sds)}")
        if any(w < 0 for w in self.weights) or abs(sum(self.weights) - 1.0) > 1e-3:
            raise ValueError(f"weights must be non-negative and sum to 1, got {self.weights}")
        if any(not (s > 0) for s in self.sds):
            raise ValueError(f"sds must be positive, got {self.sds}")

    @classmethod
    def gaussian(cls, sd: float, bias: float = 0.0) -> "ImageError":
        """One component: relative error SD ``sd`` and bias ``bias`` (log units)."""
        return cls((1.0,), (float(bias),), (float(sd),))

    def rms(self) -> float:
        """RMS of the log-ratio error under the mixture."""
        return float(math.sqrt(sum(w * (m * m + s * s) for w, m, s in zip(self.weights, self.means, self.sds))))


def fit_image_error(measured, truth, max_components: int = 2, min_sd: float = 0.005, seed: int = 0) -> ImageError:
    """Fit an :class:`ImageError` to paired measurements and truths (mm, any shape, NaN pairs dropped).

    EM (scikit-learn ``GaussianMixture``, ``random_state=seed``) on ``log(measured / truth)`` for
    1..``max_components`` components; the one with the lowest BIC is returned. ``min_sd`` (log
    units) is added in quadrature to every component's SD (``reg_covar``): no component is trusted
    beyond the measurement's resolution, even when a few calibration cases agree by chance. Needs
    at least 5 finite pairs with positive values.
    """
    from sklearn.mixture import GaussianMixture

    m, t = np.asarray(measured, dtype=float).ravel(), np.asarray(truth, dtype=float).ravel()
    if m.shape != t.shape:
        raise ValueError(f"measured and truth differ in size: {m.size} vs {t.size}")
    ok = np.isfinite(m) & np.isfinite(t) & (m > 0) & (t > 0)
    if ok.sum() < 5:
        raise ValueError(f"need at least 5 finite positive pairs, got {int(ok.sum())}")
    if not min_sd > 0:
        raise ValueError(f"min_sd must be positive, got {min_sd}")
    if max_components < 1:
        raise ValueError(f"max_components must be >= 1, got {max_components}")
    e = np.log(m[ok] / t[ok])[:, None]
    best, best_bic = None, math.inf
    for k in range(1, min(max_components, int(ok.sum()) // 3) + 1):
        gm = GaussianMixture(k, covariance_type="spherical", reg_covar=min_sd**2, n_init=5, random_state=seed).fit(e)
        bic = gm.bic(e)
        if bic < best_bic:
            best, best_bic = gm, bic
    order = np.argsort(best.covariances_)  # narrowest component first
    return ImageError(tuple(float(best.weights_[i]) for i in order), tuple(float(best.means_[i, 0]) for i in order),
                      tuple(float(math.sqrt(best.covariances_[i])) for i in order))


@dataclass(frozen=True)
class LogRegression:
    """``log fused = intercept + image * log measured + prior * log prior_mean`` (mm in, mm out)."""

    intercept: float
    image: float
    prior: float

    def predict(self, value: float, prior_mean: float) -> float:
        return math.exp(self.intercept + self.image * math.log(value) + self.prior * math.log(prior_mean))


def fit_log_regression(measured, truth, prior_mean) -> LogRegression:
    """Least-squares :class:`LogRegression` of ``log truth`` on ``log measured`` and ``log prior_mean``
    (mm, same length; pairs with a NaN or non-positive value dropped; at least 5 left)."""
    m, t, mu = (np.asarray(a, dtype=float).ravel() for a in (measured, truth, prior_mean))
    if not (m.shape == t.shape == mu.shape):
        raise ValueError(f"measured, truth and prior_mean differ in size: {m.size}, {t.size}, {mu.size}")
    ok = np.isfinite(m) & np.isfinite(t) & np.isfinite(mu) & (m > 0) & (t > 0) & (mu > 0)
    if ok.sum() < 5:
        raise ValueError(f"need at least 5 finite positive triples, got {int(ok.sum())}")
    x = np.stack([np.ones(int(ok.sum())), np.log(m[ok]), np.log(mu[ok])], axis=1)
    coef = np.linalg.lstsq(x, np.log(t[ok]), rcond=None)[0]
    return LogRegression(*(float(c) for c in coef))


FusionModel = ImageError | LogRegression | None


def fuse(value: float, model: FusionModel, prior_mean: float, prior_sd: float) -> tuple[float, float, str]:
    """Estimate (mm) of the truth from an image measurement ``value`` (mm), a fusion ``model`` and
    a normal GA prior (``prior_mean``, ``prior_sd``, mm); see the module docstring.

    Returns ``(fused, image_weight, source)``, source 'image', 'fused' or 'prior' by the image
    weight. ``model=None`` returns the image value itself, weight 1. A NaN (or non-positive) image
    value stays NaN with source 'missing': an absent structure is never replaced by the prior.
    """
    if not (math.isfinite(value) and value > 0):
        return float("nan"), 0.0, "missing"
    if not (prior_mean > 0 and prior_sd > 0):
        raise ValueError(f"prior_mean and prior_sd must be positive, got {prior_mean}, {prior_sd}")
    if model is None:
        return float(value), 1.0, "image"
    if isinstance(model, LogRegression):
        fused, weight = model.predict(value, prior_mean), model.image
    else:
        fused, weight = _posterior(value, model, prior_mean, prior_sd)
    source = "image" if weight >= IMAGE_WEIGHT_IMAGE else "prior" if weight < IMAGE_WEIGHT_PRIOR else "fused"
    return fused, float(weight), source


def _posterior(value: float, error: ImageError, prior_mean: float, prior_sd: float) -> tuple[float, float]:
    mu0, s0 = math.log(prior_mean), prior_sd / prior_mean
    y = math.log(value)
    pi, b, s = (np.asarray(a, dtype=float) for a in (error.weights, error.means, error.sds))
    var = s0 * s0 + s * s
    loglik = np.log(np.maximum(pi, 1e-300)) - 0.5 * (y - mu0 - b) ** 2 / var - 0.5 * np.log(var)
    r = np.exp(loglik - loglik.max())
    r /= r.sum()
    w = s0 * s0 / var
    return math.exp(float(np.sum(r * (mu0 + w * (y - b - mu0))))), float(np.sum(r * w))


def _mape(estimates, truth) -> float:
    """Mean of :func:`~fetalseg.biometry.evaluate.ape` over paired finite values (the FeTA rule)."""
    from .evaluate import ape

    return float(np.mean([ape(e, t) for e, t in zip(estimates, truth)]))


def select_fusion(measured, truth, prior_mean, prior_sd, min_sd: float = 0.01) -> tuple[FusionModel, dict]:
    """Choose and fit the fusion model of one measure on calibration cases (mm; arrays of one length).

    Candidates: the image alone (``None``), :class:`ImageError` (``min_sd``, 1-2 components) and
    :class:`LogRegression`. Each is scored by leave-one-out MAPE (%) over the cases whose truth and
    measurement are finite (refitted without the case, the case estimated); the lowest wins and is
    refitted on all cases. Returns ``(model, {'image': MAPE, 'mixture': MAPE, 'regression': MAPE})``.
    """
    m, t, mu, sd = (np.asarray(a, dtype=float).ravel() for a in (measured, truth, prior_mean, prior_sd))
    if not (m.shape == t.shape == mu.shape == sd.shape):
        raise ValueError("measured, truth, prior_mean and prior_sd must have one length")
    ok = np.flatnonzero(np.isfinite(m) & np.isfinite(t) & (m > 0) & (t > 0))
    if ok.size < 6:
        raise ValueError(f"need at least 6 cases with a finite measurement and truth, got {ok.size}")
    fits = {"mixture": lambda k: fit_image_error(m[k], t[k], min_sd=min_sd),
            "regression": lambda k: fit_log_regression(m[k], t[k], mu[k])}
    loo = {name: np.empty(ok.size) for name in fits}
    for j, i in enumerate(ok):
        rest = np.setdiff1d(ok, [i])
        for name, fit in fits.items():
            loo[name][j] = fuse(m[i], fit(rest), mu[i], sd[i])[0]
    scores = {"image": _mape(m[ok], t[ok]), **{name: _mape(v, t[ok]) for name, v in loo.items()}}
    best = min(scores, key=scores.get)
    return (None if best == "image" else fits[best](ok)), scores


FUSION: dict[str, dict[str, FusionModel]] = {
    "labels": {
        # LCC: leave-one-out MAPE % image 0.85, mixture 0.82, regression 0.86
        "LCC": ImageError((1.0000,), (0.0019,), (0.0120,)),
        # HV: leave-one-out MAPE % image 2.92, mixture 2.59, regression 2.70
        "HV": ImageError((0.0333, 0.9667,), (0.1739, 0.0064,), (0.0050, 0.0286,)),
        # bBIP: leave-one-out MAPE % image 0.53, mixture 0.59, regression 0.61
        "bBIP": None,
        # sBIP: leave-one-out MAPE % image 0.75, mixture 0.71, regression 0.72
        "sBIP": ImageError((1.0000,), (0.0026,), (0.0093,)),
        # TCD: leave-one-out MAPE % image 0.95, mixture 1.19, regression 0.91
        "TCD": LogRegression(0.0601, 0.9538, 0.0292),
    },
    "segmented": {
        # LCC: leave-one-out MAPE % image 11.54, mixture 5.04, regression 4.56
        "LCC": LogRegression(0.0261, 0.0009, 0.9826),
        # HV: leave-one-out MAPE % image 20.30, mixture 7.84, regression 5.81
        "HV": LogRegression(-0.6706, 0.6281, 0.6654),
        # bBIP: leave-one-out MAPE % image 2.53, mixture 2.77, regression 1.76
        "bBIP": LogRegression(-0.3095, 1.0779, 0.0020),
        # sBIP: leave-one-out MAPE % image 1.66, mixture 2.35, regression 1.60
        "sBIP": LogRegression(0.0933, 0.9626, 0.0170),
        # TCD: leave-one-out MAPE % image 8.36, mixture 5.29, regression 2.72
        "TCD": LogRegression(0.6039, 0.5954, 0.2394),
    },
}
"""Fusion model per kind and measure: 'labels', the geometric measurement from given FeTA labels;
'segmented', from labels by ``fetalseg.segment`` with the shipped model (leg 9, default pipeline).
Chosen and fitted by ``benchmarks/fit_fusion.py`` (:func:`select_fusion`, leave-one-out MAPE) on 30
calibration phantoms (``bench_biometry.py --seed-base 2000 --n 15`` and ``--seed-base 2100 --n 15``;
GA 20-38, all pathologies, 5 sites); the evaluation cohort uses seeds 1000+. Segmented: the
vermis is measured short and the cerebellum proportionally shorter in young brains (the
regressions' image slopes 0.63 and 0.60); the callosum's measurement does not beat the prior
(slope 0.001). Re-fit whenever the default model changes."""
