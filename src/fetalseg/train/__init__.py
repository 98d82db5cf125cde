"""Training from label maps (:mod:`fetalseg.train`).

* :class:`TrainConfig` (YAML) - :func:`train` (the loop; DDP under torchrun) - :func:`export_run`;
* :class:`DeepSupervisionLoss`, :func:`level_weights`;
* :func:`save_checkpoint` / :func:`load_checkpoint` (atomic, every RNG state);
* :class:`SynthSource`, :class:`RandomSource` (batch sources), :func:`load_validation`;
* :func:`plot_curves` (PNG learning curve).
"""

from .checkpoint import load_checkpoint, restore, save_checkpoint
from .config import DatasetSpec, OptimSpec, TrainConfig, ValidationSpec
from .curves import plot_curves, read_log
from .data import RandomSource, SynthSource, load_validation, make_source, step_seed
from .export import export_run
from .loop import dice_per_label, evaluate, train
from .loss import DeepSupervisionLoss, level_weights

__all__ = [
    "TrainConfig", "DatasetSpec", "ValidationSpec", "OptimSpec", "train", "export_run",
    "DeepSupervisionLoss", "level_weights", "save_checkpoint", "load_checkpoint", "restore",
    "SynthSource", "RandomSource", "make_source", "load_validation", "step_seed",
    "plot_curves", "read_log", "dice_per_label", "evaluate",
]
