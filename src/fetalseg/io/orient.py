"""Reorientation between a file's voxel order and RAS+ (exact: axis permutations and flips only)."""

from __future__ import annotations

import nibabel.orientations as nio
import numpy as np

from .image import Image


def orientation_code(affine: np.ndarray) -> str:
    """Three-letter axis code of an affine, e.g. ``'RAS'`` or ``'LPI'``."""
    return "".join(nio.aff2axcodes(affine))


def to_ras(image: Image) -> tuple[Image, np.ndarray]:
    """Permute and flip the array axes so that they point closest to R, A, S.

    Returns the reoriented image (same voxels, no interpolation) and the nibabel orientation array
    ``ornt`` needed by :func:`from_ras` to go back.
    """
    ornt = nio.io_orientation(image.affine)
    data = nio.apply_orientation(image.data, ornt)
    affine = image.affine @ nio.inv_ornt_aff(ornt, image.shape)
    return image.with_data(np.ascontiguousarray(data), affine), ornt


def from_ras(image: Image, ornt: np.ndarray, original_shape: tuple[int, int, int]) -> Image:
    """Undo :func:`to_ras`: ``ornt`` and ``original_shape`` are those of the original image."""
    back = nio.ornt_transform(nio.axcodes2ornt("RAS"), nio.io_orientation(_ornt_affine(ornt)))
    data = nio.apply_orientation(image.data, back)
    affine = image.affine @ nio.inv_ornt_aff(back, image.shape)
    if tuple(data.shape) != tuple(original_shape):
        raise ValueError(f"shape {data.shape} does not match original {original_shape}")
    return image.with_data(np.ascontiguousarray(data), affine)


def _ornt_affine(ornt: np.ndarray) -> np.ndarray:
    """A signed permutation affine whose io_orientation is ``ornt``."""
    aff = np.eye(4)
    aff[:3, :3] = 0
    for src_axis, (dst_axis, flip) in enumerate(ornt):
        aff[int(dst_axis), src_axis] = flip
    return aff
