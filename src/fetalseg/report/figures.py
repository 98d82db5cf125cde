"""PNG figures of a report, returned as bytes: orthogonal mosaics (overlay, contours) and thumbnails.

Volumes are given in RAS+ voxel order (:func:`fetalseg.io.to_ras`); slices are shown in the
neurological convention (x grows to the right: the subject's right is on the viewer's right), anterior
up in axial views, superior up in coronal and sagittal views (anterior to the right), with the voxel
aspect ratio.
"""

from __future__ import annotations

import io

import numpy as np

#: Slice positions within the brain's bounding box along each axis (fractions of its extent).
FRACTIONS = (0.2, 0.35, 0.5, 0.65, 0.8)
VIEWS = (("axial", 2), ("coronal", 1), ("sagittal", 0))
OVERLAY_ALPHA = 0.4


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def brain_box(labels: np.ndarray, margin: int = 4) -> tuple[slice, slice, slice]:
    """Bounding box of ``labels > 0`` grown by ``margin`` voxels (the whole volume when there is no label)."""
    fg = np.nonzero(labels)
    if not fg[0].size:
        return tuple(slice(0, n) for n in labels.shape)
    return tuple(slice(max(0, int(a.min()) - margin), min(n, int(a.max()) + margin + 1))
                 for a, n in zip(fg, labels.shape))


def _panel(vol: np.ndarray, axis: int, k: int) -> np.ndarray:
    """The 2-D slice ``k`` along ``axis``, transposed so that rows are the vertical display axis."""
    return np.take(vol, k, axis=axis).T


def panel_rgb(grey2d: np.ndarray, lab2d: np.ndarray, lut: np.ndarray, mode: str) -> np.ndarray:
    """RGB (H, W, 3) float in [0, 1]: labels blended over the grey slice ('overlay') or outlined ('contour')."""
    if mode == "contour":
        from ..synth.preview import outline_rgb

        return outline_rgb(grey2d, lab2d, lut)
    grey = np.clip(grey2d, 0, 1)[..., None].repeat(3, axis=-1)
    alpha = np.where(lab2d > 0, OVERLAY_ALPHA, 0.0)[..., None]
    return grey * (1 - alpha) + (lut[lab2d] / 255.0) * alpha


def _png(fig, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    _plt().close(fig)
    return buf.getvalue()


def orthogonal_mosaic(grey: np.ndarray, labels: np.ndarray, spacing, mode: str = "overlay", dpi: int = 100) -> bytes:
    """PNG of 3 rows (axial, coronal, sagittal) x 5 slices through the brain box.

    Parameters
    ----------
    grey : (X, Y, Z) float in [0, 1], RAS+ order (zeros when there is no image)
    labels : (X, Y, Z) int, FeTA values, same grid
    spacing : 3 floats, voxel size in mm
    mode : 'overlay' (labels blended at alpha 0.4) or 'contour' (label boundaries)
    """
    from ..labels import FETA

    if mode not in ("overlay", "contour"):
        raise ValueError(f"mode must be 'overlay' or 'contour', got {mode!r}")
    plt = _plt()
    lut = FETA.colour_lut()
    box = brain_box(labels)
    g, lab = grey[box], np.asarray(labels[box]).astype(np.intp)
    sp = [float(s) for s in spacing]
    fig, axes = plt.subplots(3, len(FRACTIONS), figsize=(2.1 * len(FRACTIONS), 6.3), facecolor="black")
    for r, (name, axis) in enumerate(VIEWS):
        horiz, vert = [a for a in range(3) if a != axis]
        for c, frac in enumerate(FRACTIONS):
            k = int(round(frac * (lab.shape[axis] - 1)))
            ax = axes[r, c]
            ax.imshow(panel_rgb(_panel(g, axis, k), _panel(lab, axis, k), lut, mode), origin="lower",
                      interpolation="nearest", aspect=sp[vert] / sp[horiz])
            ax.set_axis_off()
        axes[r, 0].set_title(name, color="white", fontsize=9, loc="left")
    fig.tight_layout(pad=0.3)
    return _png(fig, dpi)


def thumbnail(grey: np.ndarray, labels: np.ndarray) -> bytes:
    """Small PNG: the middle axial slice of the brain box with the label overlay (native resolution)."""
    from matplotlib.image import imsave

    from ..labels import FETA

    box = brain_box(labels)
    g, lab = grey[box], np.asarray(labels[box]).astype(np.intp)
    k = lab.shape[2] // 2
    rgb = panel_rgb(_panel(g, 2, k), _panel(lab, 2, k), FETA.colour_lut(), "overlay")[::-1]
    buf = io.BytesIO()
    imsave(buf, np.clip(rgb, 0, 1), format="png")
    return buf.getvalue()
