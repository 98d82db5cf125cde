"""The :class:`Image` object: a 3-D array that carries its affine and NIfTI header."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np


def affine_spacing(affine: np.ndarray) -> np.ndarray:
    """Voxel size in mm along each array axis, shape (3,): the column norms of the affine's linear part."""
    return np.sqrt((np.asarray(affine, dtype=np.float64)[:3, :3] ** 2).sum(axis=0))


def affine_voxel_volume(affine: np.ndarray) -> float:
    """Volume of one voxel in mm^3: the absolute determinant of the affine's linear part."""
    return float(abs(np.linalg.det(np.asarray(affine, dtype=np.float64)[:3, :3])))


@dataclass
class Image:
    """A 3-D volume in world space.

    Attributes
    ----------
    data : numpy.ndarray, shape (X, Y, Z)
        Voxel values in the file's storage order (index ``i, j, k``).
    affine : numpy.ndarray, shape (4, 4), float64
        Voxel index ``(i, j, k, 1)`` to world coordinates in mm (NIfTI RAS+ world convention).
    header : nibabel.Nifti1Header or None
        The header read from disk (kept so that sform/qform codes, units and descriptions survive
        a load/save round trip); ``None`` for images built in memory.
    path : pathlib.Path or None
        Where the image was read from, for messages.
    """

    data: np.ndarray
    affine: np.ndarray
    header: object | None = None
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {self.affine.shape}")
        if np.ndim(self.data) != 3:
            raise ValueError(f"Image data must be 3-D, got shape {np.shape(self.data)}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size in mm along each array axis, shape (3,), from the affine's column norms."""
        return affine_spacing(self.affine)

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel in mm^3 (absolute determinant of the affine's linear part)."""
        return affine_voxel_volume(self.affine)

    def with_data(self, data: np.ndarray, affine: np.ndarray | None = None) -> "Image":
        """A copy holding ``data`` (and optionally a new affine), keeping the header."""
        return replace(self, data=data, affine=self.affine if affine is None else affine)

    @classmethod
    def like(cls, data: np.ndarray, reference: "Image") -> "Image":
        """An image on the same grid and header as ``reference`` with new ``data``."""
        if tuple(data.shape) != reference.shape:
            raise ValueError(f"data shape {data.shape} differs from reference {reference.shape}")
        return cls(data=data, affine=reference.affine.copy(), header=reference.header, path=None)
