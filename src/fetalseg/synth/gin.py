"""Step 10: global intensity non-linear augmentation (GIN, Ouyang et al. 2022).

A randomly initialised shallow convolutional network with leaky-ReLU activations remaps the image; the
output is mixed with the input by ``alpha``, rescaled to the input's Frobenius norm and min-max
normalised. For speed on the CPU the first layer is either pointwise or a random *separable* 3x3x3
convolution (the outer product of three random 3-tap kernels, evaluated as shifted sums) and the
later layers are pointwise (1x1x1) mixing of ``channels`` feature maps.
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


def gin_network(params: dict) -> dict:
    """The random weights, drawn on the CPU from ``params['seed']``.

    Returns ``{'spatial': [c, 3, 3] taps or None, 'first': (w [c, 1], b [c]), 'layers': [(w, b), ...]}``
    where the last layer maps to one channel.
    """
    gen = R.device_generator(params["seed"], "cpu")
    c, n = params["channels"], params["layers"]
    spatial = None
    if torch.rand(1, generator=gen).item() < 0.5:
        spatial = torch.randn((c, 3, 3), generator=gen) / 3 ** 0.5
    cout = 1 if n == 1 else c
    first = (torch.randn((cout, 1), generator=gen), torch.randn(cout, generator=gen) * 0.1)
    layers = []
    for i in range(1, n):
        cout = 1 if i == n - 1 else c
        layers.append((torch.randn((cout, c), generator=gen) / c ** 0.5, torch.randn(cout, generator=gen) * 0.1))
    return {"spatial": spatial, "first": first, "layers": layers}


def conv3_separable(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Convolve ``x`` [X, Y, Z] with the separable kernel ``taps[0] x taps[1] x taps[2]`` (3 taps each).

    Zero padding; ``taps[a] = (before, centre, after)`` along axis ``a``.
    """
    for axis in range(3):
        t = taps[axis]
        y = x * t[1]
        n = x.shape[axis]
        y.narrow(axis, 1, n - 1).add_(x.narrow(axis, 0, n - 1), alpha=float(t[0]))
        y.narrow(axis, 0, n - 1).add_(x.narrow(axis, 1, n - 1), alpha=float(t[2]))
        x = y
    return x


def apply_gin(image: torch.Tensor, params: dict) -> torch.Tensor:
    """Remap ``image`` [X, Y, Z] (in [0, 1]) through the random network; returns an image in [0, 1]."""
    if not params["on"]:
        return image
    net = gin_network(params)
    w, b = net["first"]
    if net["spatial"] is None:
        feats = [image * float(w[o, 0]) + float(b[o]) for o in range(w.shape[0])]
    else:
        feats = [conv3_separable(image, net["spatial"][o]) * float(w[o, 0]) + float(b[o]) for o in range(w.shape[0])]
    for w, b in net["layers"]:
        feats = [F.leaky_relu(f, 0.2) for f in feats]
        feats = [sum(f * float(w[o, i]) for i, f in enumerate(feats)) + float(b[o]) for o in range(w.shape[0])]
    y = feats[0]
    a = params["alpha"]
    mixed = a * y + (1 - a) * image
    mixed = mixed * (image.norm() / mixed.norm().clamp_min(1e-12))
    lo, hi = mixed.min(), mixed.max()
    return (mixed - lo) / (hi - lo).clamp_min(1e-12)
