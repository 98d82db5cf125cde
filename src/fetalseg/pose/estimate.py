"""Head pose from a FeTA label map: mid-sagittal plane, then anterior-posterior and superior-inferior axes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .frame import Pose
from .symmetry import find_midsagittal

__all__ = ["estimate_pose", "silhouette_axis", "CEREBRUM", "BRAIN"]

BRAIN = (2, 3, 4, 5, 6, 7)
"""FeTA labels of the brain (cortex, white matter, ventricles, cerebellum, deep grey matter, brainstem)."""
CEREBRUM = (2, 3, 4, 6)
"""FeTA labels of the cerebrum (no cerebellum, no brainstem)."""


def _world_points(mask: np.ndarray, affine: np.ndarray, max_points: int | None = None) -> np.ndarray:
    idx = np.argwhere(mask)
    if max_points is not None and len(idx) > max_points:
        idx = idx[:: int(np.ceil(len(idx) / max_points))]
    return idx @ affine[:3, :3].T + affine[:3, 3]


def silhouette_axis(points: np.ndarray, normal: np.ndarray, pixel: float) -> np.ndarray:
    """Long principal axis (world unit vector in the plane of ``normal``) of the filled silhouette of
    ``points`` (N, 3) projected on that plane, rasterised at ``pixel`` mm. The silhouette ignores
    medial notches (the cerebellar notch under the occipital lobes) that tilt a volume's moments."""
    a = np.eye(3)[int(np.argmin(np.abs(normal)))]
    e1 = np.cross(normal, a)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(normal, e1)
    uv = np.stack([points @ e1, points @ e2], axis=1)
    lo = uv.min(axis=0) - 2 * pixel
    ij = np.floor((uv - lo) / pixel).astype(int)
    sil = np.zeros(tuple(ij.max(axis=0) + 3), bool)
    sil[ij[:, 0], ij[:, 1]] = True
    sil = ndimage.binary_fill_holes(ndimage.binary_closing(sil, iterations=2))
    q = np.argwhere(sil).astype(np.float64)
    q -= q.mean(axis=0)
    w, v = np.linalg.eigh(q.T @ q)
    major = v[:, int(np.argmax(w))]
    axis = major[0] * e1 + major[1] * e2
    return axis / np.linalg.norm(axis)


def _in_plane_axes(cerebrum: np.ndarray, hind: np.ndarray, cb: np.ndarray, normal: np.ndarray, pixel: float):
    """AP and SI unit vectors in the plane of ``normal``: AP is the long axis of the cerebrum's
    sagittal silhouette; signs put the cerebellum posterior and the hindbrain inferior."""
    centre = cerebrum.mean(axis=0)
    ap = silhouette_axis(cerebrum, normal, pixel)
    si = np.cross(normal, ap)
    if (hind.mean(axis=0) - centre) @ si > 0:
        si = -si
    if len(cb) and (cb.mean(axis=0) - centre) @ ap > 0:
        ap = -ap
    return ap, si, centre


def estimate_pose(labels: np.ndarray, affine: np.ndarray, image: np.ndarray | None = None, *,
                  weighting: str = "label") -> Pose:
    """Canonical head frame of a fetal brain from its FeTA label map.

    Parameters
    ----------
    labels : ndarray (X, Y, Z), integer
        FeTA labels 0-7 (convert other conventions with :func:`fetalseg.labels.to_feta` first).
        Needs the cerebrum (2, 3, 4, 6) and at least one of cerebellum (5) / brainstem (7).
    affine : ndarray (4, 4)
        Voxel index to world (RAS+, mm); any orientation, oblique allowed.
    image : ndarray (X, Y, Z), optional
        The T2w image on the same grid. Accepted for API stability; the current estimator uses the
        labels only (their symmetry is sharper than the image's).
    weighting : {'label', 'volume'}
        How the labels share the mid-sagittal symmetry score (:class:`~fetalseg.pose.symmetry.SymmetryField`):
        'label' (default) is robust to an automatic segmentation that misses one ventricle.

    Returns
    -------
    Pose
        ``rotation`` columns: left->right (mid-sagittal normal), posterior->anterior (long principal axis
        of the cerebrum's sagittal silhouette, sign so that the cerebellum is posterior),
        inferior->superior (sign so that cerebellum and brainstem are inferior); ``origin`` the
        cerebrum centroid projected on the mid-sagittal plane. Right-handed, so left-right follows
        from the other two (the chirality of a symmetric brain cannot be seen).

    Raises
    ------
    ValueError
        Wrong shapes, or no cerebrum / hindbrain in ``labels``.
    """
    labels = np.asarray(labels)
    affine = np.asarray(affine, dtype=np.float64)
    if labels.ndim != 3:
        raise ValueError(f"labels must be 3-D, got shape {labels.shape}")
    if affine.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got {affine.shape}")
    if image is not None and np.shape(image) != labels.shape:
        raise ValueError(f"image shape {np.shape(image)} differs from labels shape {labels.shape}")
    cer_mask = np.isin(labels, CEREBRUM)
    hind_mask = np.isin(labels, (5, 7))
    if not cer_mask.any():
        raise ValueError("labels has no cerebrum (FeTA labels 2, 3, 4, 6)")
    if not hind_mask.any():
        raise ValueError("labels has no cerebellum or brainstem (FeTA labels 5, 7): the axes cannot be oriented")
    centre = _world_points(np.isin(labels, BRAIN), affine, 200000).mean(axis=0)
    normal, offset, score, info = find_midsagittal(labels, affine, centre, weighting=weighting)
    cer = _world_points(cer_mask, affine)
    pixel = float(np.sqrt((affine[:3, :3] ** 2).sum(axis=0)).min())
    ap, si, c = _in_plane_axes(cer, _world_points(hind_mask, affine, 50000), _world_points(labels == 5, affine, 50000),
                               normal,
                               pixel)
    lr = np.cross(ap, si)
    origin = c - (c @ lr - offset * float(lr @ normal)) * lr
    rot = np.stack([lr, ap, si], axis=1)
    info = {**info, "method": "label symmetry + sagittal silhouette axes"}
    return Pose(rotation=rot, origin=origin, symmetry=score, info=info)
