"""Synthetic image/label pairs written to a folder: what ``fetalseg synth`` makes.

For ``n`` samples: ``synth-NNNN_T2w.nii.gz`` (float32 image in [0, 1]) and ``synth-NNNN_dseg.nii.gz``
(uint8 FeTA labels), ``synth-params.json`` (the config, the seed and every drawn parameter of every
sample) and ``synth-mosaic.png`` (middle slices with the labels outlined). Label maps are used in turn,
or drawn by shape-sampler weights (:mod:`fetalseg.synth.sampler`). Everything is checked and every
label map is loaded before the first file is written; the same seed gives the same files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError

CONVENTIONS = ("auto", "feta", "withcc", "generation")


def check_convention(convention: str) -> None:
    """InputError unless ``convention`` is one of :data:`CONVENTIONS`."""
    if convention not in CONVENTIONS:
        raise InputError(None, f"`convention` must be auto, feta, withcc or generation, got {convention!r}",
                         param="convention")


def voxel_space_affine(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """Affine (4, 4) of a volume made in the voxel space of a label map: array axes as world axes,
    voxels of ``spacing`` mm, the volume centre at the world origin. The generator works in its input's
    voxel space, so this is the affine of its outputs."""
    spacing = np.asarray(spacing, dtype=np.float64)
    aff = np.diag([*spacing, 1.0])
    aff[:3, 3] = -(np.asarray(shape) - 1) / 2 * spacing
    return aff


@dataclass
class PairsPlan:
    """What :func:`write_pairs` will do, checked before anything is written."""

    files: list[Path]  # label maps that may be used
    order: list[int]  # index into ``files`` of each sample
    names: list[Path]  # image, labels of each sample, then the params JSON and the mosaic PNG
    config: object  # SynthConfig
    device: object  # torch.device


def _sample_files(paths, weights, seed: int, n: int) -> tuple[list[Path], list[int]]:
    """The label maps and the map used by each sample: in turn, or drawn by the weights JSON."""
    import torch

    from ..datasets import nifti_files
    from .sampler import WeightedMapSampler, load_weights

    if weights is None:
        if not paths:
            raise InputError(None, "no label maps given")
        files = nifti_files(paths, kind="dseg")
        return files, [i % len(files) for i in range(n)]
    wdata = load_weights(weights)
    files = [Path(f) for f in wdata["files"]]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise InputError(weights, f"lists {len(missing)} missing label maps, e.g. {missing[0]}")
    return files, WeightedMapSampler(wdata, torch.Generator().manual_seed(seed)).draw(n).tolist()


def plan_pairs(paths, output, *, n: int = 8, seed: int = 0, config=None, weights=None, convention: str = "auto",
               columns: int = 4, overwrite: bool = False) -> PairsPlan:
    """Check the arguments of :func:`write_pairs` and the outputs; nothing is read but the config and weights."""
    import torch

    from ..io import check_writable
    from .config import SynthConfig

    check_convention(convention)
    if n < 1:
        raise InputError(None, f"`n` must be at least 1, got {n}", param="n")
    if columns < 1:
        raise InputError(None, f"`columns` must be at least 1, got {columns}", param="columns")
    cfg = SynthConfig.from_yaml(config) if config is not None else SynthConfig()
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(config, f"device {cfg.device} requested but no CUDA GPU is available")
    files, order = _sample_files(paths, weights, seed, n)
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(output, "exists and is not a folder")
    names = [output / f"synth-{i:04d}_{kind}.nii.gz" for i in range(n) for kind in ("T2w", "dseg")]
    names += [output / "synth-params.json", output / "synth-mosaic.png"]
    for p in names:
        check_writable(p, overwrite)
    return PairsPlan(files, order, names, cfg, device)


def _load_maps(plan: PairsPlan, convention: str, subclasses: bool, seed: int) -> dict:
    """Every label map the plan uses, loaded and validated (map ``i`` seeded with ``seed + i``)."""
    from .data import guess_convention, load_label_maps

    maps = {}
    for i in sorted(set(plan.order)):
        conv = guess_convention(plan.files[i]) if convention == "auto" else convention
        maps[i] = load_label_maps([plan.files[i]], conv, subclasses=subclasses, seed=seed + i)[0]
    return maps


def _generate(plan: PairsPlan, maps: dict, seed: int, overwrite: bool, progress) -> tuple[list, list]:
    """Draw and save every pair; returns the params records and the mosaic panels."""
    import torch

    from ..io import Image, save_image
    from .generator import SynthGenerator
    from .preview import describe

    gen, g = SynthGenerator(plan.config), torch.Generator().manual_seed(seed)
    records, previews, names = [], [], plan.names
    for k, i in enumerate(plan.order):
        img = maps[i]
        lab = torch.from_numpy(img.data.astype(np.int64))[None].to(plan.device)
        batch = gen.sample(lab, g, spacing=float(np.mean(img.spacing)))
        x = batch.image[0, 0].cpu().numpy()
        t = batch.target[0].cpu().numpy().astype(np.uint8)
        aff = voxel_space_affine(x.shape, img.spacing)
        save_image(Image(x.astype(np.float32), aff), names[2 * k], overwrite=overwrite)
        save_image(Image(t, aff), names[2 * k + 1], overwrite=overwrite)
        records.append({"index": k, "source": str(plan.files[i]), "image": names[2 * k].name,
                        "labels": names[2 * k + 1].name, "params": batch.params[0]})
        previews.append((x, t, describe(batch.params[0])))
        if progress is not None:
            progress(k + 1, len(plan.order))
    return records, previews


def write_pairs(paths: Sequence[str | os.PathLike], output: str | os.PathLike, *, n: int = 8, seed: int = 0,
                config=None, weights=None, convention: str = "auto", subclasses: bool = True, columns: int = 4,
                overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> PairsPlan:
    """Write ``n`` synthetic image/label pairs from label maps into the folder ``output`` (module docstring).

    Parameters
    ----------
    paths : sequence of path-like
        Label-map files, FeTA/BIDS folders (their dseg files) or flat folders (ignored with ``weights``).
    n, seed : int
        Number of pairs; random seed (same seed, same files).
    config : path-like, optional
        YAML file of :class:`~fetalseg.synth.SynthConfig` fields (default settings otherwise).
    weights : path-like, optional
        Shape-sampler weights JSON: label maps are drawn from its file list by these weights.
    convention : {'auto', 'feta', 'withcc', 'generation'}
        Label convention of the maps ('auto': ``*desc-withcc*`` files are withcc, others FeTA/generation).
    subclasses : bool
        Split each label into intensity sub-classes (:func:`~fetalseg.synth.make_subclasses`).
    columns : int
        Columns of the PNG mosaic.
    progress : callable, optional
        ``progress(done, total)`` after each pair.

    Returns
    -------
    PairsPlan
        The files used and written (``names[-2]``: params JSON, ``names[-1]``: mosaic).
    """
    from ..io import check_writable, write_text
    from .preview import mosaic

    plan = plan_pairs(paths, output, n=n, seed=seed, config=config, weights=weights, convention=convention,
                      columns=columns, overwrite=overwrite)
    maps = _load_maps(plan, convention, subclasses, seed)  # every map validated before writing anything
    Path(output).mkdir(parents=True, exist_ok=True)
    check_writable(plan.names[-1], overwrite)
    records, previews = _generate(plan, maps, seed, overwrite, progress)
    write_text(plan.names[-2], json.dumps({"config": plan.config.to_dict(), "seed": seed, "samples": records},
                                          indent=1) + "\n", overwrite=overwrite)
    mosaic([p[0] for p in previews], [p[1] for p in previews], plan.names[-1], titles=[p[2] for p in previews],
           columns=columns, overwrite=overwrite)
    return plan
