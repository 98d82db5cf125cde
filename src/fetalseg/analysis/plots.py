"""PNG figures of an explained metric: SHAP beeswarm and per-factor dependence (matplotlib, Agg)."""

from __future__ import annotations

import os

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def factor_codes(factor) -> np.ndarray:
    """Numeric values for colouring/plotting: the values of a numeric factor, category indices otherwise."""
    if factor.kind == "numeric":
        return np.asarray(factor.values, np.float64)
    cats = factor.categories
    return np.array([cats.index(v) for v in factor.values.tolist()], np.float64)


def beeswarm(path: str | os.PathLike, shap_values: np.ndarray, base: float, factors, title: str,
             overwrite: bool = False) -> None:
    """SHAP beeswarm (:func:`shap.plots.beeswarm`) of per-factor SHAP values (n_subjects, n_factors).

    Colours are the factor value (numeric) or the category index (categorical, sorted names).
    """
    from ..io import atomic_path
    from .forest import import_shap

    shap = import_shap()
    plt = _plt()
    data = np.stack([factor_codes(f) for f in factors], axis=1)
    exp = shap.Explanation(values=shap_values, base_values=np.full(len(shap_values), base), data=data,
                           feature_names=[f.name for f in factors])
    from matplotlib.ticker import MaxNLocator

    plt.figure(figsize=(8, 1.8 + 0.55 * len(factors)))
    shap.plots.beeswarm(exp, max_display=len(factors), show=False, plot_size=None)
    fig = plt.gcf()
    ax = fig.axes[0]
    ax.set_title(title, fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(axis="x", labelsize=9)
    ax.set_xlabel("SHAP value (metric units)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def dependence(path: str | os.PathLike, shap_values: np.ndarray, factors, ranges, unit: str, title: str,
               overwrite: bool = False, seed: int = 0) -> None:
    """One panel per factor: SHAP value (metric units) against the factor value, with group means.

    ``ranges`` holds the factor ranges (same order); categorical factors are spread with a small
    seeded jitter on their category positions.
    """
    from ..io import atomic_path
    from .forest import factor_groups

    plt = _plt()
    rng = np.random.default_rng(seed)
    n = len(factors)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.0), squeeze=False, sharey=True)
    for k, (f, ax) in enumerate(zip(factors, axes[0])):
        x = factor_codes(f)
        if f.kind == "categorical":
            x = x + rng.uniform(-0.15, 0.15, size=len(x))
            ax.set_xticks(range(len(f.categories)), f.categories, rotation=30, fontsize=7)
        ax.scatter(x, shap_values[:, k], s=14, alpha=0.75, color="#1f77b4")
        idx, names = factor_groups(f)
        centres = [float(np.mean(factor_codes(f)[idx == g])) for g in range(len(names)) if np.any(idx == g)]
        means = [float(np.mean(shap_values[idx == g, k])) for g in range(len(names)) if np.any(idx == g)]
        ax.plot(centres, means, "o-" if f.kind == "numeric" else "o", color="#d62728", lw=1.5, ms=6,
                label="group mean")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel(f.name, fontsize=8)
        ax.set_title(f"range {ranges[k]:.3g}", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel(f"SHAP value ({unit})", fontsize=8)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
