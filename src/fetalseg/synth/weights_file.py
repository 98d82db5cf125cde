"""The shape-sampler weights file from label-map folders and files (what ``fetalseg synth weights`` writes),
and the synth settings file (``fetalseg synth config``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from ..errors import InputError


def group_inputs(paths: Sequence[str | os.PathLike]) -> list[list[Path]]:
    """Label maps grouped by dataset: each folder is one dataset (FeTA/BIDS folders give their dseg
    files, other folders every NIfTI in them), and the files given directly form one more, last."""
    from ..datasets import nifti_files

    datasets, loose = [], []
    for p in map(Path, paths):
        (datasets.append if p.is_dir() else loose.extend)(nifti_files([p], kind="dseg"))
    if loose:
        datasets.append(loose)
    return datasets


def write_sampler_weights(paths: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                          shares: Sequence[float] | None = None, seed: int = 0, convention: str = "auto",
                          overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> dict:
    """Compute the shape-sampler weights of the label maps of ``paths`` and write them to ``output``.

    Parameters
    ----------
    paths : sequence of path-like
        Folders (one dataset each) and label-map files (together one dataset), see :func:`group_inputs`.
    output : path-like
        The ``.json`` file (:func:`~fetalseg.synth.save_weights`).
    shares : sequence of float, optional
        Mass of each dataset, in the order of :func:`group_inputs` (default equal).
    seed, convention
        As in :func:`~fetalseg.synth.sampler_weights`.
    progress : callable, optional
        ``progress(done, total)`` after each label map.

    Returns
    -------
    dict
        The weights as written (:func:`~fetalseg.synth.sampler_weights`).
    """
    from ..io import check_writable
    from .pairs import check_convention
    from .sampler import sampler_weights, save_weights

    check_convention(convention)
    if not paths:
        raise InputError(None, "`paths` is empty: the shape sampler needs label-map folders or files", param="paths")
    if not str(output).endswith(".json"):
        raise InputError(output, "weights output must be a .json file")
    check_writable(output, overwrite)
    datasets = group_inputs(paths)
    if shares is not None and len(shares) != len(datasets):
        raise InputError(None, f"`shares` has {len(shares)} values for {len(datasets)} datasets", param="shares")
    total, done = sum(len(d) for d in datasets), []

    def step(_path) -> None:
        done.append(_path)
        if progress is not None:
            progress(len(done), total)

    result = sampler_weights(datasets, None if shares is None else list(shares), seed, convention=convention,
                             progress=step)
    save_weights(result, output, overwrite=overwrite)
    return result


def write_config(output: str | os.PathLike, base: str | os.PathLike | None = None, overwrite: bool = False):
    """Write every :class:`~fetalseg.synth.SynthConfig` setting to the YAML file ``output``, with its
    default value, or its value in the YAML file ``base``; returns the config."""
    from ..io import check_writable
    from .config import SynthConfig

    if not str(output).endswith((".yaml", ".yml")):
        raise InputError(output, "config output must be a .yaml or .yml file")
    check_writable(output, overwrite)
    cfg = SynthConfig.from_yaml(base) if base is not None else SynthConfig()
    cfg.to_yaml(output, overwrite=overwrite)
    return cfg
