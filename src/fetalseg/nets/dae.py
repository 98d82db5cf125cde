"""A denoising autoencoder (DAE) on class probabilities: softmax maps in, refined logits out.

After the FeTA 2024 winning pipeline (3 encoder and 3 decoder layers, about 145k parameters,
trained on corrupted label maps). Input ``[B, C, X, Y, Z]`` probabilities (C = 8 FeTA classes),
output ``[B, C, X, Y, Z]`` logits. The network works on a 2x average-pooled copy (encoder strides
1, 2, 2 below that, so the bottleneck is at 1/8 resolution), upsamples its correction back to the
input grid, and adds it to a full-resolution skip: ``log(p + 1e-4)`` plus a 1x1x1 convolution of
``p``. The last layer starts at zero, so an untrained DAE returns the input's arg-max unchanged.

Model files follow :mod:`fetalseg.nets.model_file`: safetensors weights (config in the metadata
under ``"dae"``) plus a JSON model card with ``sha256``; no pickle.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError

FORMAT_VERSION = "dae-1"


@dataclass(frozen=True)
class DaeConfig:
    """Layer widths: ``channels`` (classes in and out) and ``widths`` of the 3 encoder levels."""

    channels: int = 8
    widths: tuple[int, int, int] = (14, 28, 56)

    def to_dict(self) -> dict:
        return {"channels": self.channels, "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict) -> "DaeConfig":
        return cls(int(d["channels"]), tuple(int(w) for w in d["widths"]))


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1), nn.InstanceNorm3d(cout, affine=True),
                         nn.LeakyReLU(0.01, inplace=True))


class DAE(nn.Module):
    """The denoising autoencoder of the module docstring."""

    def __init__(self, config: DaeConfig = DaeConfig()):
        super().__init__()
        self.config = config
        c, (w1, w2, w3) = config.channels, config.widths
        self.enc = nn.ModuleList([_block(c, w1), _block(w1, w2, 2), _block(w2, w3, 2)])
        self.dec = nn.ModuleList([_block(w3 + w2, w2), _block(w2 + w1, w1)])
        self.head = nn.Conv3d(w1, c, 3, padding=1)
        self.skip = nn.Conv3d(c, c, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        nn.init.zeros_(self.skip.weight)
        nn.init.zeros_(self.skip.bias)

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        if probs.ndim != 5 or probs.shape[1] != self.config.channels:
            raise ValueError(f"probs must be [B, {self.config.channels}, X, Y, Z], got {tuple(probs.shape)}")
        size = probs.shape[2:]
        pad = [p for n in reversed(size) for p in (0, (-n) % 8)]
        x = F.avg_pool3d(F.pad(probs, pad, mode="replicate"), 2)
        e1 = self.enc[0](x)
        e2 = self.enc[1](e1)
        e3 = self.enc[2](e2)
        d2 = self.dec[0](torch.cat([F.interpolate(e3, size=e2.shape[2:], mode="trilinear"), e2], 1))
        d1 = self.dec[1](torch.cat([F.interpolate(d2, size=e1.shape[2:], mode="trilinear"), e1], 1))
        delta = F.interpolate(self.head(d1), scale_factor=2, mode="trilinear")
        delta = delta[(...,) + tuple(slice(0, n) for n in size)]
        return torch.log(probs.clamp_min(0) + 1e-4) + self.skip(probs) + delta


def n_parameters(module: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def refine(dae: DAE, probs, *, device: str | torch.device = "cpu"):
    """Refined probabilities ``softmax(dae(probs))`` for a numpy or torch ``(C, X, Y, Z)`` array (float32 numpy out)."""
    import numpy as np

    x = torch.as_tensor(np.asarray(probs, np.float32) if not torch.is_tensor(probs) else probs)
    out = torch.softmax(dae.to(device).eval()(x[None].to(device, torch.float32)), dim=1)[0]
    return out.cpu().numpy()


def save_dae(module: DAE, card: dict, path: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Write ``path`` (.safetensors) and its card (``.json``): ``name``, ``kind`` 'dae', ``dae`` config, ``sha256``."""
    from safetensors.torch import save_file

    from ..io import atomic_path, check_writable
    from .model_file import card_path, feta_label_names, sha256_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(path, "model file name must end in .safetensors")
    cpath = card_path(path)
    for p in (path, cpath):
        check_writable(p, overwrite)
    state = {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in module.state_dict().items()}
    meta = {"fetalseg_format": FORMAT_VERSION, "dae": json.dumps(module.config.to_dict())}
    with atomic_path(path, overwrite=overwrite) as tmp:
        save_file(state, str(tmp), metadata=meta)
    out = {"name": path.stem, "kind": "dae", "labels": feta_label_names(), "parameters": n_parameters(module)}
    out.update(card)
    out.update({"dae": module.config.to_dict(), "format": FORMAT_VERSION, "weights": path.name,
                "sha256": sha256_file(path)})
    with atomic_path(cpath, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def is_dae_card(path: str | os.PathLike) -> bool:
    """Whether the JSON model card at ``path`` describes a DAE (``kind: dae``); False when unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")).get("kind") == "dae"
    except (OSError, ValueError, AttributeError):
        return False


def load_dae(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[DAE, dict]:
    """Load a DAE written by :func:`save_dae` (digest checked, no pickle); returns ``(module in eval mode, card)``."""
    from safetensors.torch import load_file

    from .model_file import checked_card

    path = Path(path)
    card = checked_card(path, "DAE model", kind="dae")
    try:
        state = load_file(str(path), device="cpu")
        net = DAE(DaeConfig.from_dict(card["dae"]))
        net.load_state_dict(state)
    except Exception as exc:  # safetensors and torch raise their own types
        raise InputError(path, f"weights do not fit the DAE in the model card ({str(exc).splitlines()[0]})") from None
    net.card = card  # name and sha256 for provenance records
    return net.eval().to(device), card


__all__ = ["DAE", "DaeConfig", "refine", "save_dae", "load_dae", "is_dae_card", "n_parameters"]
