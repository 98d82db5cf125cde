"""A :class:`Predictor`: any network callable plus what inference needs to know about it.

The network is any callable mapping a float32 tensor ``[B, 1, X, Y, Z]`` (intensities normalised
to [0, 1]) to logits ``[B, C, X, Y, Z]`` (a list/tuple output is read as deep supervision and its
first element taken). The predictor returns softmax probabilities as a numpy array ``(C, X, Y, Z)``
float32, from one whole-volume pass when the volume has at most ``max_voxels`` voxels, else from
MONAI's Gaussian-weighted :func:`~monai.inferers.sliding_window_inference` over ``patch_size``
windows (probabilities, not logits, are blended).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .preprocess import DEFAULT_NORMALISATION

#: Whole-volume inference up to this many voxels (160^3, about 2.5 GB peak for the default network); beyond,
#: sliding windows.
DEFAULT_MAX_VOXELS = 160 ** 3


@dataclass
class Predictor:
    """A network with its input contract.

    Attributes
    ----------
    network : callable
        Tensor ``[B, 1, X, Y, Z]`` -> logits ``[B, C, X, Y, Z]`` (a ``torch.nn.Module`` is moved to
        ``device`` and put in eval mode).
    resolution_mm : float
        Isotropic voxel size (mm) the network expects.
    normalisation : dict
        Intensity normalisation spec (see :func:`fetalseg.infer.preprocess.normalise`).
    divisor : int
        Model-grid sides are padded to multiples of this (2 ** down-samplings).
    patch_size : tuple of 3 ints or None
        Sliding-window size; default ``(128, 128, 128)`` rounded to ``divisor``.
    mode : {'auto', 'whole', 'sliding'}
    max_voxels : int
        'auto' runs whole-volume inference up to this many voxels.
    overlap : float
        Sliding-window overlap fraction (0 <= overlap < 1).
    device : str
        Torch device for the network and its inputs.
    precision : {'float32', 'bfloat16', 'float16'}
        Network arithmetic: reduced precisions run under ``torch.autocast`` (bfloat16 is about
        1.5x faster on CPUs with bf16 instructions); probabilities are always float32.
    name : str
        For messages, QC tables and sidecars.
    card : dict
        The model card (empty for in-memory networks).
    context : tuple of 3 ints or None
        Smallest model grid (voxels) the network is given: the cropped grid around the brain is grown
        symmetrically to at least this shape (zeros outside the image). Models loaded from a card use their
        training patch: a network with instance normalisation and a receptive field of tens of voxels, trained
        on patches with background around the brain, segments a brain cropped tightly to its edges worse
        (measured on the held-out atlas images: mean Dice -0.04 to -0.12, see docs/model-default.md).
        None: no minimum.
    """

    network: Callable[[Any], Any]
    resolution_mm: float = 0.8
    normalisation: dict = field(default_factory=lambda: dict(DEFAULT_NORMALISATION))
    divisor: int = 16
    patch_size: tuple[int, int, int] | None = None
    mode: str = "auto"
    max_voxels: int = DEFAULT_MAX_VOXELS
    overlap: float = 0.25
    sw_batch_size: int = 1
    device: str = "cpu"
    precision: str = "float32"
    name: str = "model"
    card: dict = field(default_factory=dict)
    context: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if not callable(self.network):
            raise TypeError("network must be callable (tensor [B,1,X,Y,Z] -> logits [B,C,X,Y,Z])")
        if not float(self.resolution_mm) > 0:
            raise ValueError(f"resolution_mm must be positive, got {self.resolution_mm}")
        if self.mode not in ("auto", "whole", "sliding"):
            raise ValueError(f"mode must be 'auto', 'whole' or 'sliding', got {self.mode!r}")
        if self.precision not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"precision must be float32, bfloat16 or float16, got {self.precision!r}")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        self.resolution_mm = float(self.resolution_mm)
        self.divisor = max(1, int(self.divisor))
        if self.patch_size is None:
            self.patch_size = (128, 128, 128)
        self.patch_size = tuple(int(np.ceil(p / self.divisor) * self.divisor) for p in self.patch_size)
        if self.context is not None:
            ctx = tuple(int(c) for c in self.context)
            if len(ctx) != 3 or min(ctx) < 1:
                raise ValueError(f"context must be 3 positive ints, got {self.context!r}")
            self.context = ctx
        try:
            import torch

            if isinstance(self.network, torch.nn.Module):
                self.network = self.network.to(self.device).eval()
        except ImportError:  # pragma: no cover
            pass

    def __call__(self, volume: np.ndarray) -> np.ndarray:
        """Softmax probabilities ``(C, X, Y, Z)`` float32 for a normalised volume ``(X, Y, Z)``."""
        import torch

        volume = np.asarray(volume, dtype=np.float32)
        if volume.ndim != 3:
            raise ValueError(f"expected a 3-D volume, got shape {volume.shape}")
        x = torch.from_numpy(np.ascontiguousarray(volume))[None, None].to(self.device)
        with torch.inference_mode():
            if self.uses_sliding_window(volume.shape):
                from monai.inferers import sliding_window_inference

                roi = tuple(min(p, s) for p, s in zip(self.patch_size, volume.shape))
                out = sliding_window_inference(x, roi, self.sw_batch_size, self._probs, overlap=self.overlap,
                                               mode="gaussian", progress=False)
                out = out / out.sum(dim=1, keepdim=True).clamp_min(1e-12)
            else:
                out = self._probs(x)
        return out[0].float().cpu().numpy()

    def uses_sliding_window(self, shape: tuple[int, ...]) -> bool:
        """Whether a volume of ``shape`` goes through sliding windows."""
        if self.mode == "sliding":
            return True
        if self.mode == "whole":
            return False
        return int(np.prod(shape)) > self.max_voxels

    def _probs(self, x):
        import torch

        if self.precision == "float32":
            out = self.network(x)
        else:
            kind = "cuda" if str(self.device).startswith("cuda") else "cpu"
            with torch.autocast(kind, dtype=getattr(torch, self.precision)):
                out = self.network(x)
        if isinstance(out, (list, tuple)):
            out = out[0]
        if out.ndim != 5 or out.shape[0] != x.shape[0] or tuple(out.shape[2:]) != tuple(x.shape[2:]):
            raise ValueError(f"network output shape {tuple(out.shape)} does not match input {tuple(x.shape)}")
        return torch.softmax(out.float(), dim=1)
