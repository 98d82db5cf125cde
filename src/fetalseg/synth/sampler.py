"""Data-driven shape sampler (the fetal SynthSeg fork's method): draw rare brain shapes more often.

For each training label map, 21 shape features over FeTA labels 2-7 (:func:`shape_features`); per
dataset, min-max scaling, doubled weight of the whole-brain, grey-matter, white-matter and ventricle
features, PCA to 3 components, a 6-cluster Gaussian mixture (fixed random state) and weight
``(1/K) / size of the map's cluster`` (:func:`cluster_weights`). Several datasets are fitted apart and
each gets an equal or given share of the mass (:func:`sampler_weights`). The training loader draws map
indices with replacement by these weights (:class:`WeightedMapSampler`); uniform sampling is the
baseline (:func:`uniform_weights`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

SHAPE_LABELS = (2, 3, 4, 5, 6, 7)
"""FeTA labels whose shapes are measured: cortical GM, WM, ventricles, cerebellum, deep GM, brainstem."""
N_FEATURES = 3 + 3 * len(SHAPE_LABELS)
FEATURE_NAMES = ["brain_volume", "brain_area", "brain_area_per_volume"] + [
    f"{kind}_{lab}" for lab in SHAPE_LABELS for kind in ("volume_fraction", "area_fraction", "area_per_volume")
]
DOUBLED = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
"""Feature indices multiplied by 2: whole brain, grey matter (2), white matter (3), ventricles (4)."""


def _surface(mask: np.ndarray, spacing) -> float:
    """Area in mm^2 of the marching-cubes (level 0.5) surface of a binary mask; 0 for an empty mask."""
    from skimage.measure import marching_cubes, mesh_surface_area

    idx = np.argwhere(mask)
    if len(idx) == 0:
        return 0.0
    lo, hi = idx.min(0), idx.max(0) + 1
    crop = np.pad(mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32), 1)
    verts, faces, _, _ = marching_cubes(crop, level=0.5, spacing=tuple(float(s) for s in spacing))
    return float(mesh_surface_area(verts, faces))


def shape_features(label_map: np.ndarray, spacing=(1.0, 1.0, 1.0), convention: str = "auto") -> np.ndarray:
    """The 21 shape features of one label map.

    Parameters
    ----------
    label_map : ndarray (X, Y, Z), int
        FeTA labels (0-7) or generation labels (0-12, corpus callosum counted as white matter;
        'auto' treats maps with values above 7 as generation maps). Sub-class maps are reduced to
        their parents first.
    spacing : 3 floats
        Voxel size in mm.

    Returns
    -------
    ndarray (21,), float64: whole-brain (union of labels 2-7) volume in mm^3, surface area in mm^2
    and area/volume in 1/mm; then for each label 2..7 its volume fraction and surface-area fraction
    of the whole brain and its own area/volume (0 for an absent label). See :data:`FEATURE_NAMES`.
    """
    from ..labels import GENERATION_TO_FETA
    from .subclasses import STRIDE

    lab = np.asarray(label_map)
    if lab.ndim != 3:
        raise ValueError(f"label_map must be 3-D, got shape {lab.shape}")
    spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if spacing.shape != (3,) or np.any(spacing <= 0):
        raise ValueError(f"spacing must be 3 positive numbers, got {spacing}")
    if lab.max(initial=0) >= STRIDE:
        lab = lab % STRIDE
    if convention == "generation" or (convention == "auto" and lab.max(initial=0) > 7):
        lut = np.zeros(STRIDE, np.uint8)
        for k, v in GENERATION_TO_FETA.items():
            lut[k] = v
        lab = lut[lab.astype(np.intp)]
    voxel = float(np.prod(spacing))
    brain = np.isin(lab, SHAPE_LABELS)
    vol = brain.sum() * voxel
    area = _surface(brain, spacing)
    feats = [vol, area, area / vol if vol > 0 else 0.0]
    for v in SHAPE_LABELS:
        m = lab == v
        lv = m.sum() * voxel
        la = _surface(m, spacing)
        feats += [lv / vol if vol > 0 else 0.0, la / area if area > 0 else 0.0, la / lv if lv > 0 else 0.0]
    return np.asarray(feats, dtype=np.float64)


def cluster_weights(features: np.ndarray, seed: int = 0, n_clusters: int = 6, n_components: int = 3):
    """Weights of one dataset's maps from their features.

    Min-max scaling per feature (constant features become 0), :data:`DOUBLED` features times 2, PCA to
    ``n_components``, a Gaussian mixture of ``n_clusters`` (``random_state=seed``; both capped by the
    number of maps), weight ``(1 / K) / |cluster|`` with K the number of non-empty clusters.

    Returns (weights ndarray (n,) summing to 1, cluster index ndarray (n,)).
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"features must be (n_maps, n_features) with n_maps >= 1, got {f.shape}")
    n = f.shape[0]
    if n == 1:
        return np.ones(1), np.zeros(1, dtype=int)
    lo, hi = f.min(0), f.max(0)
    if np.all(hi - lo <= 0):  # identical shapes: one cluster, uniform weights
        return np.full(n, 1.0 / n), np.zeros(n, dtype=int)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    x = (f - lo) / span
    doubled = [i for i in DOUBLED if i < x.shape[1]]
    x[:, doubled] *= 2.0
    k_comp = max(1, min(n_components, n - 1, x.shape[1]))
    z = PCA(n_components=k_comp, random_state=seed).fit_transform(x)
    k = min(n_clusters, len(np.unique(np.round(z, 9), axis=0)))
    gmm = GaussianMixture(n_components=k, random_state=seed, reg_covar=1e-4, n_init=10)  # best of 10 fits
    clusters = gmm.fit_predict(z)
    _, inverse, counts = np.unique(clusters, return_inverse=True, return_counts=True)
    weights = (1.0 / len(counts)) / counts[inverse]
    return weights / weights.sum(), clusters.astype(int)


def sampler_weights(
    datasets,
    shares=None,
    seed: int = 0,
    *,
    convention: str = "auto",
    progress=None,
) -> dict:
    """Shape-sampler weights over several datasets of label maps.

    Parameters
    ----------
    datasets : list of list of path
        Label-map files, grouped by dataset (each group is fitted apart).
    shares : list of float, optional
        Mass of each dataset (normalised; default equal shares).
    seed : int
        Random state of PCA and the Gaussian mixture.
    convention : {'auto', 'feta', 'withcc', 'generation'}
        Label convention of the files; 'auto' reads ``*desc-withcc*`` files as WITHCC and others as
        FeTA/generation maps.
    progress : callable, optional
        Called with each file path after its features are computed.

    Returns
    -------
    dict (JSON-able): ``files`` (str), ``dataset`` (int), ``cluster`` (int), ``weights`` (float, sum 1),
    ``shares``, ``features`` (21 per file), ``feature_names``, ``method``, ``seed``.
    """
    from ..io import load_image
    from ..labels import GENERATION, TABLES
    from .data import guess_convention, to_generation

    groups = [[Path(p) for p in group] for group in datasets]
    if not groups or any(len(g) == 0 for g in groups):
        raise InputError(None, "every dataset needs at least one label map")
    if shares is None:
        shares = [1.0] * len(groups)
    shares = np.asarray(shares, dtype=np.float64)
    if shares.shape != (len(groups),) or np.any(shares < 0) or shares.sum() <= 0:
        raise InputError(None, f"shares must be {len(groups)} non-negative numbers with a positive sum")
    shares = shares / shares.sum()
    files, dataset, clusters, weights, feats = [], [], [], [], []
    for d, group in enumerate(groups):
        f = []
        for p in group:
            conv = guess_convention(p) if convention == "auto" else convention
            img = load_image(p, labels=GENERATION if conv == "feta" else TABLES[conv])
            data = to_generation(img.data, "generation" if conv == "feta" else conv)
            f.append(shape_features(data, img.spacing, "generation"))
            if progress is not None:
                progress(p)
        w, c = cluster_weights(np.stack(f), seed=seed)
        files += [str(p) for p in group]
        dataset += [d] * len(group)
        clusters += c.tolist()
        weights += (w * shares[d]).tolist()
        feats += [x.tolist() for x in f]
    total = float(np.sum(weights))
    return {
        "method": "shape-pca-gmm", "seed": int(seed), "files": files, "dataset": dataset, "cluster": clusters,
        "weights": [w / total for w in weights], "shares": shares.tolist(), "feature_names": FEATURE_NAMES,
        "features": feats,
    }


def uniform_weights(files) -> dict:
    """The uniform baseline in the same JSON layout as :func:`sampler_weights`."""
    files = [str(p) for p in files]
    if not files:
        raise InputError(None, "no label maps")
    n = len(files)
    return {"method": "uniform", "files": files, "dataset": [0] * n, "cluster": [0] * n, "weights": [1.0 / n] * n,
            "shares": [1.0]}


def save_weights(weights: dict, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the weights JSON atomically (refuses to overwrite unless asked)."""
    from ..io import write_text

    return write_text(path, json.dumps(weights, indent=1) + "\n", overwrite=overwrite)


def load_weights(path: str | os.PathLike) -> dict:
    """Read and validate a weights JSON (files and weights of equal length, non-negative, sum 1)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(p, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "files" not in data or "weights" not in data:
        raise InputError(p, "weights JSON needs 'files' and 'weights'")
    try:
        w = np.asarray(data["weights"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(p, "'weights' must be a list of numbers") from None
    if not isinstance(data["files"], list) or not all(isinstance(f, str) for f in data["files"]):
        raise InputError(p, "'files' must be a list of paths")
    if len(data["files"]) != len(w) or len(w) == 0:
        raise InputError(p, "'files' and 'weights' must be non-empty and of equal length")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6:
        raise InputError(p, f"weights must be non-negative and sum to 1 (sum {w.sum():.6g})")
    return data


class WeightedMapSampler:
    """Draw label-map indices with replacement by weight (or uniformly).

    Parameters
    ----------
    weights : sequence of float, or a dict with 'weights' (as from :func:`sampler_weights`)
        Non-negative, positive sum (normalised here).
    generator : torch.Generator, optional
        Source of randomness (default: seeded 0).
    uniform : bool
        Ignore the weights and draw uniformly (the baseline).
    """

    def __init__(self, weights, generator: torch.Generator | None = None, uniform: bool = False):
        if isinstance(weights, dict):
            weights = weights["weights"]
        w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
        if w.dim() != 1 or len(w) == 0 or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError("weights must be a non-empty 1-D sequence of non-negative numbers with positive sum")
        self.weights = torch.full_like(w, 1.0 / len(w)) if uniform else w / w.sum()
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        return len(self.weights)

    def draw(self, n: int) -> torch.Tensor:
        """``n`` indices (int64), drawn with replacement."""
        return torch.multinomial(self.weights, int(n), replacement=True, generator=self.generator)

    def __iter__(self):
        while True:
            yield int(self.draw(1)[0])
