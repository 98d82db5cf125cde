"""Real images through the generator's spatial and intensity steps (``source: mixed`` training).

A real image/label pair gets the same spatial transform and crop as a synthetic sample (step 1 + 11, the
label-centred crop included) and the intensity steps that make sense on a real image: bias field (4),
gamma (5), lower resolution (6) and noise (7), each with the probability and range of the
:class:`~fetalseg.synth.SynthConfig`. No Gaussian mixture, GIN, label inflation or skull stripping: the
contrast is the image's own and the target must stay the image's labels.

Conventions: the image comes in already mapped to [0, 1] (percentile normalisation, as at inference);
the output is min-max normalised to [0, 1] like a synthetic sample. Parameters are drawn from the
caller's CPU :class:`torch.Generator` (sample-then-apply, JSON-able, replayable).
"""

from __future__ import annotations

import torch

from . import bias, contrast, noise, resolution, spatial


def draw_real(cfg, labels: torch.Tensor, g: torch.Generator, spacing: float) -> dict:
    """Draw the parameters of one augmented real sample (see module docstring)."""
    from .generator import draw_label_centre

    p = {"voxel_mm": float(spacing), "spatial": spatial.draw_spatial(cfg, g), "bias": bias.draw_bias(cfg, g),
         "gamma": contrast.draw_gamma(cfg, g), "resolution": resolution.draw_resolution(cfg, g, spacing),
         "noise": noise.draw_noise(cfg, g)}
    if cfg.p_label_centre > 0:
        p["centre"] = draw_label_centre(labels, g, cfg.p_label_centre)
    return p


def apply_real(cfg, labels: torch.Tensor, image: torch.Tensor, p: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp ``labels`` [X, Y, Z] and ``image`` [X, Y, Z] (in [0, 1]) with drawn parameters ``p``.

    Returns (image float32 [*output_shape] in [0, 1], generation labels uint8 [*output_shape]).
    """
    from .generator import brain_centre
    from .subclasses import STRIDE

    centre = p.get("centre") or brain_centre(labels)
    grid = spatial.sampling_grid(p["spatial"], labels.shape, cfg.output_shape, centre, labels.device)
    lab, img = spatial.warp(grid, labels, image.reshape(1, *labels.shape).float(), flip=p["spatial"]["flip"],
                            label_mode=cfg.label_interpolation)
    x = bias.apply_bias(img[0], p["bias"])
    x, _ = contrast.normalise(x)
    x = contrast.apply_gamma(x, p["gamma"])
    x = resolution.apply_resolution(x, p["resolution"], p["voxel_mm"])
    x = noise.apply_noise(x, p["noise"])
    x, _ = contrast.normalise(x)
    return x, (lab % STRIDE).to(torch.uint8)
