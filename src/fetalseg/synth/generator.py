"""The generator chain: label maps -> random synthetic images with matching FeTA targets.

Order of the steps for each sample (numbers as in issue 6):

1 + 11  spatial transform and crop/pad around the brain, one resampling (labels nearest)
9       label inflation (changes the target too)
3       Gaussian mixture per sub-class (0-255 scale)
8       cortex blur and structured white-matter noise
4       bias field
8       skull-stripping variant
11      normalise to [0, 1]
10      GIN random convolutional remapping
5       gamma
6       resolution (PSF blur, down/up-sampling)
8       super-resolution motion (slab misregistration, removed slices)
7       noise
11      normalise to [0, 1]

Every random step draws its parameters from the caller's :class:`torch.Generator` (on the CPU) and
hands them to a deterministic function; full-resolution noise comes from generators seeded by integers
stored in the parameters. ``SynthBatch.params[b]`` is a JSON-able record of everything drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import artefacts, bias, contrast, gin, inflation, noise, resolution, spatial
from .config import SynthConfig
from .subclasses import STRIDE, TABLE_SIZE


@dataclass
class SynthBatch:
    """One batch of synthetic samples.

    Attributes
    ----------
    image : Tensor [B, 1, *output_shape], float32 in [0, 1]
    target : Tensor [B, *output_shape], int64, FeTA labels 0-7
    labels : Tensor [B, *output_shape], int64, warped generation labels 0-12 (after inflation)
    params : list of dict, JSON-able parameters of each sample
    real : Tensor [B, 1, *output_shape] or None, the input ``images`` warped alike and normalised to [0, 1]
    """

    image: torch.Tensor
    target: torch.Tensor
    labels: torch.Tensor
    params: list = field(default_factory=list)
    real: torch.Tensor | None = None


def _feta_lut(device) -> torch.Tensor:
    from ..labels import GENERATION_TO_FETA

    lut = torch.zeros(TABLE_SIZE, dtype=torch.long)
    for v in range(TABLE_SIZE):
        lut[v] = GENERATION_TO_FETA.get(v % STRIDE, 0)
    return lut.to(device)


def _as_tensor_list(maps, name: str) -> list[torch.Tensor]:
    """Accept a tensor [B, X, Y, Z], an array, an Image, a SubclassMap, or a list of those."""
    if maps is None:
        return []
    if isinstance(maps, torch.Tensor) and maps.dim() in (4, 5):
        return [m.reshape(m.shape[-3:]) for m in maps]
    if isinstance(maps, np.ndarray) and maps.ndim == 4:
        return [torch.from_numpy(np.ascontiguousarray(m)) for m in maps]
    if not isinstance(maps, (list, tuple)):
        maps = [maps]
    out = []
    for m in maps:
        m = getattr(m, "labels", m)  # SubclassMap
        m = getattr(m, "data", m)  # Image
        t = m if isinstance(m, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(m))
        t = t.reshape(t.shape[-3:]) if t.dim() > 3 and all(s == 1 for s in t.shape[:-3]) else t
        if t.dim() != 3:
            raise ValueError(f"{name}: each map must be 3-D, got shape {tuple(t.shape)}")
        out.append(t)
    return out


def brain_centre(labels: torch.Tensor) -> list[float]:
    """Centre (voxels) of the bounding box of brain labels 1-8 (sub-classes included); grid centre if none."""
    parent = labels % STRIDE if int(labels.max()) >= STRIDE else labels
    brain = (parent >= 1) & (parent <= 8)
    if not bool(brain.any()):
        return [(s - 1) / 2 for s in labels.shape]
    centre = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        idx = torch.nonzero(brain.amax(dim=others))[:, 0]
        centre.append((float(idx[0]) + float(idx[-1])) / 2)
    return centre


def draw_label_centre(labels: torch.Tensor, g: torch.Generator, p: float) -> list[float] | None:
    """With probability ``p``, a random voxel (index coordinates, floats) of one FeTA label 1-7 drawn
    uniformly among the labels present in ``labels`` (generation labels or sub-class maps); else None
    (centre on the brain). Always consumes the same number of draws from ``g`` when ``p`` is on."""
    from . import random as R

    on = R.chance(g, p)
    u_label, u_voxel = R.uniform(g, 0.0, 1.0), R.uniform(g, 0.0, 1.0)
    if not on:
        return None
    feta = _feta_lut(labels.device)[labels.long()]
    present = [v for v in range(1, 8) if bool((feta == v).any())]
    if not present:
        return None
    v = present[min(int(u_label * len(present)), len(present) - 1)]
    idx = torch.nonzero(feta == v)
    row = idx[min(int(u_voxel * len(idx)), len(idx) - 1)]
    return [float(x) for x in row.tolist()]


class SynthGenerator:
    """SynthSeg-style generator of (image, target) pairs from label maps.

    Parameters
    ----------
    config : SynthConfig, optional
        Every step's probability and range (default: :class:`SynthConfig` defaults).
    """

    def __init__(self, config: SynthConfig | None = None):
        self.config = config or SynthConfig()

    def draw(self, labels: torch.Tensor, g: torch.Generator, spacing: float) -> dict:
        """Draw every step's parameters for one label map (JSON-able dict, one entry per step)."""
        cfg = self.config
        p = {"voxel_mm": float(spacing)}
        p["spatial"] = spatial.draw_spatial(cfg, g)
        counts = torch.bincount(labels.reshape(-1), minlength=TABLE_SIZE)
        values = torch.nonzero(counts)[:, 0].tolist()
        p["inflation"] = inflation.draw_inflation(cfg, values, g)
        p["contrast"] = contrast.draw_contrast(cfg, values, g)
        p["cortex_blur"] = artefacts.draw_cortex_blur(cfg, g)
        p["wm_noise"] = artefacts.draw_wm_noise(cfg, g)
        p["bias"] = bias.draw_bias(cfg, g)
        p["skull_strip"] = artefacts.draw_skull_strip(cfg, g)
        p["gin"] = gin.draw_gin(cfg, g)
        p["gamma"] = contrast.draw_gamma(cfg, g)
        p["resolution"] = resolution.draw_resolution(cfg, g, spacing)
        p["motion"] = artefacts.draw_motion(cfg, g)
        p["noise"] = noise.draw_noise(cfg, g)
        if cfg.p_label_centre > 0:  # drawn last and only when asked: other draws keep their stream
            p["centre"] = draw_label_centre(labels, g, cfg.p_label_centre)
        return p

    def apply(self, labels: torch.Tensor, p: dict, image: torch.Tensor | None = None):
        """Run the chain with drawn parameters ``p`` on one map [X, Y, Z].

        Deterministic: the same map, ``p`` and config give the same result. Records the two min-max
        normalisations in ``p['normalise_1']`` and ``p['normalise_2']`` (``{'low', 'high'}``), which
        invert the output to the 0-255 GMM scale when no later step is on. Returns (image float32
        [*output_shape] in [0, 1], generation labels uint8 [*output_shape], warped real image or None).
        """
        out_shape = self.config.output_shape
        dev = labels.device
        centre = p.get("centre") or brain_centre(labels)
        grid = spatial.sampling_grid(p["spatial"], labels.shape, out_shape, centre, dev)
        lab, real = spatial.warp(grid, labels, None if image is None else image.reshape(1, *labels.shape),
                                 flip=p["spatial"]["flip"], label_mode=self.config.label_interpolation)
        lab = inflation.apply_inflation(lab, p["inflation"])
        x = contrast.gmm_image(lab, p["contrast"])
        parent = (lab % STRIDE).to(torch.uint8)
        x = artefacts.apply_cortex_blur(x, parent, p["cortex_blur"])
        x = artefacts.apply_wm_noise(x, parent, p["wm_noise"])
        x = bias.apply_bias(x, p["bias"])
        x = artefacts.apply_skull_strip(x, parent, p["skull_strip"])
        x, p["normalise_1"] = contrast.normalise(x)
        x = gin.apply_gin(x, p["gin"])
        x = contrast.apply_gamma(x, p["gamma"])
        x = resolution.apply_resolution(x, p["resolution"], p["voxel_mm"])
        x = artefacts.apply_motion(x, p["motion"])
        x = noise.apply_noise(x, p["noise"])
        x, p["normalise_2"] = contrast.normalise(x)
        if real is not None:
            real = contrast.normalise(real[0])[0]
        return x, parent, real

    def sample(
        self,
        label_maps,
        generator: torch.Generator | None = None,
        images=None,
        *,
        spacing: float | None = None,
    ) -> SynthBatch:
        """Generate one synthetic sample per label map.

        Parameters
        ----------
        label_maps : LongTensor [B, X, Y, Z] or list of [X, Y, Z] tensors/arrays/Images/SubclassMaps
            Generation-convention labels (FeTA 0-7 is a valid subset) or sub-class maps
            (``parent + 16 k``). Maps may differ in shape; each is resampled to ``output_shape``.
        generator : torch.Generator, optional
            CPU generator driving every random draw (default: seeded 0). Same seed, same batch.
        images : like ``label_maps``, optional
            Real intensity images on the label maps' grids, warped alike into ``SynthBatch.real``.
        spacing : float, optional
            Voxel size in mm of the maps and the output (default ``config.voxel_mm``).

        Returns
        -------
        SynthBatch on the device of the input tensors.
        """
        maps = _as_tensor_list(label_maps, "label_maps")
        if not maps:
            raise ValueError("label_maps is empty")
        imgs = _as_tensor_list(images, "images")
        if imgs and len(imgs) != len(maps):
            raise ValueError(f"got {len(imgs)} images for {len(maps)} label maps")
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        if generator.device.type != "cpu":
            raise ValueError("generator must be a CPU torch.Generator (parameters are drawn on the CPU)")
        dev = maps[0].device
        spacing = float(self.config.voxel_mm if spacing is None else spacing)
        lut = _feta_lut(dev)
        images_out, labels_out, reals, params = [], [], [], []
        for b, m in enumerate(maps):
            m = m.to(dev).long()
            if m.numel() and (int(m.min()) < 0 or int(m.max()) >= TABLE_SIZE):
                raise ValueError(f"label map {b}: values must be in 0..{TABLE_SIZE - 1}")
            if imgs and tuple(imgs[b].shape) != tuple(m.shape):
                raise ValueError(f"image {b} shape {tuple(imgs[b].shape)} differs from its label map {tuple(m.shape)}")
            p = self.draw(m, generator, spacing)
            x, lab, real = self.apply(m, p, imgs[b].to(dev).float() if imgs else None)
            images_out.append(x)
            labels_out.append(lab)
            reals.append(real)
            params.append(p)
        labels = torch.stack(labels_out)
        return SynthBatch(
            image=torch.stack(images_out)[:, None].float(),
            target=lut[labels.long()],
            labels=labels.long(),
            params=params,
            real=torch.stack(reals)[:, None] if imgs else None,
        )

    def __call__(self, label_maps, generator: torch.Generator | None = None, images=None, **kw) -> SynthBatch:
        return self.sample(label_maps, generator, images, **kw)
