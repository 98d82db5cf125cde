"""HD95 and surface distances against DeepMind's surface-distance library and a brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fetalseg.metrics import hausdorff95, robust_hausdorff, surface_distances, surface_points

sd = pytest.importorskip("surface_distance")
# the oracle library calls scipy.ndimage.filters / .morphology, deprecated in recent SciPy
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
hyp = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def library_hd(g, p, spacing, percent=95):
    return sd.compute_robust_hausdorff(sd.compute_surface_distances(g, p, spacing), percent)


# Distances are square roots of sums of squared voxel offsets times spacings: our code and SciPy's distance
# transform may add them in another order, so they agree to a few ulp, not bit for bit. 1e-12 relative is
# ~5000 ulp yet far below any distance step on a voxel grid (>= 1e-4 mm here).
RTOL = 1e-12


def assert_same_surfaces(mine: dict, ref: dict) -> None:
    """Same sorted distances (to RTOL) and the same surfel areas per distance (order within ties is free)."""
    assert set(mine) == set(ref)
    for a, b in (("gt", "gt_to_pred"), ("pred", "pred_to_gt")):
        d_mine, d_ref = mine[f"distances_{b}"], ref[f"distances_{b}"]
        area_mine, area_ref = mine[f"surfel_areas_{a}"], ref[f"surfel_areas_{a}"]
        np.testing.assert_allclose(d_mine, d_ref, rtol=RTOL, atol=0)
        np.testing.assert_allclose(np.sort(area_mine), np.sort(area_ref), rtol=RTOL, atol=0)
        if len(d_ref):  # cumulative area at the end of each group of equal distances
            ends = np.r_[np.flatnonzero(np.diff(d_ref) > RTOL * d_ref[1:]), len(d_ref) - 1]
            np.testing.assert_allclose(np.cumsum(area_mine)[ends], np.cumsum(area_ref)[ends], rtol=RTOL)


def brute_force_hd(g, p, spacing, percent=95.0):
    """All corner neighbourhoods by explicit loops, all-pairs distances, a weighted percentile by hand."""
    from surface_distance.lookup_tables import create_table_neighbour_code_to_surface_area

    areas = create_table_neighbour_code_to_surface_area(spacing)
    sp = np.asarray(spacing, float)

    def surface(m):
        pad = np.pad(m, 1)
        pts, ar = [], []
        for q in itertools.product(*[range(s + 1) for s in m.shape]):
            code = 0
            for i, j, k in itertools.product((0, 1), repeat=3):
                if pad[q[0] + i, q[1] + j, q[2] + k]:
                    code |= 1 << (7 - (4 * i + 2 * j + k))
            if code not in (0, 255):
                pts.append(q)
                ar.append(areas[code])
        return np.array(pts, float) * sp, np.array(ar)

    (pg, ag), (pp, ap) = surface(g), surface(p)
    if len(pg) == 0 or len(pp) == 0:
        return np.inf

    def directed(a, area_a, b):
        d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min(axis=1)
        order = sorted(range(len(d)), key=lambda i: (d[i], area_a[i]))
        total, acc = area_a.sum(), 0.0
        for i in order:
            acc += area_a[i]
            if acc / total >= percent / 100 - 1e-12:
                return d[i]
        return d[order[-1]]

    return max(directed(pg, ag, pp), directed(pp, ap, pg))


def random_pair(rng, shape, spacing_choices=(0.5, 0.8, 1.0, 1.2, 3.0)):
    g = rng.random(shape) < rng.uniform(0.1, 0.6)
    p = rng.random(shape) < rng.uniform(0.1, 0.6)
    sp = tuple(float(s) for s in rng.choice(spacing_choices, 3))
    return g, p, sp


@pytest.mark.parametrize("seed", range(8))
def test_brute_force_tiny(seed):
    rng = np.random.default_rng(seed)
    g, p, sp = random_pair(rng, tuple(rng.integers(2, 6, 3)))
    if not g.any() or not p.any():
        g[0, 0, 0] = p[-1, -1, -1] = True
    assert hausdorff95(g, p, sp) == pytest.approx(brute_force_hd(g, p, sp), rel=1e-12)


@pytest.mark.parametrize("seed", range(30))
def test_identical_to_library_random(seed):
    rng = np.random.default_rng(100 + seed)
    g, p, sp = random_pair(rng, tuple(rng.integers(3, 16, 3)))
    ref = sd.compute_surface_distances(g, p, sp)
    mine = surface_distances(g, p, sp)
    assert_same_surfaces(mine, ref)
    for percent in (0, 50, 95, 99, 100):
        assert robust_hausdorff(g, p, sp, percent) == pytest.approx(sd.compute_robust_hausdorff(ref, percent),
                                                                    rel=RTOL)


def _blob(shape, centre, radii):
    x, y, z = np.indices(shape)
    return ((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + ((z - centre[2]) / radii[2]) ** 2 <= 1


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 0.5, 3.0), (0.8, 1.1, 0.6)])
def test_far_outliers_use_the_exact_fallback(spacing):
    # distant islands: most points are beyond the offset shells and go through the k-d tree path
    shape = (48, 40, 36)
    g = _blob(shape, (14, 20, 18), (9, 8, 7))
    p = _blob(shape, (15, 19, 18), (9, 9, 6))
    p[40:44, 3:6, 2:5] = True
    g[2:4, 34:37, 30:33] = True
    ref = sd.compute_surface_distances(g, p, spacing)
    mine = surface_distances(g, p, spacing)
    assert_same_surfaces(mine, ref)
    for percent in (95, 100):
        assert robust_hausdorff(g, p, spacing, percent) == pytest.approx(library_hd(g, p, spacing, percent),
                                                                         rel=RTOL)


def test_known_values():
    g = np.zeros((20, 20, 20), bool)
    g[5:15, 5:15, 5:15] = True
    p = np.roll(g, 3, axis=0)
    assert hausdorff95(g, p, (1, 1, 1)) == 3.0
    assert hausdorff95(g, p, (2, 1, 1)) == 6.0
    assert hausdorff95(g, g, (0.7, 0.7, 3)) == 0.0


def test_empty_masks_give_inf_and_points():
    g = np.zeros((6, 6, 6), bool)
    p = g.copy()
    p[2:4, 2:4, 2:4] = True
    assert hausdorff95(g, p, (1, 1, 1)) == np.inf
    assert hausdorff95(p, g, (1, 1, 1)) == np.inf
    assert hausdorff95(g, g, (1, 1, 1)) == np.inf
    raw = surface_points(g, p, (1, 1, 1))
    ref = sd.compute_surface_distances(p, p, (1.0, 1.0, 1.0))  # the library itself fails on numpy 2 (np.Inf)
    assert raw["distances_pred_to_gt"].size == ref["distances_pred_to_gt"].size
    assert np.all(np.isinf(raw["distances_pred_to_gt"]))
    assert raw["surfel_areas_pred"].sum() == pytest.approx(ref["surfel_areas_pred"].sum())


def test_rejects_bad_arguments():
    g = np.ones((4, 4, 4), bool)
    with pytest.raises(ValueError, match="spacing"):
        hausdorff95(g, g, (1, 0, 1))
    with pytest.raises(ValueError, match="shape"):
        hausdorff95(g, g[:3], (1, 1, 1))
    with pytest.raises(ValueError, match="percent"):
        robust_hausdorff(g, g, (1, 1, 1), 101)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)))
def test_identity_and_translation_invariance(seed, shift):
    rng = np.random.default_rng(seed)
    g = np.zeros((26, 26, 26), bool)
    p = np.zeros_like(g)
    g[3:13, 3:13, 3:13] = rng.random((10, 10, 10)) < 0.6
    p[3:13, 3:13, 3:13] = rng.random((10, 10, 10)) < 0.6
    sp = (0.8, 1.0, 1.7)
    assert hausdorff95(g, g, sp) == 0.0
    h = hausdorff95(g, p, sp)
    moved = tuple(np.roll(m, shift, axis=(0, 1, 2)) for m in (g, p))
    assert hausdorff95(*moved, sp) == h


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), factor=st.sampled_from([0.5, 2.0, 3.0]))
def test_scales_with_spacing(seed, factor):
    rng = np.random.default_rng(seed)
    g = rng.random((9, 8, 7)) < 0.5
    p = rng.random((9, 8, 7)) < 0.5
    sp = np.array([0.5, 0.75, 1.25])
    a, b = hausdorff95(g, p, sp), hausdorff95(g, p, sp * factor)
    assert b == pytest.approx(a * factor, rel=1e-12)
    # swapping axes together with their spacing changes nothing (anisotropy handled per axis)
    c = hausdorff95(g.transpose(2, 0, 1), p.transpose(2, 0, 1), sp[[2, 0, 1]])
    assert c == pytest.approx(a, rel=1e-12)
    assert hausdorff95(p, g, sp) == a  # symmetric
