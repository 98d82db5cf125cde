"""FeTA 2024 evaluation metrics (:mod:`fetalseg.metrics`).

- :mod:`~fetalseg.metrics.topology`: Euler characteristic and Betti numbers (6/26 connectivity), re-exported
  from :mod:`fetalseg.masks`, the floor where packages upstream of the metrics take them;
- :mod:`~fetalseg.metrics.overlap`: Dice and volume similarity;
- :mod:`~fetalseg.metrics.surface`: HD95 exactly as DeepMind's ``surface-distance`` (FeTA's choice);
- :mod:`~fetalseg.metrics.evaluate`: per-case rows and summaries;
- :mod:`~fetalseg.metrics.files`: :class:`FileEvaluation`, prediction and reference files paired by subject;
- :mod:`~fetalseg.metrics.ranking`: the FeTA ranking of methods.

Imports stay cheap (numpy, scipy, cc3d only; no torch).
"""

from .evaluate import COLUMNS, METRICS, evaluate_case, parse_empty, read_csv, summarize, write_csv
from .files import FileEvaluation
from .overlap import confusion, dice, volume_similarity
from .ranking import competition_rank, method_means, rank_methods
from .surface import hausdorff95, robust_hausdorff, surface_distances, surface_points, surfel_area_table
from .topology import bbox_crop, betti_numbers, euler_characteristic

__all__ = [
    "bbox_crop", "betti_numbers", "euler_characteristic",
    "confusion", "dice", "volume_similarity",
    "hausdorff95", "robust_hausdorff", "surface_distances", "surface_points", "surfel_area_table",
    "COLUMNS", "METRICS", "FileEvaluation", "evaluate_case", "parse_empty", "summarize", "read_csv", "write_csv",
    "competition_rank", "method_means", "rank_methods",
]
