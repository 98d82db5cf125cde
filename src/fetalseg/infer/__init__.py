"""Inference (:mod:`fetalseg.infer`): ``segment()`` and its building blocks.

* :mod:`.preprocess`: normalisation, brain-centred RAS model grid, exact inverse to the input grid;
* :mod:`.predictor`: :class:`Predictor` (any network callable, whole volume or sliding windows);
* :mod:`.models`: finding and loading exported models;
* :mod:`.tta`, :mod:`.ensemble`: flip TTA, mean / max-confidence merges;
* :mod:`.postprocess`: topology on probabilities before the arg-max;
* :mod:`.volumes`, :mod:`.qc`: soft volumes, QC score;
* :mod:`.segment`: :func:`segment`; :mod:`.batch`: many subjects with resume;
  :mod:`.segment_batch`: :func:`segment_batch`, files and datasets into an output folder (``fetalseg segment``).
"""

from .predictor import Predictor
from .segment import SegmentResult, run_segmentation, segment
from .segment_batch import segment_batch

__all__ = ["segment", "segment_batch", "run_segmentation", "SegmentResult", "Predictor"]
