"""Corruptions of FeTA label maps whose errors look like a segmentation network's, for DAE training.

Each corruption is a pair: ``sample_<name>(labels, rng) -> params`` draws everything random (a
plain dict of numbers and index arrays, or None when the map offers no place for it) and
``apply_<name>(labels, params) -> labels`` applies it deterministically (a new uint8 array; the
input is not modified). Labels are FeTA values 0-7 on a 3-D array; "ball" means voxel centres
within ``radius`` voxels of ``centre``. The topological effect of each, with the 6/26 convention
of :mod:`fetalseg.metrics.topology`:

* ``boundary``: a fraction of the voxels on label borders take a 6-neighbour's label (noisy edges);
* ``island``: a ball of label L well away from L (b0 of L + 1, a spurious island);
* ``cavity``: a ball of another label deep inside L (b2 of L + 1);
* ``tunnel``: a thin cylinder of another label through L from border to border (b1 of L + 1);
* ``bridge``: a segment of L (radius >= 0.9, so 6-connected) joining two nearby parts of L across another label (b1 of L + 1
  when they were connected, b0 - 1 when not: bridged gyri);
* ``break``: L's voxels in a ball take their nearest other label (thinned or broken cortex);
* ``swap``: in a ball on the border of labels A and B, A becomes B (label swap at a border).

:func:`corrupt` applies a random sequence of them; :func:`soften` turns a label map into
probability-like input (blurred one-hot, random temperature and noise).
"""

from __future__ import annotations

import numpy as np

FG = tuple(range(1, 8))


def _ball(shape, centre, radius: float) -> np.ndarray:
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2


def _pick(rng: np.random.Generator, mask: np.ndarray):
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return None
    return tuple(int(v) for v in np.unravel_index(int(rng.choice(idx)), mask.shape))


def _present(labels: np.ndarray, candidates=FG) -> list[int]:
    counts = np.bincount(labels.ravel(), minlength=8)
    return [c for c in candidates if counts[c] > 0]


def _depth(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1, 1:-1]


def sample_boundary(labels: np.ndarray, rng: np.random.Generator, fraction: tuple = (0.03, 0.12)):
    """Border voxels (a 6-neighbour differs) and, for each, the label of one such neighbour."""
    lab = np.pad(labels, 1, mode="edge")
    core = lab[1:-1, 1:-1, 1:-1]
    nbs = [lab[tuple(slice(1 + d[a], lab.shape[a] - 1 + d[a]) for a in range(3))]
           for d in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))]
    diff = np.stack([n != core for n in nbs])
    border = np.flatnonzero(diff.any(axis=0))
    if border.size == 0:
        return None
    chosen = rng.choice(border, size=max(1, int(rng.uniform(*fraction) * border.size)), replace=False)
    which = np.argmax(rng.random((6, chosen.size)) * diff.reshape(6, -1)[:, chosen], axis=0)
    values = np.stack([n.ravel() for n in nbs])[which, chosen]
    return {"index": chosen, "values": values.astype(np.uint8)}


def apply_boundary(labels, params):
    out = labels.copy()
    out.ravel()[params["index"]] = params["values"]
    return out


def sample_island(labels, rng, radius=(1.0, 2.5)):
    """Label L, radius r and a centre inside the brain at least r + 2 voxels from L."""
    lab = int(rng.choice(_present(labels)))
    r = float(rng.uniform(*radius))
    far = _depth(labels != lab) > r + 2
    centre = _pick(rng, far & (labels > 0))
    return None if centre is None else {"label": lab, "centre": centre, "radius": r}


def apply_island(labels, params):
    out = labels.copy()
    out[_ball(labels.shape, params["centre"], params["radius"])] = params["label"]
    return out


def sample_cavity(labels, rng, radius=(1.0, 2.5)):
    """Label L with a centre deeper than r + 2, and the label filling the cavity (another one)."""
    r = float(rng.uniform(*radius))
    for lab in rng.permutation(_present(labels)):
        centre = _pick(rng, _depth(labels == lab) > r + 2)
        if centre is not None:
            fill = int(rng.choice([c for c in range(8) if c != lab]))
            return {"label": int(lab), "centre": centre, "radius": r, "fill": fill}
    return None


def apply_cavity(labels, params):
    out = labels.copy()
    out[_ball(labels.shape, params["centre"], params["radius"]) & (labels == params["label"])] = params["fill"]
    return out


def _segment(shape, a, b, radius: float) -> np.ndarray:
    """Voxels within ``radius`` of the segment from ``a`` to ``b``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = int(np.ceil(np.linalg.norm(b - a) * 2)) + 1
    out = np.zeros(shape, bool)
    for t in np.linspace(0.0, 1.0, n):
        p = a + t * (b - a)
        lo = np.maximum(np.floor(p - radius).astype(int), 0)
        hi = np.minimum(np.ceil(p + radius).astype(int) + 1, shape)
        sl = tuple(slice(int(l), int(h)) for l, h in zip(lo, hi))
        out[sl] |= _ball(tuple(int(h - l) for l, h in zip(lo, hi)), p - lo, radius)
    return out


def sample_tunnel(labels, rng, radius=(0.5, 1.2)):
    """A line through a voxel of L along a random axis, cut where it leaves L on both sides."""
    r = float(rng.uniform(*radius))
    for lab in rng.permutation(_present(labels)):
        mask = labels == lab
        centre = _pick(rng, _depth(mask) > 1.5)
        if centre is None:
            continue
        ax = int(rng.integers(3))
        line = mask[tuple(slice(None) if a == ax else centre[a] for a in range(3))]
        lo, hi = centre[ax], centre[ax]
        while lo > 0 and line[lo - 1]:
            lo -= 1
        while hi < line.size - 1 and line[hi + 1]:
            hi += 1
        a, b = list(centre), list(centre)
        a[ax], b[ax] = lo - 1, hi + 1
        fill = int(labels[tuple(a)] if lo > 0 else 0)
        return {"label": int(lab), "a": tuple(a), "b": tuple(b), "radius": r, "fill": fill}
    return None


def apply_tunnel(labels, params):
    out = labels.copy()
    tube = _segment(labels.shape, params["a"], params["b"], params["radius"])
    out[tube & (labels == params["label"])] = params["fill"]
    return out


def sample_bridge(labels, rng, reach: int = 5, radius=(0.9, 1.3), tries: int = 30):
    """Two voxels of L (grey matter preferred) at most ``reach`` apart with another label between them."""
    labs = _present(labels, (2,)) or _present(labels)
    lab = int(rng.choice(labs))
    mask = labels == lab
    border = mask & (_depth(mask) <= 1)
    pts = np.argwhere(border)
    if len(pts) < 2:
        return None
    for _ in range(tries):
        a = pts[rng.integers(len(pts))]
        near = pts[(np.abs(pts - a).max(axis=1) <= reach) & (np.abs(pts - a).sum(axis=1) >= 3)]
        if len(near) == 0:
            continue
        b = near[rng.integers(len(near))]
        seg = _segment(labels.shape, a, b, 0.5)
        if np.any(seg & ~mask):
            return {"label": lab, "a": tuple(int(v) for v in a), "b": tuple(int(v) for v in b),
                    "radius": float(rng.uniform(*radius))}
    return None


def apply_bridge(labels, params):
    out = labels.copy()
    out[_segment(labels.shape, params["a"], params["b"], params["radius"])] = params["label"]
    return out


def sample_break(labels, rng, radius=(1.0, 3.0)):
    """A ball centred on L (grey matter preferred) whose L voxels take their nearest other label."""
    labs = _present(labels, (2,)) or _present(labels)
    lab = int(rng.choice(labs))
    centre = _pick(rng, labels == lab)
    return None if centre is None else {"label": lab, "centre": centre, "radius": float(rng.uniform(*radius))}


def apply_break(labels, params):
    from scipy import ndimage

    out = labels.copy()
    mask = labels == params["label"]
    if mask.all():
        return out
    idx = ndimage.distance_transform_edt(mask, return_distances=False, return_indices=True)
    hit = _ball(labels.shape, params["centre"], params["radius"]) & mask
    out[hit] = labels[tuple(i[hit] for i in idx)]
    return out


def sample_swap(labels, rng, radius=(2.0, 5.0)):
    """A border voxel between labels A and B (A foreground) and a ball radius; A becomes B inside it."""
    params = sample_boundary(labels, rng, fraction=(0.0, 0.0))
    if params is None:
        return None
    i = int(params["index"][0])
    a = int(labels.ravel()[i])
    if a == 0:
        return None
    centre = tuple(int(v) for v in np.unravel_index(i, labels.shape))
    return {"from": a, "to": int(params["values"][0]), "centre": centre, "radius": float(rng.uniform(*radius))}


def apply_swap(labels, params):
    out = labels.copy()
    out[_ball(labels.shape, params["centre"], params["radius"]) & (labels == params["from"])] = params["to"]
    return out


CORRUPTIONS = {
    name: (globals()[f"sample_{name}"], globals()[f"apply_{name}"])
    for name in ("boundary", "island", "cavity", "tunnel", "bridge", "break", "swap")
}
"""name -> (sample, apply)."""


def corrupt(labels: np.ndarray, rng: np.random.Generator, n: tuple[int, int] = (2, 8), names=None) -> np.ndarray:
    """``labels`` (uint8, 3-D) after a random number in ``[n[0], n[1]]`` of random corruptions (``names``: all)."""
    names = list(CORRUPTIONS) if names is None else list(names)
    unknown = [k for k in names if k not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"names: unknown corruption(s) {unknown}; known: {list(CORRUPTIONS)}")
    out = np.asarray(labels, np.uint8)
    for _ in range(int(rng.integers(n[0], n[1] + 1))):
        sample, apply = CORRUPTIONS[names[int(rng.integers(len(names)))]]
        params = sample(out, rng)
        if params is not None:
            out = apply(out, params)
    return out


def soften(labels: np.ndarray, rng: np.random.Generator, n_classes: int = 8, sigma=(0.4, 1.2),
           temperature=(0.5, 2.0), noise=(0.0, 0.15)) -> np.ndarray:
    """Probability-like maps ``(C, X, Y, Z)`` float32 from a label map: blurred one-hot, sharpened or
    flattened by a random temperature, plus uniform noise, renormalised to sum to 1."""
    from scipy import ndimage

    s = float(rng.uniform(*sigma))
    p = np.stack([ndimage.gaussian_filter((labels == c).astype(np.float32), s) for c in range(n_classes)])
    p = np.power(p + 1e-3, 1.0 / float(rng.uniform(*temperature)))
    p += float(rng.uniform(*noise)) * rng.random(p.shape, dtype=np.float32)
    return (p / p.sum(axis=0, keepdims=True)).astype(np.float32)
