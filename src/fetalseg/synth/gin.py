"""Step 10: global intensity non-linear augmentation (GIN, Ouyang et al. 2022).

A randomly initialised shallow convolutional network (kernel 1 or 3, leaky ReLU) remaps the image; the
output is mixed with the input by ``alpha``, rescaled to the input's Frobenius norm and min-max normalised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import random as R


def draw_gin(cfg, g: torch.Generator) -> dict:
    """Parameters: on/off, number of layers, channels, mixing alpha U(gin_alpha), seed of the weights."""
    on = R.chance(g, cfg.p_gin)
    if not on:
        return {"on": False}
    return {"on": True, "layers": int(cfg.gin_layers), "channels": int(cfg.gin_channels),
            "alpha": R.uniform(g, *cfg.gin_alpha), "seed": R.seed(g)}


def gin_network(params: dict) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The random (weight, bias) of each layer, drawn on the CPU from ``params['seed']``."""
    gen = R.device_generator(params["seed"], "cpu")
    c, n = params["channels"], params["layers"]
    layers = []
    for i in range(n):
        cin = 1 if i == 0 else c
        cout = 1 if i == n - 1 else c
        k = 3 if torch.rand(1, generator=gen).item() < 0.5 else 1
        w = torch.randn((cout, cin, k, k, k), generator=gen) / (cin * k ** 3) ** 0.5
        b = torch.randn(cout, generator=gen) * 0.1
        layers.append((w, b))
    return layers


def apply_gin(image: torch.Tensor, params: dict) -> torch.Tensor:
    """Remap ``image`` [X, Y, Z] (in [0, 1]) through the random network; returns an image in [0, 1]."""
    if not params["on"]:
        return image
    x = image[None, None]
    layers = gin_network(params)
    for i, (w, b) in enumerate(layers):
        w, b = w.to(image.device), b.to(image.device)
        x = F.conv3d(x, w, b, padding=w.shape[-1] // 2)
        if i < len(layers) - 1:
            x = F.leaky_relu(x, 0.2)
    y = x[0, 0]
    a = params["alpha"]
    mixed = a * y + (1 - a) * image
    mixed = mixed * (image.norm() / mixed.norm().clamp_min(1e-12))
    lo, hi = mixed.min(), mixed.max()
    return (mixed - lo) / (hi - lo).clamp_min(1e-12)
