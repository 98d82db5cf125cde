"""Gyrification: sulci as smooth grooves on the hemisphere surface, growing with gestational age.

Each sulcus is a great-circle arc on the unit sphere of *normalised* hemisphere directions
(``u = normalise((|x|/ax, y/ay, z/az))``, right-hemisphere convention, ``x`` lateral). Its groove
is band limited: a Gaussian profile across the arc (angular width ``sigma``) times a smooth window
along it, so the surface displacement has no voxel-scale content. Depth grows smoothly from the
sulcus' onset GA over ~5 weeks, following the fetal timetable: only a shallow Sylvian fissure
before ~22 w (broad early, narrowing as the opercula close over the insula), primary sulci from
~22-28 w, secondary folding after ~30 w (randomly placed short arcs). Medial sulci
(parieto-occipital, calcarine, cingulate, and the callosal sulcus over the callosum) are grooves
cut into the flat medial face, described by polylines in the midsagittal plane.
"""

from __future__ import annotations

import numpy as np

from .shapes import smoothstep

# name: ((y, z) start, (y, z) end, onset GA, depth as fraction of mean radius). The onsets follow the
# fetal MRI timetable: the medial parieto-occipital, calcarine and cingulate sulci first (22-24 w,
# :data:`MEDIAL_SULCI`), then the central and superior temporal sulci (25.5-26 w), the frontal,
# pre- and postcentral and intraparietal sulci (26.5-28 w), the inferior temporal and lateral
# occipital ones last (29-30 w), and secondary folds from ~30 w.
LATERAL_SULCI = {
    "sylvian": ((0.45, -0.25), (-0.30, 0.22), 18.0, 0.17),
    "central": ((0.02, 0.32), (-0.18, 0.94), 25.5, 0.16),
    "precentral": ((0.20, 0.30), (0.02, 0.92), 27.0, 0.14),
    "postcentral": ((-0.14, 0.30), (-0.36, 0.90), 27.5, 0.13),
    "superior_temporal": ((0.45, -0.48), (-0.38, -0.06), 26.0, 0.15),
    "superior_frontal": ((0.85, 0.32), (0.28, 0.80), 26.5, 0.13),
    "inferior_frontal": ((0.80, 0.02), (0.32, 0.36), 28.0, 0.11),
    "intraparietal": ((-0.30, 0.48), (-0.80, 0.36), 27.5, 0.13),
    "inferior_temporal": ((0.40, -0.72), (-0.42, -0.55), 29.0, 0.11),
    "lateral_occipital": ((-0.68, 0.12), (-0.94, -0.10), 30.0, 0.10),
}
# medial sulci in the midsagittal plane, normalised by (ay, az_top): (y, z) polyline, onset, depth;
# the cingulate sulcus runs parallel to the callosum, around the genu, and turns up behind as the
# marginal ramus
MEDIAL_SULCI = {
    "parieto_occipital": (((-0.58, 0.12), (-0.82, 0.55)), 22.0, 0.13),
    "calcarine": (((-0.60, 0.02), (-0.99, -0.12)), 23.0, 0.11),
    "cingulate": (((0.64, -0.08), (0.70, 0.30), (0.50, 0.58), (0.05, 0.68), (-0.30, 0.66), (-0.40, 0.86)),
                  24.0, 0.10),
}
CALLOSAL_SULCUS_DEPTH = 0.07
"""Depth of the callosal sulcus (between the callosum and the cingulate gyrus) as a fraction of the
mean radius; present from before 20 weeks."""
N_SECONDARY = 14


def _unit(y: float, z: float) -> np.ndarray:
    x = np.sqrt(max(0.04, 1.0 - y * y - z * z))
    v = np.array([x, y, z])
    return v / np.linalg.norm(v)


def depth_factor(ga: float, onset: float, ramp: float = 5.0) -> float:
    """Fraction (0-1) of a sulcus' final depth reached at ``ga``: 0 before ``onset``, 1 after ``onset + ramp``."""
    return float(smoothstep((ga - onset) / ramp))


def draw_sulci(ga: float, mean_radius: float, rng: np.random.Generator) -> dict:
    """Sulci of both hemispheres for one subject.

    Returns ``{'right': [...], 'left': [...], 'medial_right': [...], 'medial_left': [...]}``; lateral
    entries are ``(normal, mid, cos_half, depth_mm, sigma_rad)`` (unit 3-vectors in normalised
    right-hemisphere directions), medial ones ``(points, depth_mm, sigma_mm)`` with ``points``
    a (k, 2) polyline in normalised (y, z). Sulci that have not started (depth < 0.05 mm) are dropped. Every random draw is made
    whatever the GA, so a seed fixes the folding pattern and only the depths change with age.
    """
    out: dict[str, list] = {"right": [], "left": [], "medial_right": [], "medial_left": []}
    sigma_mm = 1.5 + 0.02 * mean_radius
    for side in ("right", "left"):
        for name, (a, b, onset, frac) in LATERAL_SULCI.items():
            jit = rng.normal(0.0, 0.035, size=4)
            onset_j = onset + rng.normal(0.0, 0.5)
            ua = _unit(a[0] + jit[0], a[1] + jit[1])
            ub = _unit(b[0] + jit[2], b[1] + jit[3])
            depth = frac * mean_radius * depth_factor(ga, onset_j)
            sig = sigma_mm / mean_radius
            if name == "sylvian":  # broad shallow depression early, a deep narrow fissure later
                sig *= 1.0 + 1.8 * (1.0 - depth_factor(ga, 22.0, 10.0))
                depth = frac * mean_radius * (0.25 + 0.75 * depth_factor(ga, 21.0, 10.0))
            if depth > 0.05:
                out[side].append(_arc(ua, ub, depth, sig))
        for _ in range(N_SECONDARY):
            centre = rng.normal(0.0, 1.0, size=3)
            centre[0] = abs(centre[0]) + 0.6
            centre /= np.linalg.norm(centre)
            tang = np.cross(centre, rng.normal(0.0, 1.0, size=3))
            tang /= np.linalg.norm(tang)
            half = rng.uniform(0.10, 0.22)
            ua = np.cos(half) * centre + np.sin(half) * tang
            ub = np.cos(half) * centre - np.sin(half) * tang
            onset_j = rng.uniform(29.5, 33.0)
            depth = rng.uniform(0.04, 0.07) * mean_radius * depth_factor(ga, onset_j, 4.0)
            if depth > 0.05:
                out[side].append(_arc(ua, ub, depth, 0.85 * sigma_mm / mean_radius))
        for name, (pts, onset, frac) in MEDIAL_SULCI.items():
            jit = rng.normal(0.0, 0.03, size=4)
            depth = frac * mean_radius * depth_factor(ga, onset + rng.normal(0.0, 0.5))
            if depth > 0.05:  # the whole line moves with the first jitter, its end with the second
                line = np.array(pts, dtype=np.float64) + jit[:2]
                line[-1] += jit[2:] - jit[:2]
                out[f"medial_{side}"].append((line, depth, sigma_mm))
    return out


def _arc(ua: np.ndarray, ub: np.ndarray, depth: float, sigma: float):
    n = np.cross(ua, ub)
    n /= np.linalg.norm(n)
    mid = ua + ub
    mid /= np.linalg.norm(mid)
    cos_half = float(np.dot(mid, ua))
    return (n, mid, cos_half, float(depth), float(sigma))


def groove_depth(ux, uy, uz, sulci) -> np.ndarray:
    """Inward surface displacement (mm, >= 0) at unit directions ``(ux, uy, uz)`` (flat arrays).

    The sum of all grooves, each ``depth * exp(-(u.n)^2 / 2 sigma^2) * window`` where the window
    rises smoothly from the arc's ends (``u.mid = cos_half``) to its middle.
    """
    g = np.zeros(np.shape(ux), dtype=np.float32)
    for n, mid, cos_half, depth, sigma in sulci:
        across = ux * n[0] + uy * n[1] + uz * n[2]
        along = ux * mid[0] + uy * mid[1] + uz * mid[2]
        w = smoothstep((along - cos_half) / max(1e-3, (1.0 - cos_half) * 0.35))
        g += (depth * np.exp(-(across * across) / (2.0 * sigma * sigma)) * w).astype(np.float32)
    return g


def medial_groove_depth(yn, zn, ay: float, az: float, sulci) -> np.ndarray:
    """Displacement (mm) of the medial face at normalised midsagittal coordinates ``(yn, zn)``.

    Each sulcus ``(points, depth, sigma_mm)`` is a polyline (normalised (y, z), scaled back to mm by
    ``ay``, ``az``); its groove is ``depth * taper * exp(-dist^2 / 2 sigma^2)`` with ``dist`` the
    distance (mm) to the polyline and ``taper`` rising from both ends over a fifth of its length.
    """
    g = np.zeros(np.broadcast_shapes(np.shape(yn), np.shape(zn)), dtype=np.float32)
    py0, pz0 = yn * ay, zn * az
    for pts, depth, sigma_mm in sulci:
        p = np.asarray(pts, dtype=np.float64) * (ay, az)
        seg = np.diff(p, axis=0)
        seg_len = np.sqrt((seg * seg).sum(axis=1))
        total = float(seg_len.sum())
        best = np.full(g.shape, np.inf)
        arc = np.zeros(g.shape)
        start = 0.0
        for (ay_, az_), (vy, vz), L in zip(p[:-1], seg, seg_len):
            py, pz = py0 - ay_, pz0 - az_
            t = np.clip((py * vy + pz * vz) / (L * L), 0.0, 1.0)
            dy, dz = py - t * vy, pz - t * vz
            d2 = np.broadcast_to(dy * dy + dz * dz, g.shape)
            closer = d2 < best
            best = np.where(closer, d2, best)
            arc = np.where(closer, start + t * L, arc)
            start += float(L)
        s = arc / total
        taper = smoothstep(np.minimum(s, 1.0 - s) / 0.2)
        g += (depth * taper * np.exp(-best / (2.0 * sigma_mm * sigma_mm))).astype(np.float32)
    return g


def callosal_sulcus(cc, ay: float, az: float, mean_radius: float, sigma_mm: float):
    """The callosal sulcus as a medial sulcus entry ``(points, depth_mm, sigma_mm)``: a polyline one
    ``sigma_mm`` outside the callosum's outer midsagittal ellipse (``cc``: a
    :class:`~fetalseg.phantom.params.Callosum`), from under the genu over the top to behind the
    splenium, in coordinates normalised by ``(ay, az)``."""
    phi = np.radians(np.linspace(-25.0, 205.0, 24))
    y = cc.y + (cc.ly + sigma_mm) * np.cos(phi)
    z = cc.z + (cc.lz + sigma_mm) * np.sin(phi)
    return (np.stack([y / ay, z / az], axis=1), CALLOSAL_SULCUS_DEPTH * mean_radius, sigma_mm)
