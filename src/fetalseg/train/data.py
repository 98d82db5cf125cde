"""Training data: the label-map pool with on-the-fly synthesis, and the real validation set.

A *batch source* is any object with ``next_batch(step) -> (image, target)``: ``image`` float32
``[B, 1, X, Y, Z]`` in [0, 1] and ``target`` int64 ``[B, X, Y, Z]`` FeTA labels 0-7, on the training
device. The batch of a step is a pure function of ``(seed, rank, step)`` (a fresh generator is
seeded from them each step), so resuming a run at step ``k`` regenerates exactly the batches an
uninterrupted run would have seen, and every DDP rank draws its own samples.

* :class:`SynthSource` (``source: synth``): label maps of several datasets, picked by dataset weight
  then uniformly within a dataset, turned into images by :class:`fetalseg.synth.SynthGenerator`
  on the training device; with ``source: mixed``, a map that has a real T2w image (datasets with
  ``images: true``) is, with probability ``real_fraction``, that image spatially and intensity augmented
  (:mod:`fetalseg.synth.real`) instead of a synthetic one;
* :class:`RandomSource` (``source: random``): uniform noise and random labels, for speed benchmarks only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..errors import InputError
from ..io.intensity import normalise_percentile


class BatchSource(Protocol):
    def next_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step`` (deterministic in seed, rank and step)."""


def step_seed(seed: int, rank: int, step: int, stream: int = 0) -> int:
    """A 63-bit seed for one (seed, rank, step, stream) from NumPy's SeedSequence (well mixed)."""
    s = np.random.SeedSequence([int(seed), int(rank), int(step), int(stream)]).generate_state(1, np.uint64)[0]
    return int(s) & ((1 << 63) - 1)


class RandomSource:
    """Uniform-noise images and uniform random FeTA labels (speed benchmarks; nothing to learn)."""

    def __init__(self, patch_size, batch_size: int = 1, seed: int = 0, rank: int = 0, device="cpu", n_classes=8):
        self.shape = (batch_size, *patch_size)
        self.seed, self.rank, self.device, self.n_classes = seed, rank, torch.device(device), n_classes

    def next_batch(self, step: int):
        g = torch.Generator().manual_seed(step_seed(self.seed, self.rank, step))
        img = torch.rand((self.shape[0], 1, *self.shape[1:]), generator=g)
        tgt = torch.randint(0, self.n_classes, self.shape, generator=g)
        return img.to(self.device), tgt.to(self.device)


# ---------------------------------------------------------------------------------------------
def dataset_files(spec) -> list[Path]:
    """The label-map files of one :class:`~fetalseg.train.config.DatasetSpec`; raises InputError if none."""
    from ..datasets import nifti_files

    out = nifti_files(spec.paths, kind=spec.labels_key, strict=True, include=spec.include, exclude=spec.exclude)
    if not out:
        raise InputError(spec.paths[0] if spec.paths else None, "no label maps selected")
    return out


class SynthSource:
    """On-the-fly synthetic images from a pool of label maps (see module docstring).

    Parameters
    ----------
    pools : list of list of LongTensor [X, Y, Z]
        Generation-convention (or sub-class) label maps, one list per dataset.
    weights : list of float
        Relative weight of each dataset.
    synth_config : fetalseg.synth.SynthConfig
        Its ``output_shape`` must equal the training patch size.
    batch_size, seed, rank, device
        Samples per step, run seed, DDP rank, training device (maps are moved there once).
    map_weights : list of float, optional
        One weight per map (pools concatenated in order), e.g. the shape-sampler weights of
        ``fetalseg synth weights``; when given, maps are drawn by these weights instead.
    images : list of list of (FloatTensor [X, Y, Z] or None), optional
        Real images in [0, 1] on the grids of ``pools`` (None where a map has none), for mixed training.
    real_fraction : float
        Probability that a map with an image gives its augmented real image instead of a synthetic one.
    """

    def __init__(self, pools, weights, synth_config, batch_size=1, seed=0, rank=0, device="cpu",
                 map_weights=None, images=None, real_fraction=0.0):
        from ..synth import SynthGenerator

        if len(pools) != len(weights) or not pools or any(not p for p in pools):
            raise ValueError("need one non-empty pool of label maps per dataset weight")
        self.device = torch.device(device)
        self.pools = [[m.to(self.device) for m in pool] for pool in pools]
        w = torch.tensor(weights, dtype=torch.float64)
        self.weights = w / w.sum()
        self.generator = SynthGenerator(synth_config)
        self.images = None
        if images is not None and real_fraction > 0:
            if [len(x) for x in images] != [len(p) for p in pools]:
                raise ValueError("images must have one entry (tensor or None) per label map")
            self.images = [[None if im is None else im.to(self.device) for im in pool] for pool in images]
        self.real_fraction = float(real_fraction)
        self.batch_size, self.seed, self.rank = batch_size, seed, rank
        self.index = [(d, i) for d, pool in enumerate(self.pools) for i in range(len(pool))]
        self.map_weights = None
        if map_weights is not None:
            mw = torch.tensor(list(map_weights), dtype=torch.float64)
            if mw.shape != (len(self.index),) or bool((mw < 0).any()) or float(mw.sum()) <= 0:
                raise ValueError(f"need {len(self.index)} non-negative map weights with a positive sum")
            self.map_weights = mw / mw.sum()

    def pick(self, g: torch.Generator) -> tuple[int, int]:
        """(dataset index, map index): by map weight when given, else by dataset weight then uniformly."""
        if self.map_weights is not None:
            from ..synth.sampler import WeightedMapSampler

            return self.index[int(WeightedMapSampler(self.map_weights, g).draw(1)[0])]
        d = int(torch.multinomial(self.weights, 1, generator=g))
        i = int(torch.randint(len(self.pools[d]), (1,), generator=g))
        return d, i

    def next_batch(self, step: int):
        g = torch.Generator().manual_seed(step_seed(self.seed, self.rank, step))
        picks = [self.pick(g) for _ in range(self.batch_size)]
        if self.images is None:
            batch = self.generator.sample([self.pools[d][i] for d, i in picks], g)
            return batch.image.to(self.device), batch.target.to(self.device)
        from ..synth import random as R
        from ..synth.generator import _feta_lut
        from ..synth.real import apply_real, draw_real

        cfg, images, targets = self.generator.config, [], []
        for d, i in picks:
            m, real = self.pools[d][i], self.images[d][i]
            if real is not None and R.chance(g, self.real_fraction):
                x, lab = apply_real(cfg, m.long(), real, draw_real(cfg, m.long(), g, cfg.voxel_mm))
                images.append(x[None].float())
                targets.append(_feta_lut(lab.device)[lab.long()])
            else:
                b = self.generator.sample([m], g)
                images.append(b.image[0])
                targets.append(b.target[0])
        return torch.stack(images).to(self.device), torch.stack(targets).to(self.device)

    @classmethod
    def from_config(cls, cfg, rank: int = 0, device="cpu") -> "SynthSource":
        """Load every dataset of a :class:`~fetalseg.train.config.TrainConfig` (``source: synth``)."""
        from ..synth import SynthConfig, load_label_maps

        sc = SynthConfig.from_yaml(cfg.synth_config) if cfg.synth_config else SynthConfig()
        sc = SynthConfig.from_dict({**sc.to_dict(), **cfg.synth, "output_shape": list(cfg.patch_size),
                                    "voxel_mm": cfg.resolution_mm})
        pools, all_files, reals = [], [], []
        mixed = cfg.source == "mixed"
        for k, spec in enumerate(cfg.datasets):
            files = dataset_files(spec)
            all_files += files
            loaded = load_label_maps(files, spec.convention, subclasses=spec.subclasses > 0,
                                     n_max=max(1, spec.subclasses), seed=cfg.seed + 1000 * k,
                                     use_images=spec.subclass_images)
            maps = [to_resolution(im, cfg.resolution_mm) for im in loaded]
            pools.append([torch.from_numpy(np.ascontiguousarray(im.data)).to(torch.uint8) for im in maps])
            reals.append([real_image(f, m) if mixed and spec.images else None for f, m in zip(files, maps)])
        map_weights = None
        if cfg.sampler_weights:
            map_weights = weights_for_files(cfg.sampler_weights, all_files)
        return cls(pools, [d.weight for d in cfg.datasets], sc, cfg.batch_size, cfg.seed, rank, device,
                   map_weights=map_weights, images=reals if mixed else None,
                   real_fraction=cfg.real_fraction if mixed else 0.0)


def real_image(label_file, labels) -> torch.Tensor:
    """The T2w image next to ``label_file`` on the grid of the (resampled) label Image ``labels``,
    percentile-normalised to [0, 1] as at inference (float32 tensor). InputError when there is none."""
    from ..io import load_image, resample_image
    from ..synth import matching_image

    t2w = matching_image(label_file)
    if t2w is None:
        raise InputError(label_file, "has no T2w image next to it (the dataset has images: true)")
    img = load_image(t2w)
    if img.shape != labels.shape or not np.allclose(img.affine, labels.affine, atol=1e-3):
        img = resample_image(img, (labels.shape, labels.affine))
    return torch.from_numpy(normalise_percentile(img.data))


def weights_for_files(path, files) -> list[float]:
    """The weight of each of ``files`` in a shape-sampler weights JSON (``fetalseg synth weights``).

    Files are matched by resolved path; a file missing from the JSON raises :class:`InputError`.
    """
    from ..synth.sampler import load_weights

    data = load_weights(path)
    table = {str(Path(f).resolve()): float(w) for f, w in zip(data["files"], data["weights"])}
    out = []
    for f in files:
        key = str(Path(f).resolve())
        if key not in table:
            raise InputError(path, f"has no weight for training label map {f}")
        out.append(table[key])
    return out


def to_resolution(labels, resolution_mm: float):
    """A label :class:`~fetalseg.io.Image` resampled to isotropic ``resolution_mm`` (one-hot linear
    interpolation, arg-max) when its spacing differs by more than 2 %; else unchanged."""
    from ..io import grid_with_spacing, resample_labels

    if np.allclose(labels.spacing, resolution_mm, rtol=0.02):
        return labels
    shape, affine = grid_with_spacing(labels.shape, labels.affine, resolution_mm)
    return labels.with_data(resample_labels(labels.data, labels.affine, shape, affine, method="linear"), affine)


def make_source(cfg, rank: int = 0, device="cpu") -> BatchSource:
    """The batch source named by ``cfg.source``."""
    if cfg.source == "random":
        return RandomSource(cfg.patch_size, cfg.batch_size, cfg.seed, rank, device)
    # synth and mixed
    return SynthSource.from_config(cfg, rank, device)


# ---------------------------------------------------------------------------------------------
@dataclass
class ValidationCase:
    """One real validation pair: ``image`` float32 [1, 1, X, Y, Z] normalised, ``target`` uint8 (X, Y, Z) FeTA."""

    id: str
    image: torch.Tensor
    target: np.ndarray


def validation_pairs(spec) -> list[tuple[str, Path, Path]]:
    """(id, t2w, dseg) for a :class:`~fetalseg.train.config.ValidationSpec`."""
    from ..datasets import discover, subject_id

    out = []
    for p in spec.paths:
        if isinstance(p, (list, tuple)):
            if len(p) != 2:
                raise InputError(None, f"validation pair must be [t2w, dseg], got {p}")
            t2w, dseg = map(Path, p)
            out.append((subject_id(t2w) or t2w.name.split(".")[0], t2w, dseg))
            continue
        p = Path(p)
        if not p.is_dir():
            raise InputError(p, "validation path must be a FeTA/BIDS folder or a [t2w, dseg] pair")
        for s in discover(p, require="both"):
            if (spec.include is None or s.id in spec.include) and s.id not in spec.exclude:
                out.append((s.id, Path(s.t2w), Path(s.dseg)))
    return out


def load_validation(spec, resolution_mm: float = 0.8) -> list[ValidationCase]:
    """Load, resample to ``resolution_mm`` isotropic when needed, and normalise the validation pairs."""
    from ..io import load_image, resample_image
    from ..labels import FETA

    cases = []
    for sid, t2w, dseg in validation_pairs(spec):
        img = load_image(t2w)
        lab = load_image(dseg, labels=FETA)
        if img.shape != lab.shape or not np.allclose(img.affine, lab.affine, atol=1e-3):
            raise InputError(dseg, f"grid differs from its image {t2w}")
        if not np.allclose(img.spacing, resolution_mm, rtol=0.02):
            lab = to_resolution(lab, resolution_mm)
            img = resample_image(img, (lab.shape, lab.affine))
        x = torch.from_numpy(normalise_percentile(img.data))[None, None]
        cases.append(ValidationCase(sid, x, np.asarray(lab.data, dtype=np.uint8)))
    return cases
