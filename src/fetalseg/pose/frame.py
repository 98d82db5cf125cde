"""The canonical head frame (:class:`Pose`) and resampling into and out of it.

Canonical coordinates ``u = (x, y, z)`` in mm: ``x`` left -> right (normal of the mid-sagittal
plane), ``y`` posterior -> anterior, ``z`` inferior -> superior, origin at the brain centre on the
mid-sagittal plane. World coordinates are the NIfTI RAS+ world of the input (mm). A pose maps
``world = origin + rotation @ u``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import Image, resample_image

__all__ = ["Pose", "canonical_grid", "to_canonical", "from_canonical"]


@dataclass(frozen=True)
class Pose:
    """Head pose: a rigid map between canonical and world coordinates.

    Attributes
    ----------
    rotation : ndarray, shape (3, 3), float64
        Proper rotation; its columns are the canonical axes in world coordinates: left->right
        (the mid-sagittal plane's normal), posterior->anterior, inferior->superior.
    origin : ndarray, shape (3,), float64
        World position (mm) of the canonical origin; it lies on the mid-sagittal plane.
    symmetry : float
        Mean agreement (0-1) of the labels with their reflection through the mid-sagittal plane.
    info : dict
        How the pose was found (method, optimiser evaluations, signs used).
    """

    rotation: np.ndarray
    origin: np.ndarray
    symmetry: float = float("nan")
    info: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        r = np.asarray(self.rotation, dtype=np.float64)
        if r.shape != (3, 3) or not np.allclose(r.T @ r, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
            raise ValueError("rotation must be a proper 3x3 rotation matrix")
        object.__setattr__(self, "rotation", r)
        object.__setattr__(self, "origin", np.asarray(self.origin, dtype=np.float64).reshape(3))

    @property
    def normal(self) -> np.ndarray:
        """Unit normal of the mid-sagittal plane (world, pointing to the subject's right)."""
        return self.rotation[:, 0]

    @property
    def matrix(self) -> np.ndarray:
        """4x4 homogeneous map from canonical to world coordinates (mm)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.origin
        return m

    def to_world(self, u) -> np.ndarray:
        """Canonical points ``(..., 3)`` (mm) to world points ``(..., 3)`` (mm)."""
        return np.asarray(u, dtype=np.float64) @ self.rotation.T + self.origin

    def to_canonical(self, w) -> np.ndarray:
        """World points ``(..., 3)`` (mm) to canonical points ``(..., 3)`` (mm)."""
        return (np.asarray(w, dtype=np.float64) - self.origin) @ self.rotation

    def to_dict(self) -> dict:
        """JSON-ready summary: axes (world unit vectors), origin (mm), symmetry score."""
        return {"left_right": self.rotation[:, 0].round(6).tolist(),
                "posterior_anterior": self.rotation[:, 1].round(6).tolist(),
                "inferior_superior": self.rotation[:, 2].round(6).tolist(),
                "origin_mm": self.origin.round(4).tolist(), "symmetry": round(float(self.symmetry), 5)}


def canonical_grid(pose: Pose, half_extent_mm, spacing_mm: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """A grid ``(shape, affine)`` aligned with the canonical axes, centred on the pose origin.

    ``half_extent_mm`` is a float or 3 floats (mm along canonical x, y, z); ``spacing_mm`` the
    isotropic voxel size. Voxel axis ``i`` runs along canonical axis ``i`` in the positive direction.
    """
    if spacing_mm <= 0:
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm}")
    half = np.broadcast_to(np.asarray(half_extent_mm, dtype=np.float64), (3,))
    if np.any(half <= 0):
        raise ValueError(f"half_extent_mm must be positive, got {half_extent_mm}")
    n = np.ceil(2 * half / spacing_mm).astype(int) + 1
    local = np.eye(4)
    local[:3, :3] = np.eye(3) * spacing_mm
    local[:3, 3] = -(n - 1) / 2.0 * spacing_mm
    return tuple(int(v) for v in n), pose.matrix @ local


def to_canonical(image: Image, pose: Pose, *, spacing_mm: float = 0.5, half_extent_mm=None,
                 labels: bool = False, interpolation: str = "linear") -> Image:
    """Resample ``image`` into the canonical frame of ``pose``.

    Parameters
    ----------
    image : Image
        Intensity image or label map (any orientation).
    pose : Pose
    spacing_mm : float
        Isotropic voxel size of the canonical grid.
    half_extent_mm : float or 3 floats, optional
        Half field of view along canonical x, y, z; default: half the diagonal of ``image``'s field
        of view (everything fits whatever the rotation).
    labels : bool
        Treat ``image`` as a label map (one-hot linear or nearest, dtype kept).
    interpolation : {'nearest', 'linear', 'cubic'}

    Returns
    -------
    Image
        Array axes = canonical x (left->right), y (posterior->anterior), z (inferior->superior); its
        affine maps voxels to the input's world coordinates, so it can be saved and overlaid.
    """
    if half_extent_mm is None:
        half_extent_mm = 0.5 * float(np.linalg.norm(np.asarray(image.shape) * image.spacing))
    grid = canonical_grid(pose, half_extent_mm, spacing_mm)
    return resample_image(image, grid, interpolation=interpolation, labels=labels)


def from_canonical(image: Image, like: Image, *, labels: bool = False, interpolation: str = "linear") -> Image:
    """Resample a canonical-frame ``image`` (from :func:`to_canonical`) back onto ``like``'s grid."""
    return resample_image(image, like, interpolation=interpolation, labels=labels)
