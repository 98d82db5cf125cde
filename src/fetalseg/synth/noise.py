"""Step 7: Gaussian or Rician noise with std U(noise_std) on the 0-255 scale."""

from __future__ import annotations

import torch

from . import random as R


def draw_noise(cfg, g: torch.Generator) -> dict:
    """Parameters: on/off, std (0-255 scale), Rician or Gaussian, seed."""
    on = R.chance(g, cfg.p_noise)
    if not on:
        return {"on": False}
    return {"on": True, "std": R.uniform(g, *cfg.noise_std), "rician": R.chance(g, cfg.p_rician),
            "seed": R.seed(g)}


def apply_noise(image: torch.Tensor, params: dict) -> torch.Tensor:
    """Add noise to an image in [0, 1] (std / 255). Rician: ``|image + n1 + i n2|``."""
    if not params["on"]:
        return image
    s = params["std"] / 255.0
    gen = R.device_generator(params["seed"], image.device)
    n1 = torch.randn(image.shape, generator=gen, device=image.device, dtype=image.dtype) * s
    if not params["rician"]:
        return image + n1
    n2 = torch.randn(image.shape, generator=gen, device=image.device, dtype=image.dtype) * s
    return torch.sqrt((image + n1) ** 2 + n2 ** 2)
