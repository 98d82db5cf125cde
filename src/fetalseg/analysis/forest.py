"""One random forest per metric, cross-validated, explained with SHAP and summed back per factor.

Design matrix: a numeric factor is one column; a categorical factor is one-hot encoded (one column
per category, :class:`sklearn.preprocessing.OneHotEncoder`). Because SHAP values are additive,
the SHAP value of a categorical factor for a case is the sum over its one-hot columns
(Lundberg & Lee 2017); every output below is per factor, never per dummy column.

*Cross-validated R^2* is the out-of-fold coefficient of determination: ``KFold`` (shuffled,
seeded, ``min(folds, n)`` folds) predictions of forests fitted without each fold, pooled, scored
with :func:`sklearn.metrics.r2_score`. R^2 <= 0 means the forest predicts the metric no better
than its mean: the factors explain nothing and the SHAP ranking is noise.

*Range* of a factor (FeTA 2024, Zalevskyi et al. 2025, who report e.g. 0.10 Dice for image
quality): the spread of the metric's dependence on the factor, ``max - min`` over the factor's
groups of the mean SHAP value in the group; groups are the categories of a categorical factor and
up to ``bins`` quantile bins of a numeric one. It is in the metric's unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Fewer subjects than this: no cross-validation (R^2 is NaN), the forest is still fitted and explained.
MIN_CV_SUBJECTS = 5


@dataclass
class Explained:
    """A target explained per factor.

    ``shap`` is (n_subjects, n_factors) in the metric's unit; ``base`` the explainer's expected
    value; ``cv_r2`` NaN when there were too few subjects to cross-validate; ``mask`` selects the
    subjects used (finite target).
    """

    shap: np.ndarray
    base: float
    cv_r2: float
    n: int
    mask: np.ndarray


def design_matrix(factors) -> tuple[np.ndarray, list[int]]:
    """(n_subjects, n_columns) float matrix and, per column, the index of its factor.

    ``factors`` are :class:`fetalseg.analysis.data.Factor` objects (numeric: one column;
    categorical: one-hot columns, categories sorted).
    """
    from sklearn.preprocessing import OneHotEncoder

    blocks, owner = [], []
    for k, f in enumerate(factors):
        if f.kind == "numeric":
            block = np.asarray(f.values, np.float64)[:, None]
        else:
            enc = OneHotEncoder(categories=[f.categories], sparse_output=False, dtype=np.float64)
            block = enc.fit_transform(np.asarray(f.values).reshape(-1, 1))
        blocks.append(block)
        owner += [k] * block.shape[1]
    return np.hstack(blocks), owner


def import_shap():
    """The :mod:`shap` module, imported without the PendingDeprecationWarning its colour maps raise
    under recent matplotlib (shap's, not ours to fix)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    return shap


def explain_target(X: np.ndarray, owner: list[int], y: np.ndarray, *, seed: int = 0, n_trees: int = 100,
                   folds: int = 5) -> Explained | None:
    """Fit a seeded :class:`~sklearn.ensemble.RandomForestRegressor` on the finite values of ``y``.

    Returns the per-factor SHAP values (:class:`shap.TreeExplainer`) and the cross-validated R^2 of
    the module docstring, or ``None`` when fewer than 2 subjects have a finite target.
    """
    from sklearn.ensemble import RandomForestRegressor

    shap = import_shap()
    y = np.asarray(y, np.float64)
    mask = np.isfinite(y)
    if mask.sum() < 2:
        return None
    Xm, ym = X[mask], y[mask]

    def forest():
        return RandomForestRegressor(n_estimators=n_trees, random_state=seed, n_jobs=1)

    r2 = cv_r2(forest, Xm, ym, seed=seed, folds=folds)
    model = forest().fit(Xm, ym)
    explainer = shap.TreeExplainer(model)
    sv = np.asarray(explainer.shap_values(Xm), np.float64)
    n_f = max(owner) + 1
    per_factor = np.zeros((sv.shape[0], n_f))
    for col, k in enumerate(owner):
        per_factor[:, k] += sv[:, col]
    base = float(np.ravel(explainer.expected_value)[0])
    return Explained(per_factor, base, r2, int(mask.sum()), mask)


def cv_r2(make_model, X: np.ndarray, y: np.ndarray, *, seed: int = 0, folds: int = 5) -> float:
    """Pooled out-of-fold R^2 (NaN below :data:`MIN_CV_SUBJECTS` subjects or for a constant ``y``)."""
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold, cross_val_predict

    n = len(y)
    if n < MIN_CV_SUBJECTS or np.ptp(y) == 0:
        return math.nan
    cv = KFold(n_splits=min(int(folds), n), shuffle=True, random_state=seed)
    pred = cross_val_predict(make_model(), X, y, cv=cv)
    return float(r2_score(y, pred))


def factor_groups(factor, bins: int = 4) -> tuple[np.ndarray, list[str]]:
    """Group index per subject and group names: categories, or up to ``bins`` quantile bins of a numeric factor."""
    if factor.kind == "categorical":
        cats = factor.categories
        return np.array([cats.index(v) for v in factor.values.tolist()]), cats
    v = np.asarray(factor.values, np.float64)
    uniq = np.unique(v)
    if len(uniq) <= bins:
        return np.searchsorted(uniq, v), [f"{u:g}" for u in uniq]
    edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)))
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    names = [f"{edges[i]:.3g}-{edges[i + 1]:.3g}" for i in range(len(edges) - 1)]
    return idx, names


def factor_range(shap_col: np.ndarray, factor, bins: int = 4) -> tuple[float, str, str]:
    """``(range, lowest group, highest group)``: max - min over groups of the mean SHAP value."""
    idx, names = factor_groups(factor, bins)
    means = {g: float(np.mean(shap_col[idx == g])) for g in np.unique(idx)}
    lo, hi = min(means, key=means.get), max(means, key=means.get)
    return means[hi] - means[lo], names[lo], names[hi]
