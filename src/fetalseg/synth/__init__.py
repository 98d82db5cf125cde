"""SynthSeg-style synthetic training data for fetal brain MRI (:mod:`fetalseg.synth`).

* :class:`SynthConfig` - every step's probability and range (YAML load/dump);
* :class:`SynthGenerator` - label maps -> :class:`SynthBatch` (image in [0, 1], FeTA target, params);
* :func:`load_label_maps`, :func:`make_subclasses`, :class:`SubclassMap` - inputs in the generation
  label convention, with intensity sub-classes;
* :func:`shape_features`, :func:`sampler_weights`, :class:`WeightedMapSampler` - the data-driven shape
  sampler (fetal SynthSeg fork);
* :func:`write_pairs`, :func:`write_sampler_weights`, :func:`write_config` - the files of ``fetalseg synth``,
  ``synth weights`` and ``synth config``.

Heavy optional parts (sklearn, skimage) are imported lazily inside functions.
"""

from .config import SynthConfig
from .data import load_label_maps, matching_image, to_generation
from .generator import SynthBatch, SynthGenerator
from .sampler import (
    FEATURE_NAMES, WeightedMapSampler, cluster_weights, load_weights, sampler_weights, save_weights, shape_features,
    uniform_weights,
)
from .pairs import write_pairs
from .subclasses import N_SUB_MAX, STRIDE, SubclassMap, make_subclasses, parent_labels
from .weights_file import write_config, write_sampler_weights

__all__ = [
    "SynthConfig", "SynthGenerator", "SynthBatch", "load_label_maps", "to_generation", "matching_image",
    "SubclassMap", "make_subclasses", "parent_labels", "STRIDE", "N_SUB_MAX",
    "shape_features", "cluster_weights", "sampler_weights", "uniform_weights", "save_weights", "load_weights",
    "WeightedMapSampler", "FEATURE_NAMES", "write_pairs", "write_sampler_weights", "write_config",
]
