"""Each DAE training corruption makes its own kind of error (Betti numbers checked with gudhi)."""

from __future__ import annotations

import numpy as np
import pytest

from fetalseg.train.dae_corrupt import CORRUPTIONS, corrupt, soften
from test_metrics_topology import gudhi_betti


def _run(name, labels, seed):
    sample, apply = CORRUPTIONS[name]
    params = sample(labels, np.random.default_rng(seed))
    assert params is not None
    again = sample(labels, np.random.default_rng(seed))
    out = apply(labels, params)
    assert np.array_equal(out, apply(labels, again))  # seeded: same draw, same result
    return params, out


def _slabs(n=24, gap=2) -> np.ndarray:
    """White matter (3) between two grey matter (2) slabs joined at one end (a U), CSF (1) around."""
    lab = np.ones((n, n, n), np.uint8)
    lab[2:-2, 2:-2, 8:10] = 2
    lab[2:-2, 2:-2, 10 + gap:12 + gap] = 2
    lab[2:4, 2:-2, 8:12 + gap] = 2  # the bottom of the U
    lab[4:-2, 2:-2, 10:10 + gap] = 3
    return lab


def test_boundary_moves_only_border_voxels_to_a_neighbour_label():
    lab = _slabs()
    _, out = _run("boundary", lab, 0)
    changed = np.argwhere(out != lab)
    assert len(changed) > 0
    pad = np.pad(lab, 1, mode="edge")
    for x, y, z in changed:
        nbs = {pad[x + 1 + dx, y + 1 + dy, z + 1 + dz] for dx, dy, dz in
               ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))}
        assert out[x, y, z] in nbs and out[x, y, z] != lab[x, y, z]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_island_adds_a_component(seed):
    lab = _slabs()
    params, out = _run("island", lab, seed)
    b, a = gudhi_betti(lab == params["label"]), gudhi_betti(out == params["label"])
    assert a[0] == b[0] + 1


@pytest.mark.parametrize("seed", [0, 1])
def test_cavity_adds_a_b2(seed):
    lab = np.zeros((24, 24, 24), np.uint8)
    lab[3:21, 3:21, 3:21] = 3
    params, out = _run("cavity", lab, seed)
    assert params["label"] == 3
    assert gudhi_betti(out == 3) == (1, 0, 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_tunnel_adds_a_b1(seed):
    lab = np.zeros((24, 24, 24), np.uint8)
    lab[4:20, 4:20, 4:20] = 3
    _, out = _run("tunnel", lab, seed)
    assert gudhi_betti(out == 3) == (1, 1, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bridge_joins_the_two_arms_of_grey_matter(seed):
    lab = _slabs()
    assert gudhi_betti(lab == 2) == (1, 0, 0)
    params, out = _run("bridge", lab, seed)
    assert params["label"] == 2
    assert gudhi_betti(out == 2) == (1, 1, 0)


def test_break_thins_or_breaks_cortex_with_neighbouring_labels():
    lab = _slabs()
    holes = 0
    for seed in range(6):
        params, out = _run("break", lab, seed)
        changed = out != lab
        assert changed.any() and np.all(lab[changed] == 2) and set(np.unique(out[changed])) <= {1, 3}
        holes += gudhi_betti(out == 2)[1] > 0
    assert holes > 0  # at least one draw punched through the ribbon


def test_swap_turns_one_label_into_its_neighbour_near_their_border():
    lab = _slabs()
    params, out = _run("swap", lab, 3)
    changed = out != lab
    assert changed.any()
    assert np.all(lab[changed] == params["from"]) and np.all(out[changed] == params["to"])
    dist = np.sqrt(((np.argwhere(changed) - np.array(params["centre"])) ** 2).sum(axis=1))
    assert dist.max() <= params["radius"]


def test_corrupt_and_soften():
    lab = _slabs()
    rng = np.random.default_rng(5)
    bad = corrupt(lab, rng, (3, 3))
    assert bad.dtype == np.uint8 and bad.shape == lab.shape and np.any(bad != lab)
    p = soften(bad, rng)
    assert p.shape == (8,) + lab.shape and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-5)
    assert np.mean(np.argmax(p, axis=0) == bad) > 0.9
    with pytest.raises(ValueError, match="names"):
        corrupt(lab, rng, names=["melt"])
