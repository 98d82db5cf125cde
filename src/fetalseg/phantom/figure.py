"""Mosaic figure of phantoms: T2w with FeTA labels over it, axial / coronal / mid-sagittal / parasagittal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..labels import FETA
from .subject import make_subject


def _views(vol: np.ndarray, centre: Sequence[int], para: int):
    """Axial (z), coronal (y) and sagittal (x) slices through ``centre`` and the sagittal slice ``para``,
    oriented for display."""
    i, j, k = centre
    return (vol[:, :, k].T, vol[:, j, :].T, vol[i, :, :].T, vol[para, :, :].T)


def save_mosaic(path: str | os.PathLike, gas: Sequence[float] = (22.0, 28.0, 34.0),
                pathologies: Sequence[str] = ("normal", "vm"), voxel: float = 0.8, seed: int = 0,
                site: str = "siteE") -> Path:
    """Write a PNG mosaic: one row per (pathology, GA), columns axial / coronal / mid-sagittal /
    parasagittal.

    Each panel shows the T2w image in grey with the FeTA labels (colours of
    :data:`fetalseg.labels.FETA`) blended over it. Slices pass through the brain centre (the world
    origin of the phantom frame); the mid-sagittal one through the midline (the callosum, the third
    ventricle, the vermis and the brainstem), the parasagittal one 3 mm left of it (the medial
    surface: cingulate gyrus and sulcus, medial sulci).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = np.array([FETA[v].colour if v in FETA.values else (0, 0, 0) for v in range(8)], dtype=np.float32) / 255
    rows = [(p, ga) for p in pathologies for ga in gas]
    fig, axes = plt.subplots(len(rows), 4, figsize=(12, 3 * len(rows)), facecolor="black")
    for r, (pathology, ga) in enumerate(rows):
        s = make_subject(ga, pathology, voxel=voxel, site=site, seed=seed)
        # through the brain centre; the parasagittal slice 3 mm left of the midline, inside the medial
        # surface of the left hemisphere rather than in the interhemispheric fissure
        centre = np.rint(np.linalg.solve(s.image.affine, np.array([0.0, 0.0, 0.0, 1.0]))[:3]).astype(int)
        para = int(np.rint(np.linalg.solve(s.image.affine, np.array([-3.0, 0.0, 0.0, 1.0]))[0]))
        img = s.image.data
        hi = float(np.percentile(img, 99.5))
        for c, (im, lab) in enumerate(zip(_views(img, centre, para), _views(s.labels.data, centre, para))):
            grey = np.clip(im / hi, 0, 1)[..., None].repeat(3, axis=-1)
            alpha = np.where(lab > 0, 0.35, 0.0)[..., None]
            rgb = grey * (1 - alpha) + colours[lab] * alpha
            ax = axes[r, c]
            ax.imshow(rgb, origin="lower", interpolation="nearest")
            ax.set_axis_off()
            if c == 0:
                ax.set_title(f"{pathology}, {ga:g} w", color="white", fontsize=10, loc="left")
    for c, name in enumerate(("axial", "coronal", "mid-sagittal", "parasagittal")):
        axes[0, c].set_title(name if c else f"{rows[0][0]}, {rows[0][1]:g} w   axial", color="white",
                             fontsize=10, loc="left" if c == 0 else "center")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, facecolor="black", metadata={"Software": None})
    plt.close(fig)
    return out
