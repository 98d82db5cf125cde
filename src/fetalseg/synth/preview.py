"""PNG mosaics of synthetic samples: one slice per sample, grey image with the label outlines."""

from __future__ import annotations

import os

import numpy as np


def outline_rgb(image2d: np.ndarray, labels2d: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """RGB float array (H, W, 3) of a [0, 1] grey slice with each label's boundary drawn in its colour.

    ``colours`` is a (max_label + 1, 3) uint8 lookup table (e.g. ``FETA.colour_lut()``).
    """
    from skimage.segmentation import find_boundaries

    grey = np.clip(np.asarray(image2d, dtype=np.float32), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    lab = np.asarray(labels2d).astype(np.intp)
    edge = find_boundaries(lab, mode="inner") & (lab > 0)
    rgb[edge] = colours[lab[edge]] / 255.0
    return rgb


def mosaic(images, targets, path: str | os.PathLike, *, titles=None, columns: int = 4, axis: int = 2,
           dpi: int = 100, overwrite: bool = False):
    """Save a grid of middle slices (along ``axis``) of ``images`` with ``targets`` outlined.

    Parameters
    ----------
    images : sequence of ndarray (X, Y, Z), float in [0, 1]
    targets : sequence of ndarray (X, Y, Z), int, FeTA labels
    path : PNG file, written atomically
    titles : sequence of str, optional (one per panel)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path
    from ..labels import FETA

    images, targets = list(images), list(targets)
    if not images or len(images) != len(targets):
        raise ValueError("need as many targets as images (at least one)")
    colours = FETA.colour_lut()
    n = len(images)
    cols = max(1, min(columns, n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 3.0 * rows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        img, lab = np.asarray(images[i]), np.asarray(targets[i])
        k = img.shape[axis] // 2
        sl = [slice(None)] * 3
        sl[axis] = k
        rgb = outline_rgb(img[tuple(sl)], lab[tuple(sl)], colours)
        ax.imshow(np.transpose(rgb, (1, 0, 2)), origin="lower", interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def describe(params: dict) -> str:
    """A short title naming the drawn contrast mode, resolution and artefacts of one sample."""
    parts = ["T2 prior" if params["contrast"]["t2_prior"] else "GMM"]
    res = params["resolution"]
    if res["on"]:
        r = res["resolution_mm"]
        parts.append(f"{max(r):.1f} mm slice" if res["mode"] == "slice" else f"{r[0]:.1f} mm iso")
    for key, short in (("bias", "bias"), ("motion", "motion"), ("cortex_blur", "ctx blur"), ("wm_noise", "WM noise"),
                       ("gin", "GIN"), ("inflation", "inflate")):
        if params[key].get("on"):
            parts.append(short)
    if params["skull_strip"].get("on"):
        parts.append(params["skull_strip"]["mode"])
    if params["noise"].get("on"):
        parts.append(("rician " if params["noise"]["rician"] else "noise ") + f"{params['noise']['std']:.0f}")
    import textwrap

    return textwrap.fill(", ".join(parts), width=34)
