"""Dice and volume similarity: definitions, edge cases and properties."""

from __future__ import annotations

import numpy as np
import pytest

from fetalseg.metrics import confusion, dice, volume_similarity

pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def test_counts_by_hand():
    g = np.zeros((4, 4, 4), bool)
    p = np.zeros_like(g)
    g[0, 0, :3] = True  # 3 voxels
    p[0, 0, 1:] = True  # 3 voxels, 2 shared
    p[3, 3, 3] = True  # 1 more false positive
    assert confusion(g, p) == (2, 2, 1)
    assert dice(g, p) == pytest.approx(4 / 7)
    assert volume_similarity(g, p) == pytest.approx(1 - 1 / 7)


def test_empty_cases():
    z = np.zeros((3, 3, 3), bool)
    o = np.ones((3, 3, 3), bool)
    assert dice(z, z) == 1.0 and volume_similarity(z, z) == 1.0
    assert dice(z, o) == 0.0 and volume_similarity(z, o) == 0.0


def test_integer_masks_and_shape_check():
    g = np.arange(27).reshape(3, 3, 3) % 2
    assert dice(g, g.astype(bool)) == 1.0
    with pytest.raises(ValueError, match="shape"):
        dice(g, g[:2])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), pg=st.floats(0, 1), pp=st.floats(0, 1))
def test_properties(seed, pg, pp):
    rng = np.random.default_rng(seed)
    g = rng.random((7, 6, 5)) < pg
    p = rng.random((7, 6, 5)) < pp
    d = dice(g, p)
    assert d == dice(p, g)
    assert 0.0 <= d <= 1.0
    assert dice(g, g) == 1.0
    vs = volume_similarity(g, p)
    assert vs == volume_similarity(p, g)
    assert d <= vs + 1e-12  # VS only compares volumes, Dice also positions
    if g.sum() + p.sum():
        assert vs == pytest.approx(1 - abs(int(g.sum()) - int(p.sum())) / (int(g.sum()) + int(p.sum())))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the library uses scipy.ndimage.filters
@pytest.mark.parametrize("seed", range(6))
def test_dice_against_surface_distance_and_vs_by_brute_force(seed):
    """Dice against DeepMind's surface-distance ``compute_dice_coefficient``, in the evaluation metric
    (empty pair -> 1.0) and in the trainer's per-label Dice (empty pair -> NaN, as the library itself);
    volume similarity against volumes counted voxel by voxel."""
    sd = pytest.importorskip("surface_distance")
    from fetalseg.masks import dice_per_label

    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(4, 12, 3))
    g, p = rng.integers(0, 4, shape), rng.integers(0, 4, shape)
    p[rng.random(shape) < 0.3] = 3  # unequal volumes
    g[g == 2] = 0  # label 2 is absent from the reference only, 5 from both
    per_label = dice_per_label(p, g, (1, 2, 3, 5), empty="nan")
    assert dice_per_label(p, g, (1, 2, 3, 5), empty="skip").keys() == {1, 2, 3}
    # an empty pair: the library returns its np.NaN (an attribute NumPy 2 removed, so it cannot be called here)
    assert np.isnan(per_label[5]) and dice(g == 5, p == 5) == 1.0
    for v in (1, 2, 3):
        want = sd.compute_dice_coefficient(g == v, p == v)
        assert dice(g == v, p == v) == pytest.approx(want, rel=1e-12)
        assert per_label[v] == pytest.approx(want, rel=1e-12)
        vol_g = sum(1 for i in np.ndindex(shape) if g[i] == v)
        vol_p = sum(1 for i in np.ndindex(shape) if p[i] == v)
        assert volume_similarity(g == v, p == v) == pytest.approx(1 - abs(vol_p - vol_g) / (vol_p + vol_g))
