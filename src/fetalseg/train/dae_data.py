"""DAE training configuration and data: clean FeTA label maps, and corrupted, softened patches of them.

Clean maps: the FeTA label maps (``*_dseg``) of a FeTA/BIDS folder (held-out subjects excluded)
and simulated phantoms (:func:`fetalseg.phantom.make_subject`), all resampled (nearest label) to
``resolution_mm``. A training pair: a random patch of a random map, corrupted
(:func:`fetalseg.train.dae_corrupt.corrupt`) and softened into probabilities
(:func:`~fetalseg.train.dae_corrupt.soften`), with the clean patch as target.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

HELD_OUT = ["sub-sb23pre", "sub-sb28op", "sub-sb33op"]


@dataclass
class DaeTrainConfig:
    """Settings of ``fetalseg train-dae`` (YAML keys of the same names).

    ``atlas``: FeTA/BIDS folder of label maps (None: phantoms only); ``exclude``: its held-out
    subjects; ``phantoms``: number of simulated subjects (GA 20-36 weeks, mixed pathologies,
    seeds from ``phantom_seed``); ``resolution_mm``: isotropic grid of every map; ``patch``: cube
    side in voxels; ``corruptions``: names from :data:`~fetalseg.train.dae_corrupt.CORRUPTIONS`
    (empty: all), ``n_corruptions``: [min, max] per patch; ``widths``: DAE encoder widths;
    ``val_every``: steps between validations on ``val_patches`` fixed corrupted patches.
    """

    name: str = "dae"
    atlas: str | None = None
    exclude: list[str] = field(default_factory=lambda: list(HELD_OUT))
    phantoms: int = 6
    phantom_seed: int = 100
    resolution_mm: float = 1.6
    patch: int = 48
    batch: int = 2
    steps: int = 500
    lr: float = 0.002
    corruptions: list[str] = field(default_factory=list)
    n_corruptions: list[int] = field(default_factory=lambda: [2, 8])
    widths: list[int] = field(default_factory=lambda: [14, 28, 56])
    seed: int = 0
    val_every: int = 100
    val_patches: int = 4
    checkpoint_every: int = 50

    @classmethod
    def from_dict(cls, d: dict, base: str | os.PathLike | None = None) -> "DaeTrainConfig":
        """Build from a plain dict (unknown keys and wrong types raise :class:`InputError`); ``atlas`` is
        resolved against ``base``."""
        from .config import _check_fields
        from .dae_corrupt import CORRUPTIONS

        if not isinstance(d, dict):
            raise InputError(None, "config must be a mapping of key: value")
        _check_fields(cls, d, "config")
        cfg = cls(**d)
        if cfg.atlas is not None and base is not None:
            cfg.atlas = str((Path(base) / cfg.atlas).resolve())
        bad = [c for c in cfg.corruptions if c not in CORRUPTIONS]
        problems = [
            (bool(bad), f"corruptions: unknown {bad}; known: {list(CORRUPTIONS)}"),
            (len(cfg.n_corruptions) != 2 or not 0 <= cfg.n_corruptions[0] <= cfg.n_corruptions[1],
             "n_corruptions must be [min, max] with 0 <= min <= max"),
            (len(cfg.widths) != 3 or min(cfg.widths) < 1, "widths must be 3 positive integers"),
            (cfg.atlas is None and cfg.phantoms < 1, "no data: give atlas or phantoms >= 1"),
            (min(cfg.steps, cfg.batch, cfg.val_every, cfg.checkpoint_every, cfg.val_patches) < 1,
             "steps, batch, val_every, checkpoint_every and val_patches must be >= 1"),
            (cfg.patch < 16 or cfg.patch % 8, "patch must be a multiple of 8, at least 16"),
            (not 0.3 <= cfg.resolution_mm <= 3.0, "resolution_mm must be within 0.3-3.0"),
        ]
        for failed, msg in problems:
            if failed:
                raise InputError(None, msg)
        return cfg

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "DaeTrainConfig":
        from ..io.yamlfile import read_yaml_mapping

        path = Path(path)
        try:
            return cls.from_dict(read_yaml_mapping(path, "config"), base=path.resolve().parent)
        except InputError as exc:
            if exc.path is not None:
                raise
            raise InputError(path, exc.problem) from None

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _on_grid(labels: np.ndarray, affine: np.ndarray, resolution_mm: float) -> np.ndarray:
    from ..io import grid_with_spacing, resample_labels

    shape, aff = grid_with_spacing(labels.shape, affine, resolution_mm)
    return np.asarray(resample_labels(labels, affine, shape, aff), np.uint8)


def clean_maps(cfg: DaeTrainConfig) -> list[tuple[str, np.ndarray]]:
    """``[(name, uint8 FeTA labels on the cfg grid)]``: atlas training subjects, then phantoms."""
    from ..io import load_image
    from ..labels import FETA

    out = []
    if cfg.atlas is not None:
        from ..datasets import discover

        for sub in discover(cfg.atlas, require="dseg").subjects:
            if sub.id in cfg.exclude:
                continue
            img = load_image(sub.dseg, labels=FETA)
            out.append((sub.id, _on_grid(np.asarray(img.data, np.uint8), img.affine, cfg.resolution_mm)))
    if cfg.phantoms:
        from ..phantom import make_subject

        rng = np.random.default_rng(cfg.phantom_seed)
        kinds = ("normal", "normal", "vm", "acc", "sb", "micro")
        for i in range(cfg.phantoms):
            ga = float(rng.uniform(20, 36))
            sim = make_subject(ga, kinds[i % len(kinds)], voxel=cfg.resolution_mm, seed=cfg.phantom_seed + i)
            out.append((f"phantom-{i}", np.asarray(sim.labels.data, np.uint8)))
    return out


def random_patch(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size``^3 patch (zero-padded where the map is smaller) centred on a random brain voxel."""
    fg = np.argwhere(labels > 0)
    centre = fg[rng.integers(len(fg))] if len(fg) else np.array(labels.shape) // 2
    out = np.zeros((size,) * 3, np.uint8)
    src, dst = [], []
    for c, n in zip(centre, labels.shape):
        lo = int(c) - size // 2
        a, b = max(lo, 0), min(lo + size, n)
        src.append(slice(a, b))
        dst.append(slice(a - lo, b - lo))
    out[tuple(dst)] = labels[tuple(src)]
    return out


def training_pair(maps, cfg: DaeTrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(probs (C, P, P, P) float32, clean labels (P, P, P) int64)`` from a random map."""
    from .dae_corrupt import corrupt, soften

    clean = random_patch(maps[int(rng.integers(len(maps)))][1], cfg.patch, rng)
    bad = corrupt(clean, rng, tuple(cfg.n_corruptions), cfg.corruptions or None)
    return soften(bad, rng), clean.astype(np.int64)
