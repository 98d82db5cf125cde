"""The segmentation network: a 3-D residual U-Net with deep supervision (nnU-Net style).

The network is MONAI's :class:`~monai.networks.nets.DynUNet` with ``res_block=True``: every encoder
level is a residual block of two 3x3x3 convolutions (the first strided by 2 below the top level, so
down-sampling is a strided convolution), each followed by instance norm and leaky ReLU (slope 0.01);
every decoder level is a transposed convolution (kernel 2, stride 2), concatenation with the skip
connection and two 3x3x3 convolution blocks. One 1x1x1 output head per decoder level above the
bottleneck gives the deep-supervision outputs.

:class:`SegNet` wraps it so that callers see one contract:

* training mode: ``forward(x)`` returns a list of logits ``[B, C, X, Y, Z]``, full resolution first,
  then one per deeper decoder level (MONAI up-samples them to full resolution with trilinear
  interpolation);
* eval mode: ``forward(x)`` returns the full-resolution logits ``[B, C, X, Y, Z]`` only. In eval mode
  inputs of any size are accepted: they are zero-padded to a multiple of :attr:`SegNet.divisor`
  and the output is cropped back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

#: Named presets of :class:`NetConfig` keyword arguments.
PRESETS: dict[str, dict] = {
    # For tests: 3 levels, 8 features at full resolution, 32^3 patches.
    "tiny": {"levels": 3, "base_features": 8, "max_features": 32, "deep_supervision": 1},
    # The released model: 5 levels (4 down-samplings), 16 -> 256 features, 128^3 patches at 0.8 mm.
    "default": {"levels": 5, "base_features": 16, "max_features": 256, "deep_supervision": 3},
}


@dataclass(frozen=True)
class NetConfig:
    """Architecture of a :class:`SegNet`; every field is a plain int so it round-trips through JSON.

    Attributes
    ----------
    in_channels : int
        Input channels (1: one T2w image).
    out_channels : int
        Output classes (8: FeTA labels 0-7).
    levels : int
        Resolution levels including the bottleneck (>= 2); the network down-samples ``levels - 1``
        times, so each input side must be a multiple of ``2 ** (levels - 1)`` in training.
    base_features : int
        Feature maps at full resolution; doubled at each level down, capped at ``max_features``.
    max_features : int
        Cap on feature maps per level.
    deep_supervision : int
        Extra output heads below full resolution (0 .. levels - 2).
    """

    in_channels: int = 1
    out_channels: int = 8
    levels: int = 5
    base_features: int = 16
    max_features: int = 256
    deep_supervision: int = 3

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"network {f.name} must be a non-negative integer, got {v!r}")
        if self.levels < 2:
            raise ValueError(f"network levels must be >= 2, got {self.levels}")
        if self.in_channels < 1 or self.out_channels < 2 or self.base_features < 1:
            raise ValueError("network needs in_channels >= 1, out_channels >= 2 and base_features >= 1")
        if self.max_features < self.base_features:
            raise ValueError(f"network max_features {self.max_features} < base_features {self.base_features}")
        if self.deep_supervision > self.levels - 2:
            raise ValueError(f"network deep_supervision must be <= levels - 2 = {self.levels - 2}, "
                             f"got {self.deep_supervision}")

    @classmethod
    def from_dict(cls, d: dict | None) -> "NetConfig":
        """Build from a dict that may name a ``preset`` plus field overrides; unknown keys raise."""
        d = dict(d or {})
        preset = d.pop("preset", None)
        base: dict = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"unknown network preset {preset!r}; known: {sorted(PRESETS)}")
            base = dict(PRESETS[preset])
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown network option(s) {unknown}; known: {sorted(known | {'preset'})}")
        base.update(d)
        return cls(**base)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def features(self) -> list[int]:
        """Feature maps per level, top to bottom."""
        return [min(self.base_features * 2 ** i, self.max_features) for i in range(self.levels)]

    @property
    def divisor(self) -> int:
        """Input sides must be multiples of this in training (``2 ** (levels - 1)``)."""
        return 2 ** (self.levels - 1)


class SegNet(nn.Module):
    """Residual U-Net with deep supervision; see the module docstring for the forward contract."""

    def __init__(self, config: NetConfig):
        super().__init__()
        from monai.networks.nets import DynUNet

        self.config = config
        n = config.levels
        self.net = DynUNet(
            spatial_dims=3,
            in_channels=config.in_channels,
            out_channels=config.out_channels,
            kernel_size=[3] * n,
            strides=[1] + [2] * (n - 1),
            upsample_kernel_size=[2] * (n - 1),
            filters=config.features,
            norm_name=("INSTANCE", {"affine": True}),
            act_name=("leakyrelu", {"inplace": True, "negative_slope": 0.01}),
            deep_supervision=config.deep_supervision > 0,
            deep_supr_num=max(config.deep_supervision, 1),
            res_block=True,
        )

    @property
    def divisor(self) -> int:
        return self.config.divisor

    @property
    def n_outputs(self) -> int:
        """Number of outputs in training mode (1 + deep-supervision heads)."""
        return 1 + self.config.deep_supervision

    def forward(self, x: torch.Tensor):
        if x.ndim != 5 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"SegNet expects input [B, {self.config.in_channels}, X, Y, Z], got {tuple(x.shape)}")
        if self.training:
            bad = [s for s in x.shape[2:] if s % self.divisor]
            if bad:
                raise ValueError(f"training patch sides must be multiples of {self.divisor}, got {tuple(x.shape[2:])}")
            out = self.net(x)
            if self.config.deep_supervision > 0:
                return list(torch.unbind(out, dim=1))
            return [out]
        shape = x.shape[2:]
        pad = [(-s) % self.divisor for s in shape]
        if any(pad):
            # F.pad takes (last dim lo, hi, ..., first dim lo, hi)
            x = nn.functional.pad(x, [p for d in reversed(pad) for p in (0, d)])
        out = self.net(x)
        return out[:, :, : shape[0], : shape[1], : shape[2]]


def build_network(config: NetConfig | dict | str | None = None) -> SegNet:
    """A fresh :class:`SegNet` from a :class:`NetConfig`, a dict (optionally with ``preset``) or a preset name.

    Weights are initialised by torch's default initialisers, so seed torch first for reproducibility.
    """
    if isinstance(config, str):
        config = {"preset": config}
    if not isinstance(config, NetConfig):
        config = NetConfig.from_dict(config)
    return SegNet(config)
