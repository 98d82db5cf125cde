"""One configuration object for the whole synthetic generator: every step's probability and range.

Units: angles in degrees, translations and displacement std in voxels of the output grid, intensities
on the 0-255 scale of SynthSeg (the image is normalised to [0, 1] only at the end), resolutions in mm.
A range is a ``(low, high)`` pair drawn uniformly unless stated otherwise. ``p_*`` are probabilities.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import InputError

SKULL_STRIP_MODES = ("none", "mask", "halo", "fuzzy")


@dataclass
class SynthConfig:
    """Parameters of :class:`fetalseg.synth.SynthGenerator` (defaults follow SynthSeg and issue 6).

    Every field is JSON/YAML-able; :meth:`validate` is run on construction.
    """

    # output grid
    output_shape: tuple[int, int, int] = (128, 128, 128)
    """Output volume shape (X, Y, Z) in voxels; the brain is centred in it (step 11)."""
    voxel_mm: float = 0.8
    """Voxel size in mm of the label maps and of the output (isotropic); ``sample(spacing=)`` overrides."""
    device: str = "cpu"
    """Device used by the command line and the benchmark; ``sample`` runs on its inputs' device."""

    # 1. spatial
    p_affine: float = 1.0
    rotation_deg: float = 20.0
    """Rotation about each axis drawn from U(-r, r) degrees."""
    scaling: tuple[float, float] = (0.8, 1.2)
    shear: float = 0.012
    translation_vox: float = 6.0
    """Translation of the brain centre, U(-t, t) output voxels per axis."""
    p_elastic: float = 1.0
    svf_grid_fraction: float = 0.04
    """The velocity field lives on a grid of ceil(output_shape x fraction) nodes."""
    svf_std: tuple[float, float] = (0.0, 4.0)
    """Velocity std in voxels drawn from this range, then velocities ~ N(0, std)."""
    svf_steps: int = 7
    """Scaling-and-squaring steps."""
    p_flip: float = 0.5
    """Probability of a left-right (first axis) flip."""
    p_label_centre: float = 0.0
    """Probability that the output grid is centred on a random voxel of one FeTA label 1-7 (drawn uniformly
    among the labels present) instead of the brain centre: patches smaller than the brain then see every
    structure, small ones as often as large ones (nnU-Net's foreground oversampling, per label). 0 keeps
    the random stream of earlier versions unchanged."""
    label_interpolation: str = "nearest"
    """'nearest' (one grid_sample) or 'linear' (one-hot: each label value resampled linearly, the
    largest wins; smoother boundaries, one grid_sample per label value present)."""

    # 3. contrast
    mean_range: tuple[float, float] = (0.0, 250.0)
    std_range: tuple[float, float] = (0.0, 30.0)
    p_t2_prior: float = 0.3
    """Probability of drawing means around realistic fetal T2w ordering instead of U(mean_range)."""
    p_background_zero: float = 0.2
    """Probability that background sub-class 0 (no signal) gets intensity exactly 0."""

    # 4. bias field
    p_bias: float = 0.8
    bias_grid_fraction: float = 0.025
    bias_std: tuple[float, float] = (0.0, 0.7)

    # 5. gamma
    p_gamma: float = 0.8
    gamma_std: float = 0.5
    """Intensities in [0, 1] are raised to exp(N(0, gamma_std))."""

    # 6. resolution
    p_resolution: float = 0.75
    p_anisotropic: float = 0.5
    """Given a resolution change, probability of one thick-slice axis instead of isotropic."""
    max_iso_mm: float = 4.0
    max_slice_mm: float = 8.0
    thickness_fraction: tuple[float, float] = (0.5, 1.0)
    """Slice thickness as a fraction of the slice spacing (anisotropic case)."""

    # 7. noise
    p_noise: float = 0.8
    noise_std: tuple[float, float] = (5.0, 15.0)
    p_rician: float = 0.5

    # 8. fetal super-resolution artefacts
    p_motion: float = 0.2
    motion_slab_vox: tuple[int, int] = (3, 10)
    motion_rotation_deg: float = 3.0
    motion_translation_vox: float = 1.5
    motion_removed_fraction: tuple[float, float] = (0.0, 0.1)
    p_cortex_blur: float = 0.2
    cortex_blur_sigma: tuple[float, float] = (0.8, 2.0)
    p_wm_noise: float = 0.2
    wm_noise_amplitude: tuple[float, float] = (5.0, 25.0)
    """Amplitude of the smooth WM noise on the 0-255 scale."""
    p_skull_strip: float = 0.4
    skull_strip_modes: tuple[str, ...] = SKULL_STRIP_MODES
    skull_strip_halo_vox: tuple[int, int] = (1, 4)

    # 9. label inflation
    p_inflation: float = 0.1
    inflation_vox: tuple[int, int] = (1, 4)

    # 10. GIN
    p_gin: float = 0.2
    gin_layers: int = 4
    gin_channels: int = 2
    gin_alpha: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                setattr(self, f.name, tuple(v))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        if len(self.output_shape) != 3 or any(int(s) < 8 for s in self.output_shape):
            raise ValueError(f"output_shape must be 3 sizes >= 8, got {self.output_shape}")
        self.output_shape = tuple(int(s) for s in self.output_shape)
        import re

        if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", str(self.device)):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {self.device!r}")
        if not self.voxel_mm > 0:
            raise ValueError(f"voxel_mm must be > 0, got {self.voxel_mm}")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.startswith("p_") and not (0.0 <= float(v) <= 1.0):
                raise ValueError(f"{f.name} must be a probability in [0, 1], got {v}")
            if isinstance(v, tuple) and len(v) == 2 and f.name != "skull_strip_modes" \
                    and all(isinstance(x, (int, float)) for x in v):
                if v[0] > v[1]:
                    raise ValueError(f"{f.name} must be (low, high) with low <= high, got {v}")
                if v[0] < 0:
                    raise ValueError(f"{f.name} must be non-negative, got {v}")
        if self.scaling[0] <= 0:
            raise ValueError(f"scaling must be positive, got {self.scaling}")
        if self.svf_steps < 0 or self.svf_steps > 20:
            raise ValueError(f"svf_steps must be in 0..20, got {self.svf_steps}")
        if self.label_interpolation not in ("nearest", "linear"):
            raise ValueError(f"label_interpolation must be 'nearest' or 'linear', got {self.label_interpolation!r}")
        bad = [m for m in self.skull_strip_modes if m not in SKULL_STRIP_MODES]
        if bad or not self.skull_strip_modes:
            raise ValueError(f"skull_strip_modes must be a non-empty subset of {SKULL_STRIP_MODES}, got {bad}")
        if self.max_iso_mm < self.voxel_mm or self.max_slice_mm < self.voxel_mm:
            raise ValueError("max_iso_mm and max_slice_mm must be >= voxel_mm")
        if self.gin_layers < 1 or self.gin_channels < 1:
            raise ValueError("gin_layers and gin_channels must be >= 1")
        if self.motion_slab_vox[0] < 1:
            raise ValueError("motion_slab_vox must be >= 1")

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        """A JSON/YAML-able dict (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict, *, source: str | os.PathLike | None = None) -> "SynthConfig":
        """Build from a (partial) dict; unknown keys and bad values raise :class:`InputError`."""
        if not isinstance(data, dict):
            raise InputError(source, "synth config must be a mapping of field: value")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(source, f"unknown synth config keys: {', '.join(unknown)}")
        from ..io.yamlfile import check_field_types

        try:
            check_field_types(cls, data)
            return cls(**data)
        except InputError as exc:
            raise InputError(source, f"invalid synth config: {exc.problem}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(source, f"invalid synth config: {exc}") from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "SynthConfig":
        """Read a YAML file holding a (partial) mapping of fields; missing fields keep defaults."""
        from ..io.yamlfile import read_yaml_mapping

        p = Path(path)
        return cls.from_dict(read_yaml_mapping(p, "synth config"), source=p)

    def to_yaml(self, path: str | os.PathLike | None = None, *, overwrite: bool = False) -> str:
        """The YAML text of :meth:`to_dict`; also written atomically to ``path`` when given."""
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)
        if path is not None:
            from ..io import write_text

            write_text(path, text, overwrite=overwrite)
        return text

    def replace(self, **changes) -> "SynthConfig":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def all_on(cls, **changes) -> "SynthConfig":
        """Every step with probability 1 (the speed benchmark's 'every step' setting)."""
        ps = {f.name: 1.0 for f in fields(cls) if f.name.startswith("p_") and f.name not in
              ("p_t2_prior", "p_background_zero", "p_anisotropic", "p_rician", "p_flip",
               "p_label_centre")}
        ps.update(changes)
        return cls(**ps)

    @classmethod
    def all_off(cls, **changes) -> "SynthConfig":
        """Every random step off (probability 0): GMM contrast and centring only."""
        ps = {f.name: 0.0 for f in fields(cls) if f.name.startswith("p_")}
        ps.update(changes)
        return cls(**ps)


