"""Small helpers to draw reproducible parameters from a :class:`torch.Generator`.

Parameters (scalars, small lists) are drawn on the CPU from the caller's generator, so a CPU generator
drives a GPU run too. Large random fields (noise realisations) are drawn in the step's apply function
from a generator seeded with an integer ``seed`` stored in the step's parameters.
"""

from __future__ import annotations

import torch


def uniform(g: torch.Generator, low: float, high: float, n: int | None = None):
    """U(low, high) as a Python float (``n`` None) or a list of ``n`` floats."""
    k = 1 if n is None else n
    v = (torch.rand(k, generator=g, dtype=torch.float64) * (high - low) + low).tolist()
    return v[0] if n is None else v


def normal(g: torch.Generator, mean: float = 0.0, std: float = 1.0, n: int | None = None):
    """N(mean, std) as a Python float or a list of ``n`` floats."""
    k = 1 if n is None else n
    v = (torch.randn(k, generator=g, dtype=torch.float64) * std + mean).tolist()
    return v[0] if n is None else v


def chance(g: torch.Generator, p: float) -> bool:
    """True with probability ``p`` (always consumes one draw, so streams stay aligned)."""
    return bool(torch.rand(1, generator=g, dtype=torch.float64).item() < p)


def randint(g: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high] inclusive."""
    return int(torch.randint(int(low), int(high) + 1, (1,), generator=g).item())


def seed(g: torch.Generator) -> int:
    """A fresh 62-bit seed for a step's random fields."""
    return int(torch.randint(0, 2**62, (1,), generator=g).item())


def device_generator(seed_value: int, device: torch.device | str) -> torch.Generator:
    """A generator on ``device`` seeded with ``seed_value`` (for full-resolution noise fields)."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed_value))
    return gen


def smooth_field(shape_small, shape_out, seed_value: int, device, std: float | torch.Tensor = 1.0,
                 channels: int = 1) -> torch.Tensor:
    """A smooth random field: N(0, std) on a small grid, trilinearly upsampled.

    Returns a float32 tensor ``[1, channels, *shape_out]`` on ``device``. The small grid is drawn on
    the CPU so that the field is identical on every device.
    """
    import torch.nn.functional as F

    gen = device_generator(seed_value, "cpu")
    small = torch.randn((1, channels, *[max(2, int(s)) for s in shape_small]), generator=gen) * std
    small = small.to(device=device, dtype=torch.float32)
    return F.interpolate(small, size=tuple(int(s) for s in shape_out), mode="trilinear", align_corners=True)
