"""Deep-supervision loss: soft Dice + cross-entropy at every decoder level.

Level ``i`` (0 = full resolution) gets weight ``2 ** -i``, and the weights are normalised to sum
to 1 (nnU-Net). Each level's loss is MONAI's :class:`~monai.losses.DiceCELoss`: the mean of a soft
Dice loss (softmax probabilities, one-hot target, per sample and per class, background included,
smoothing 1e-5) and the voxel-mean cross-entropy, with equal weights. The network up-samples the
deeper heads to full resolution, so every level is compared with the same full-resolution target.
"""

from __future__ import annotations

import torch
from torch import nn


def level_weights(n: int) -> list[float]:
    """Weights ``2 ** -i`` for ``i = 0 .. n-1``, normalised to sum to 1."""
    if n < 1:
        raise ValueError(f"need at least one output level, got {n}")
    w = [0.5 ** i for i in range(n)]
    s = sum(w)
    return [x / s for x in w]


class DeepSupervisionLoss(nn.Module):
    """``forward(outputs, target)``: ``outputs`` a list of logits ``[B, C, X, Y, Z]`` (full
    resolution first), ``target`` int64 labels ``[B, X, Y, Z]`` in ``0 .. C-1``. Returns a scalar
    float32 tensor (logits are cast to float32 first, so bf16 autocast is safe)."""

    def __init__(self, n_levels: int):
        super().__init__()
        from monai.losses import DiceCELoss

        self.weights = level_weights(n_levels)
        self.level_loss = DiceCELoss(to_onehot_y=True, softmax=True, include_background=True,
                                     smooth_nr=1e-5, smooth_dr=1e-5, batch=False)

    def forward(self, outputs: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        if len(outputs) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} outputs, got {len(outputs)}")
        if target.ndim != 4:
            raise ValueError(f"target must be [B, X, Y, Z], got {tuple(target.shape)}")
        t = target.unsqueeze(1)
        total = outputs[0].new_zeros((), dtype=torch.float32)
        for w, out in zip(self.weights, outputs):
            total = total + w * self.level_loss(out.float(), t)
        return total
