"""Training configuration: one dataclass tree, read from and written to YAML.

Relative paths in a YAML file are resolved against the folder of that file; the run folder keeps
the resolved config (absolute paths) as ``config.yaml`` so a run can be resumed or repeated from it.
Unknown keys, values of the wrong type and invalid values are :class:`~fetalseg.errors.InputError`
naming the key (a typo must not silently fall back to a default), raised when the config is built,
before any training work.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

from ..errors import InputError

SOURCES = ("synth", "mixed", "random")
OPTIMISERS = ("adamw", "sgd")


@dataclass
class DatasetSpec:
    """One set of training label maps.

    ``paths``: NIfTI files or folders (a FeTA/BIDS folder with ``sub-*`` gives one label map per
    subject, chosen by ``labels_key``; another folder gives all its NIfTI files). ``include`` /
    ``exclude``: subject ids kept / dropped (BIDS folders only). ``convention``: label convention of
    the files ('feta', 'withcc', 'generation'; None guesses from the name). ``weight``: relative
    sampling weight of the dataset (maps within it are drawn uniformly).
    """

    paths: list[str] = field(default_factory=list)
    name: str = ""
    labels_key: str = "dseg"
    convention: str | None = None
    include: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    weight: float = 1.0
    images: bool = False
    """``source: mixed`` only: the T2w image next to each label map (``*_T2w`` beside ``*_dseg``) is also
    used as a real training image (spatial + intensity augmentation, :mod:`fetalseg.synth.real`)."""
    subclasses: int = 0
    """Split each label into up to this many intensity sub-classes (1-6; 0: off), fixed per map when the maps
    are loaded (:func:`fetalseg.synth.make_subclasses`, SynthSeg's sub-clusters): each gets its own random
    Gaussian, so a label is no longer one intensity (the subplate and intermediate zone of the white matter,
    say). By k-means on the T2w next to each map when ``subclass_images`` and there is one on the same grid,
    else by smooth random partitions."""
    subclass_images: bool = True
    """Whether k-means may use the T2w next to a map (turn off for noisy simulated images, e.g. phantoms)."""


@dataclass
class ValidationSpec:
    """Real image/label pairs for validation (FeTA labels): BIDS folders or ``[t2w, dseg]`` file pairs.

    ``every``: validate every N steps (and at the last step); 0 disables validation.
    """

    paths: list = field(default_factory=list)
    include: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    every: int = 100


@dataclass
class OptimSpec:
    """Optimiser (AdamW or SGD with Nesterov momentum) with poly learning-rate decay
    ``lr * (1 - step / steps) ** poly_power``; gradients are clipped to norm ``grad_clip`` (0: off)."""

    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 3e-5
    momentum: float = 0.99
    poly_power: float = 0.9
    grad_clip: float = 12.0
    warmup_steps: int = 0
    """Linear learning-rate warm-up from lr / warmup_steps to lr over the first steps (warm starts)."""


@dataclass
class TrainConfig:
    """Everything a training run needs. See ``configs/*.yaml`` and ``docs/training.md``."""

    name: str = "run"
    seed: int = 0
    steps: int = 1000
    batch_size: int = 1
    patch_size: tuple[int, int, int] = (128, 128, 128)
    resolution_mm: float = 0.8
    network: dict = field(default_factory=lambda: {"preset": "default"})
    source: str = "synth"
    real_fraction: float = 0.5
    """``source: mixed``: probability that a sample is an augmented real image rather than a synthetic one."""
    init_from: str | None = None
    """A model file (``.safetensors`` from ``fetalseg export``) whose weights start the run (warm start);
    its network must equal ``network``. Ignored when resuming from a checkpoint."""
    synth: dict = field(default_factory=dict)
    synth_config: str | None = None
    datasets: list[DatasetSpec] = field(default_factory=list)
    sampler_weights: str | None = None
    validation: ValidationSpec = field(default_factory=ValidationSpec)
    optim: OptimSpec = field(default_factory=OptimSpec)
    bf16: str | bool = "auto"
    """'auto', 'true' or 'false' (YAML booleans accepted); normalised to one of these strings."""
    checkpoint_every: int = 100
    threads: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        self.patch_size = tuple(int(s) for s in self.patch_size)  # type: ignore[assignment]
        self.bf16 = str(self.bf16).lower()
        if self.bf16 in ("true", "yes", "on", "1"):
            self.bf16 = "true"
        elif self.bf16 in ("false", "no", "off", "0"):
            self.bf16 = "false"
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~fetalseg.errors.InputError` naming the first bad field."""
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise _bad("steps, batch_size and checkpoint_every must be >= 1")
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise _bad(f"patch_size must be three positive ints, got {self.patch_size}")
        if not self.resolution_mm > 0:
            raise _bad(f"resolution_mm must be > 0, got {self.resolution_mm}")
        if self.source not in SOURCES:
            raise _bad(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.source in ("synth", "mixed") and not self.datasets:
            raise _bad(f"source {self.source!r} needs at least one entry in datasets")
        if self.source == "mixed" and not any(d.images for d in self.datasets):
            raise _bad("source 'mixed' needs a dataset with images: true")
        if not 0.0 <= self.real_fraction <= 1.0:
            raise _bad(f"real_fraction must be in [0, 1], got {self.real_fraction}")
        if self.optim.warmup_steps < 0:
            raise _bad(f"optim.warmup_steps must be >= 0, got {self.optim.warmup_steps}")
        if self.optim.name not in OPTIMISERS:
            raise _bad(f"optim.name must be one of {OPTIMISERS}, got {self.optim.name!r}")
        if self.optim.lr <= 0 or self.optim.poly_power < 0:
            raise _bad("optim.lr must be > 0 and optim.poly_power >= 0")
        if self.bf16 not in ("auto", "true", "false"):
            raise _bad(f"bf16 must be auto, true or false, got {self.bf16!r}")
        if self.validation.every < 0:
            raise _bad("validation.every must be >= 0")
        for d in self.datasets:
            if d.weight <= 0:
                raise _bad(f"dataset {d.name or d.paths} weight must be > 0")
            if not 0 <= d.subclasses <= 6:
                raise _bad(f"dataset {d.name or d.paths} subclasses must be in 0..6, got {d.subclasses}")
            if not d.paths:
                raise _bad("every dataset needs paths")
        from ..nets import NetConfig

        try:
            net = NetConfig.from_dict(self.network)
        except (TypeError, ValueError) as exc:
            raise _bad(f"network: {exc}") from None
        bad = [s for s in self.patch_size if s % net.divisor]
        if bad:
            raise _bad(f"patch_size {self.patch_size} must be multiples of {net.divisor} for this network")

    # --- YAML --------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict, base: str | os.PathLike | None = None) -> "TrainConfig":
        """Build from a plain dict; relative paths are resolved against ``base`` when given.

        Raises :class:`~fetalseg.errors.InputError` (without a path) naming the first unknown key,
        value of the wrong type or invalid value.
        """
        if not isinstance(d, dict):
            raise _bad("config must be a mapping of key: value")
        d = dict(d)
        if "datasets" in d and d["datasets"] is None:  # an empty YAML list
            d["datasets"] = []
        _check_fields(cls, d, "config")
        if "datasets" in d:
            d["datasets"] = [_sub(DatasetSpec, x, f"datasets[{i}]") for i, x in enumerate(d["datasets"])]
        for key, kind in (("validation", ValidationSpec), ("optim", OptimSpec)):
            if key in d:
                d[key] = _sub(kind, d[key] or {}, key)
        cfg = cls(**d)
        if base is not None:
            cfg.resolve_paths(base)
        return cfg

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "TrainConfig":
        """Read a YAML config; raises :class:`InputError` for a missing, unparsable or invalid file."""
        from ..io.yamlfile import read_yaml_mapping

        path = Path(path)
        raw = read_yaml_mapping(path, "config")
        try:
            return cls.from_dict(raw, base=path.resolve().parent)
        except InputError as exc:
            if exc.path is not None:
                raise
            raise InputError(path, exc.problem) from None

    def resolve_paths(self, base: str | os.PathLike) -> None:
        """Make every dataset, validation and synth-config path absolute relative to ``base``."""
        base = Path(base)

        def fix(p):
            if isinstance(p, (list, tuple)):
                return [fix(x) for x in p]
            q = Path(os.path.expanduser(str(p)))
            return str(q if q.is_absolute() else (base / q).resolve())

        for d in self.datasets:
            d.paths = [fix(p) for p in d.paths]
        self.validation.paths = [fix(p) for p in self.validation.paths]
        if self.synth_config:
            self.synth_config = fix(self.synth_config)
        if self.sampler_weights:
            self.sampler_weights = fix(self.sampler_weights)
        if self.init_from:
            self.init_from = fix(self.init_from)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["patch_size"] = list(self.patch_size)
        return out

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _bad(problem: str) -> InputError:
    """An :class:`InputError` about the config itself (the caller adds the file when there is one)."""
    return InputError(None, problem)


def _check_fields(kind, d: dict, where: str) -> None:
    """Unknown keys and values of the wrong type in ``d`` (fields of dataclass ``kind``) raise InputError."""
    from ..io.yamlfile import check_field_types

    known = sorted(f.name for f in fields(kind))
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise _bad(f"unknown {where} key(s) {unknown}; known: {known}")
    check_field_types(kind, d, "" if where == "config" else f"{where}.")


def _sub(kind, d, where: str):
    if is_dataclass(d):
        return d
    if not isinstance(d, dict):
        raise _bad(f"{where} must be a mapping")
    _check_fields(kind, d, where)
    return kind(**d)
