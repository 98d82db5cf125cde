"""The mid-sagittal plane as the plane of best left-right symmetry of a label map.

Score of a plane (unit normal ``n``, offset ``d``: points ``p`` with ``n . p = d``, world mm): per
label, the mean over its sample points ``p`` of its smoothed indicator at the mirror point
``p - 2 (n . p - d) n``, averaged over the labels (equal weights by default, or by volume); 1 for a
perfectly symmetric map. The search scores a
Fibonacci half-sphere of normals through the brain centroid, then refines the best few with
Nelder-Mead over two tilt angles and the offset, first on coarse then on fine smoothing.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize

__all__ = ["SymmetryField", "reflect", "fibonacci_hemisphere", "find_midsagittal", "search_midsagittal"]


def reflect(points: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Mirror images of ``points`` (N, 3) through the plane ``normal . p = offset`` (unit normal)."""
    n = np.asarray(normal, dtype=np.float64)
    return points - 2.0 * (points @ n - offset)[:, None] * n[None, :]


def fibonacci_hemisphere(n: int) -> np.ndarray:
    """``n`` near-uniform unit vectors (n, 3) with z >= 0 (a normal and its negative are one plane)."""
    i = np.arange(n) + 0.5
    z = i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _crop_reduce(labels: np.ndarray, affine: np.ndarray, use, sigma_mm: float):
    """One-hot fractions (len(use), x, y, z) float32 of the labels in ``use``, cropped to their box
    plus a 3-sigma margin and block-averaged by an integer factor when ``sigma_mm`` spans several
    voxels; returns the stack and its affine."""
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    f = max(1, int(sigma_mm / (2.0 * float(spacing.max()))))
    fg = np.isin(labels, use)
    if not fg.any():
        return np.zeros((0, 1, 1, 1), np.float32), affine
    lo, hi = np.argwhere(fg).min(axis=0), np.argwhere(fg).max(axis=0) + 1
    margin = np.ceil(3 * sigma_mm / spacing).astype(int) + f
    lo = np.maximum(lo - margin, 0)
    hi = np.minimum(hi + margin, labels.shape)
    hi = lo + ((hi - lo + f - 1) // f) * f
    crop = np.zeros(tuple(hi - lo), labels.dtype)
    src = labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    crop[: src.shape[0], : src.shape[1], : src.shape[2]] = src
    n = tuple((hi - lo) // f)
    stack = np.stack([(crop == v).reshape(n[0], f, n[1], f, n[2], f).mean(axis=(1, 3, 5), dtype=np.float32)
                      for v in use])
    a = affine.copy()
    a[:3, 3] = affine[:3, :3] @ (lo + (f - 1) / 2.0) + affine[:3, 3]
    a[:3, :3] = affine[:3, :3] * f
    return stack, a


class SymmetryField:
    """Smoothed per-label indicators and brain sample points of one label map.

    Parameters
    ----------
    labels : ndarray (X, Y, Z), integer
        FeTA labels; the labels in ``use`` take part.
    affine : ndarray (4, 4)
        Voxel to world (mm).
    sigma_mm : float
        Gaussian smoothing of each label's indicator (mm).
    max_points : int
        Sample points kept (every k-th brain voxel, deterministic).
    use : tuple of int
        Labels scored (default: the brain, FeTA 2-7).
    weighting : {'label', 'volume'}
        'label' (default): each label present gets an equal share of the points and of the score,
        so that the small, strongly lateralised structures (cerebellum, deep grey matter,
        brainstem, ventricles) vote as much as the cortex and white matter. A young brain's
        cerebrum is nearly as symmetric about the coronal plane as about the mid-sagittal one;
        under 'volume' (points and score in proportion to each label's volume) an automatic
        segmentation that misses one ventricle then scores the coronal plane best.
    """

    def __init__(self, labels: np.ndarray, affine: np.ndarray, sigma_mm: float, max_points: int,
                 use=(2, 3, 4, 5, 6, 7), weighting: str = "label") -> None:
        if weighting not in ("label", "volume"):
            raise ValueError(f"weighting must be 'label' or 'volume', got {weighting!r}")
        labels, affine = _crop_reduce(np.asarray(labels), np.asarray(affine, dtype=np.float64), use, sigma_mm)
        spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        self.inv = np.linalg.inv(affine)
        self.fields: dict[int, np.ndarray] = {}
        self.points: dict[int, np.ndarray] = {}
        self.weights: dict[int, float] = {}
        present = [v for v in range(labels.shape[0]) if (labels[v] >= 0.5).any()]
        total = sum(float(labels[v].sum()) for v in present)
        for v in present:
            self.fields[use[v]] = ndimage.gaussian_filter(labels[v], sigma_mm / spacing, mode="constant", truncate=3.0)
            idx = np.argwhere(labels[v] >= 0.5)
            share = 1.0 / len(present) if weighting == "label" else float(labels[v].sum()) / total
            idx = idx[:: max(1, int(np.ceil(len(idx) / max(1, int(round(max_points * share))))))]
            self.points[use[v]] = idx @ affine[:3, :3].T + affine[:3, 3]
            self.weights[use[v]] = 1.0 if weighting == "label" else float(len(idx))  # 'volume': every point alike
        self.n_points = sum(len(p) for p in self.points.values())

    def score(self, normal: np.ndarray, offset: float) -> float:
        """Reflected agreement (0-1) for the plane ``normal . p = offset``: per label the mean, over its
        sample points, of its smoothed indicator at the mirror points, combined with the label weights."""
        acc = 0.0
        for v, pts in self.points.items():
            q = reflect(pts, normal, offset)
            vox = q @ self.inv[:3, :3].T + self.inv[:3, 3]
            vals = ndimage.map_coordinates(self.fields[v], vox.T, order=1, mode="constant", cval=0.0)
            acc += self.weights[v] * float(vals.mean())
        return acc / max(sum(self.weights.values()), 1e-12)


def _tangent_basis(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.eye(3)[int(np.argmin(np.abs(n)))]
    e1 = np.cross(n, a)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(n, e1)


def _refine(field: SymmetryField, normal: np.ndarray, offset: float, step_rad: float, step_mm: float,
            xatol: float = 1e-4):
    e1, e2 = _tangent_basis(normal)

    def plane(x):
        n = normal + x[0] * e1 + x[1] * e2
        n = n / np.linalg.norm(n)
        return n, offset + x[2]

    def cost(x):
        return -field.score(*plane(x))

    simplex = np.array([[0, 0, 0], [step_rad, 0, 0], [0, step_rad, 0], [0, 0, step_mm]], dtype=np.float64)
    res = optimize.minimize(cost, np.zeros(3), method="Nelder-Mead",
                            options={"initial_simplex": simplex, "xatol": xatol, "fatol": 1e-7, "maxiter": 300})
    n, d = plane(res.x)
    return n, d, -float(res.fun), int(res.nfev)


def search_midsagittal(make_field, centre: np.ndarray, *, n_directions: int = 160, keep: int = 2):
    """The plane of best symmetry scored by the fields ``make_field(sigma_mm, max_points)`` builds
    (objects with ``score(normal, offset)`` and ``n_points``): a Fibonacci half-sphere of normals through
    ``centre`` at 3 mm smoothing, the best ``keep`` refined at 2 mm, the best of those at 1 mm.

    Returns ``(normal, offset, score, info)`` as :func:`find_midsagittal`.
    """
    coarse = make_field(3.0, 1500)
    if coarse.n_points == 0:
        raise ValueError("nothing to score: no brain sample points")
    dirs = fibonacci_hemisphere(n_directions)
    scores = np.array([coarse.score(n, float(n @ centre)) for n in dirs])
    best = np.argsort(-scores)[: max(1, keep)]
    mid = make_field(2.0, 4000)
    cands = [_refine(mid, dirs[i], float(dirs[i] @ centre), 0.06, 1.5, xatol=2e-3) for i in best]
    n, d, _, nfev = max(cands, key=lambda c: c[2])
    fine = make_field(1.0, 12000)
    n, d, s, nfev2 = _refine(fine, n, d, 0.015, 0.5)
    info = {"coarse_directions": int(n_directions), "coarse_best": float(scores[best[0]]),
            "evaluations": int(n_directions + sum(c[3] for c in cands) + nfev2)}
    return n, float(d), s, info


def find_midsagittal(labels: np.ndarray, affine: np.ndarray, centre: np.ndarray, *, n_directions: int = 160,
                     keep: int = 2, weighting: str = "label") -> tuple[np.ndarray, float, float, dict]:
    """Mid-sagittal plane of a FeTA label map (label symmetry, :class:`SymmetryField`).

    Parameters
    ----------
    labels : ndarray (X, Y, Z), integer, FeTA convention
    affine : ndarray (4, 4), voxel to world mm
    centre : ndarray (3,), world mm
        A point expected on the plane (the brain centroid) for the coarse search.
    n_directions : int
        Normals tried by the coarse search (half-sphere).
    keep : int
        Coarse candidates refined.
    weighting : {'label', 'volume'}
        How the labels share the score (:class:`SymmetryField`).

    Returns
    -------
    normal : ndarray (3,), unit; offset : float (mm); score : float (0-1); info : dict
    """
    if not np.isin(labels, (2, 3, 4, 5, 6, 7)).any():
        raise ValueError("labels has no brain voxels (FeTA labels 2-7)")
    return search_midsagittal(
        lambda sigma, points: SymmetryField(labels, affine, sigma_mm=sigma, max_points=points, weighting=weighting),
        centre, n_directions=n_directions, keep=keep)
