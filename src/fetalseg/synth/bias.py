"""Step 4: multiplicative bias field, smooth on a coarse grid, exponentiated."""

from __future__ import annotations

import math

import torch

from . import random as R


def draw_bias(cfg, g: torch.Generator) -> dict:
    """Parameters: on/off, the std U(bias_std) of the log-field, the coarse grid and a seed."""
    on = R.chance(g, cfg.p_bias)
    if not on:
        return {"on": False}
    grid = [max(2, math.ceil(s * cfg.bias_grid_fraction)) for s in cfg.output_shape]
    return {"on": True, "std": R.uniform(g, *cfg.bias_std), "grid": grid, "seed": R.seed(g)}


def bias_field(params: dict, shape, device) -> torch.Tensor | None:
    """``exp(field)`` ``[X, Y, Z]``, the log-field N(0, std) on ``grid`` trilinearly upsampled; None if off."""
    if not params["on"]:
        return None
    log_field = R.smooth_field(params["grid"], shape, params["seed"], device, std=params["std"])
    return log_field[0, 0].exp()


def apply_bias(image: torch.Tensor, params: dict) -> torch.Tensor:
    """Multiply ``image`` [X, Y, Z] by the bias field."""
    field = bias_field(params, image.shape, image.device)
    return image if field is None else image * field
