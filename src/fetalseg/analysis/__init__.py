"""Domain-shift analysis (:mod:`fetalseg.analysis`): which factors drive a cohort's segmentation metrics.

As in the FeTA 2024 challenge analysis (Zalevskyi et al. 2025): per-case metrics from
``fetalseg evaluate`` are joined with participant factors (image quality, gestational age,
pathology, site), one random forest per metric is fitted and cross-validated, and SHAP
(TreeExplainer) attributes each case's metric to the factors. :func:`analyze` writes the table of
mean |SHAP| and ranges per factor, beeswarm and dependence plots and a Markdown summary.

- :mod:`~fetalseg.analysis.data`: reading and joining metrics and participants;
- :mod:`~fetalseg.analysis.forest`: design matrix, forest, cross-validated R^2, SHAP per factor, ranges;
- :mod:`~fetalseg.analysis.plots`: beeswarm and dependence figures;
- :mod:`~fetalseg.analysis.summary`: the Markdown summary;
- :mod:`~fetalseg.analysis.run`: :func:`analyze`.

Heavy libraries (scikit-learn, shap, matplotlib) are imported inside the functions that use them.
"""

from .data import DEFAULT_FACTORS, DEFAULT_METRICS, CaseTable, Factor, load_cases
from .run import Analysis, TargetResult, analyze, explain_all

__all__ = ["analyze", "explain_all", "load_cases", "Analysis", "TargetResult", "CaseTable", "Factor",
           "DEFAULT_FACTORS", "DEFAULT_METRICS"]
