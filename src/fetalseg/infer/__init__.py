"""Inference (:mod:`fetalseg.infer`): ``segment()`` and its building blocks.

* :mod:`.preprocess`: normalisation, brain-centred RAS model grid, exact inverse to the input grid;
* :mod:`.predictor`: :class:`Predictor` (any network callable, whole volume or sliding windows);
* :mod:`.models`: finding and loading exported models;
* :mod:`.tta`, :mod:`.ensemble`: flip TTA, mean / max-confidence merges;
* :mod:`.postprocess`: topology on probabilities before the arg-max;
* :mod:`.volumes`, :mod:`.qc`: soft volumes, QC score;
* :mod:`.segment`: :func:`segment`; :mod:`.batch`: many subjects with resume.
"""

from .predictor import Predictor
from .segment import SegmentResult, run_segmentation, segment

__all__ = ["segment", "run_segmentation", "SegmentResult", "Predictor"]
