"""Betti numbers and Euler characteristic against gudhi, skimage and known shapes."""

from __future__ import annotations

import numpy as np
import pytest

from fetalseg.metrics import bbox_crop, betti_numbers, euler_characteristic

gudhi = pytest.importorskip("gudhi")
skm = pytest.importorskip("skimage.measure")


def gudhi_betti(mask: np.ndarray) -> tuple[int, int, int]:
    """The FeTA 2024 recipe: crop to bbox + 2, mask as top-cell filtration, persistence over GF(2),
    regular (finite) pairs per dimension: dimension 2 gives b0, 1 gives b1, 0 gives b2."""
    crop = np.pad(bbox_crop(mask), 2).astype(np.float64)
    cc = gudhi.CubicalComplex(top_dimensional_cells=crop)
    cc.persistence(homology_coeff_field=2, min_persistence=0.99)
    regular = cc.cofaces_of_persistence_pairs()[0]
    counts = [len(regular[d]) if d < len(regular) else 0 for d in range(3)]
    return counts[2], counts[1], counts[0]


def cripser_betti(mask: np.ndarray) -> tuple[int, int, int]:
    """Betti numbers from CubicalRipser (an implementation independent of gudhi), fast on large masks.

    V-construction (voxels are the vertices, cells join 6-neighbours): the sublevel set at 0 of a field
    that is 0 on the mask and 1 elsewhere is the mask with 6-connectivity, and its complement is
    26-connected (the FeTA convention). Bars born at 0 that live past 0 are the Betti numbers.
    """
    import cripser

    field = np.where(np.pad(bbox_crop(mask), 2), 0.0, 1.0)
    ph = cripser.computePH(field, maxdim=2)
    alive = (ph[:, 1] <= 0) & (ph[:, 2] > 0)
    return tuple(int(((ph[:, 0] == d) & alive).sum()) for d in range(3))


def _grid(n):
    return np.indices((n, n, n)).astype(float) - (n - 1) / 2


def ball(n=21, r=8.0):
    x, y, z = _grid(n)
    return x**2 + y**2 + z**2 <= r**2


def shell(n=23, r_in=5.0, r_out=9.0):
    x, y, z = _grid(n)
    d = np.sqrt(x**2 + y**2 + z**2)
    return (d <= r_out) & (d >= r_in)


def torus(n=29, big=8.0, small=3.0, centre=(0.0, 0.0, 0.0), axis=2):
    x, y, z = _grid(n)
    x, y, z = x - centre[0], y - centre[1], z - centre[2]
    a, b, c = {2: (x, y, z), 0: (y, z, x), 1: (z, x, y)}[axis]
    return (np.sqrt(a**2 + b**2) - big) ** 2 + c**2 <= small**2


def linked_tori(n=37):
    t1 = torus(n, 8.0, 2.5, centre=(-4.0, 0.0, 0.0), axis=2)  # in the xy plane
    t2 = torus(n, 8.0, 2.5, centre=(4.0, 0.0, 0.0), axis=1)  # in the zx plane, through t1's hole
    assert not (t1 & t2).any()
    return t1 | t2


def ball_tunnel_cavity(n=25):
    m = ball(n, 11.0)
    x, y, z = _grid(n)
    m[(x**2 + y**2 <= 2.5**2) & (np.abs(z) <= n)] = False  # tunnel through the whole ball along z
    m[(x - 6) ** 2 + y**2 + z**2 <= 2.5**2] = False  # closed cavity off the tunnel
    return m


SHAPES = {
    "ball": (ball, (1, 0, 0)),
    "shell": (shell, (1, 0, 1)),
    "solid torus": (torus, (1, 1, 0)),
    "two linked tori": (linked_tori, (2, 2, 0)),
    "ball with tunnel and cavity": (ball_tunnel_cavity, (1, 1, 1)),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_known_shapes(name):
    make, expected = SHAPES[name]
    m = make()
    assert betti_numbers(m) == expected
    assert gudhi_betti(m) == expected
    assert euler_characteristic(m) == expected[0] - expected[1] + expected[2]
    assert euler_characteristic(m) == skm.euler_number(m, connectivity=1)


def test_shape_placement_and_dtype_do_not_matter():
    m = torus()
    big = np.zeros((60, 50, 45), np.uint8)
    big[5:34, 12:41, 3:32] = m
    assert betti_numbers(big) == (1, 1, 0)
    assert euler_characteristic(big) == 0
    # touching the volume border: padding must keep the outside one component
    edge = np.zeros((29, 29, 10), bool)
    edge[:, :, :] = m[:, :, 9:19]
    assert betti_numbers(edge) == gudhi_betti(edge)


def test_connectivity_convention():
    # two voxels sharing an edge / a corner are two 6-connected components
    m = np.zeros((4, 4, 4), bool)
    m[1, 1, 1] = m[2, 2, 1] = True
    assert betti_numbers(m) == (2, 0, 0)
    m[2, 2, 1] = False
    m[2, 2, 2] = True
    assert betti_numbers(m) == (2, 0, 0)
    # a one-voxel hole in a 3x3x3 block is a cavity
    m = np.ones((3, 3, 3), bool)
    m[1, 1, 1] = False
    assert betti_numbers(m) == (1, 0, 1)
    # a ring of 8 voxels around a missing centre in one plane is a tunnel
    m = np.zeros((3, 3, 1), bool)
    m[:, :] = True
    m[1, 1, 0] = False
    assert betti_numbers(m) == (1, 1, 0)


def test_empty_and_full():
    assert betti_numbers(np.zeros((5, 6, 7), bool)) == (0, 0, 0)
    assert euler_characteristic(np.zeros((5, 6, 7), bool)) == 0
    assert betti_numbers(np.ones((5, 6, 7), bool)) == (1, 0, 0)
    assert euler_characteristic(np.ones((1, 1, 1), bool)) == 1


def test_rejects_non_3d():
    with pytest.raises(ValueError, match="3-D"):
        betti_numbers(np.ones((4, 4), bool))


@pytest.mark.parametrize("seed", range(12))
def test_random_noise_against_gudhi_and_skimage(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(4, 16, size=3))
    m = rng.random(shape) < rng.uniform(0.15, 0.85)
    assert euler_characteristic(m) == skm.euler_number(m, connectivity=1)
    assert betti_numbers(m) == gudhi_betti(m)


def test_smoothed_noise_blobs_against_gudhi():
    from scipy import ndimage

    rng = np.random.default_rng(7)
    for _ in range(4):
        f = ndimage.gaussian_filter(rng.standard_normal((28, 26, 24)), 1.5)
        m = f > np.quantile(f, 0.6)
        assert betti_numbers(m) == gudhi_betti(m)
        assert euler_characteristic(m) == skm.euler_number(m, connectivity=1)


@pytest.mark.parametrize("seed", range(4))
def test_cripser_recipe_agrees_with_gudhi(seed):
    """The second oracle (used on large phantom label maps) against the first, on random and known shapes."""
    pytest.importorskip("cripser")
    rng = np.random.default_rng(50 + seed)
    for _ in range(40):
        m = rng.random(tuple(rng.integers(3, 9, 3))) < rng.uniform(0.3, 0.8)
        if m.any():
            assert cripser_betti(m) == gudhi_betti(m)
    for m in (ball(), shell(), torus(), linked_tori(), ball_tunnel_cavity()):
        assert cripser_betti(m) == gudhi_betti(m)
