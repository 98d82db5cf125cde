"""Test helper: a toy FeTA label map with known geometry (symmetric, rotatable)."""

from __future__ import annotations

import numpy as np

from fetalseg.pose import rotation_matrix


def toy_brain(shape=(48, 56, 44), tilt_deg=(0.0, 0.0, 0.0)):
    """A symmetric toy brain (FeTA labels): ellipsoidal cerebrum (WM inside GM, two ventricles),
    cerebellum posterior-inferior, brainstem below; built in a frame rotated by ``tilt_deg``."""
    r = rotation_matrix(tilt_deg)
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1).astype(float)
    c = (np.asarray(shape) - 1) / 2
    p = (idx - c) @ r  # world offsets -> brain frame (R^T p)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    lab = np.zeros(shape, np.uint8)
    cer = (x / 15) ** 2 + (y / 19) ** 2 + (z / 12) ** 2 <= 1
    lab[cer] = 2
    lab[(x / 13) ** 2 + (y / 17) ** 2 + (z / 10) ** 2 <= 1] = 3
    lab[((np.abs(x) - 4) / 2) ** 2 + (y / 8) ** 2 + ((z - 1) / 3) ** 2 <= 1] = 4
    lab[(x / 8) ** 2 + ((y + 10) / 4) ** 2 + ((z + 13) / 3.5) ** 2 <= 1] = 5
    lab[(x / 2.5) ** 2 + ((y + 3) / 2.5) ** 2 + ((z + 13) / 6) ** 2 <= 1] = 7
    return lab, r


def midline_height(mask: np.ndarray, affine: np.ndarray) -> float:
    """Brute-force HV oracle for an upright, axis-aligned grid: in the voxel slice nearest world x = 0,
    the largest (last - first + 1) voxel run length along z of ``mask``, times the voxel size (mm)."""
    i0 = int(round(-affine[0, 3] / affine[0, 0]))
    sl = mask[i0]
    best = 0
    for j in range(sl.shape[0]):
        z = np.nonzero(sl[j])[0]
        if z.size:
            best = max(best, int(z.max() - z.min() + 1))
    return best * float(affine[2, 2])
