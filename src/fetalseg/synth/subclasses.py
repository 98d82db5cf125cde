"""Step 2: intensity sub-classes ("seeds") of each label.

Encoding: sub-class ``k`` (0-based, at most :data:`N_SUB_MAX`) of generation label ``l`` has value
``l + STRIDE * k``; the parent label is ``value % STRIDE``. Sub-class maps are therefore plain integer
label maps that the generator accepts directly, and plain generation maps are the special case k = 0.

A label is split by k-means on a real image's intensities when an image on the same grid is given
(sub-classes ordered by increasing mean intensity), else by a random smooth partition (argmax of k
smooth random fields). Background voxels with signal in the image become extra background sub-classes
(``0 + STRIDE * k``, k >= 1); sub-class 0 of background means "no signal".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRIDE = 16
"""Generation labels are < STRIDE; sub-class k of label l is l + STRIDE * k."""
N_SUB_MAX = 6
TABLE_SIZE = STRIDE * N_SUB_MAX


@dataclass
class SubclassMap:
    """A sub-class label map and its parent labels.

    Attributes
    ----------
    labels : ndarray (X, Y, Z), int16
        Sub-class values ``parent + STRIDE * k``.
    parents : dict[int, int]
        Sub-class value -> generation label, for every value present.
    """

    labels: np.ndarray
    parents: dict[int, int]

    @property
    def generation(self) -> np.ndarray:
        """The parent (generation-convention) label map, uint8."""
        return parent_labels(self.labels)


def parent_labels(labels: np.ndarray) -> np.ndarray:
    """Generation labels of a sub-class map (``value % STRIDE``), uint8."""
    return (np.asarray(labels).astype(np.int64) % STRIDE).astype(np.uint8)


def make_subclasses(
    labels: np.ndarray,
    image: np.ndarray | None = None,
    n_max: int = 6,
    seed: int | np.random.Generator = 0,
    *,
    signal_fraction: float = 0.05,
) -> SubclassMap:
    """Split each label of a generation map into 1..``n_max`` intensity sub-classes.

    Parameters
    ----------
    labels : ndarray (X, Y, Z), int
        Generation-convention labels (values 0-12).
    image : ndarray (X, Y, Z), float, optional
        An intensity image on the same grid (e.g. the matching T2w). When given, each label is split by
        1-D k-means on its intensities and background voxels above ``signal_fraction`` of the brain's
        99th intensity percentile become extra background sub-classes.
    n_max : int
        Maximum number of sub-classes per label (1..6); each label draws its count in 1..n_max.
    seed : int or numpy Generator
        Randomness for the counts, k-means initialisation and smooth partitions.

    Returns
    -------
    SubclassMap
    """
    from sklearn.cluster import KMeans

    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be 3-D, got shape {labels.shape}")
    if not 1 <= n_max <= N_SUB_MAX:
        raise ValueError(f"n_max must be in 1..{N_SUB_MAX}, got {n_max}")
    if labels.size and (labels.min() < 0 or labels.max() >= STRIDE):
        raise ValueError(f"labels must be generation labels in 0..{STRIDE - 1}")
    if image is not None and np.shape(image) != labels.shape:
        raise ValueError(f"image shape {np.shape(image)} differs from labels {labels.shape}")
    rng = np.random.default_rng(seed)
    out = labels.astype(np.int16)
    values = [int(v) for v in np.unique(labels)]
    brain = labels > 0
    for v in values:
        mask = labels == v
        if v == 0:
            if image is None or not brain.any():
                continue
            ref = np.percentile(image[brain], 99)
            mask = mask & (image > signal_fraction * ref)
            if mask.sum() < 10:
                continue
            k = int(rng.integers(1, n_max))  # background sub-classes 1..k
            out[mask] = STRIDE * (1 + _kmeans_1d(image[mask], k, rng, KMeans))
            continue
        k = int(rng.integers(1, n_max + 1))
        if k == 1 or mask.sum() < 10 * k:
            continue
        if image is not None:
            out[mask] = v + STRIDE * _kmeans_1d(image[mask], k, rng, KMeans)
        else:
            out[mask] = v + STRIDE * _smooth_partition(labels.shape, k, rng)[mask]
    present = [int(x) for x in np.unique(out)]
    return SubclassMap(labels=out, parents={x: x % STRIDE for x in present})


def _kmeans_1d(x: np.ndarray, k: int, rng: np.random.Generator, kmeans_cls) -> np.ndarray:
    """Cluster indices 0..k-1 of 1-D values, ordered by increasing centre (fit on <= 20000 samples)."""
    x = np.asarray(x, np.float64).reshape(-1, 1)
    fit = x[rng.choice(len(x), 20000, replace=False)] if len(x) > 20000 else x
    km = kmeans_cls(n_clusters=k, n_init=1, random_state=int(rng.integers(2**31))).fit(fit)
    order = np.argsort(np.argsort(km.cluster_centers_[:, 0]))
    return order[km.predict(x)].astype(np.int16)


def _smooth_partition(shape, k: int, rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """Index 0..k-1 of the largest of k smooth random fields (``cells`` nodes per axis, zoomed)."""
    from scipy import ndimage

    small = rng.standard_normal((k, cells, cells, cells))
    zoom = [1] + [s / cells for s in shape]
    fields = ndimage.zoom(small, zoom, order=1)[:, : shape[0], : shape[1], : shape[2]]
    return np.argmax(fields, axis=0).astype(np.int16)
