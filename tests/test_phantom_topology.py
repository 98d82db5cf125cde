"""Phantom label maps have the FeTA topology for every pathology, GA 20-38 and many seeds.

Targets: cortical grey matter (2, 0, 0) (two hemispheres), every other FeTA tissue (1, 0, 0),
with 6-connected foreground and 26-connected background (``fetalseg.metrics.betti_numbers``).
One case per pathology is also checked against an independent oracle (scipy labelling and
scikit-image's Euler number), and five more, including 0.8 mm at 37 weeks, against CubicalRipser.
The voxel grows with the brain (about 45 voxels across it) so that the grid stays coarse and the
tests fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from fetalseg import norms
from fetalseg.metrics import betti_numbers
from fetalseg.phantom import PATHOLOGIES, make_subject
from fetalseg.phantom.pathology import z_shift

TARGET = {1: (1, 0, 0), 2: (2, 0, 0), 3: (1, 0, 0), 4: (1, 0, 0), 5: (1, 0, 0), 6: (1, 0, 0), 7: (1, 0, 0)}
GAS = (20.0, 23.0, 26.0, 29.0, 32.0, 35.0, 38.0)


def coarse_voxel(ga: float, pathology: str) -> float:
    """About 45 voxels across the brain's biparietal diameter, 0.8-1.6 mm."""
    z = z_shift(pathology, 1.0).get("bBIP", 0.0)
    bbip = norms.norm_mean("bBIP", ga) + z * norms.norm_sd("bBIP", ga)
    return float(np.clip(round(bbip / 45.0, 1), 0.8, 1.6))


def _defects(labels: np.ndarray) -> dict[int, tuple[int, int, int]]:
    out = {}
    for k, target in TARGET.items():
        b = betti_numbers(labels == k)
        if b != target:
            out[k] = b
    return out


@pytest.mark.parametrize("pathology", PATHOLOGIES)
def test_topology_across_gestational_age(pathology):
    bad = {}
    for i, ga in enumerate(GAS):
        s = make_subject(ga, pathology, voxel=coarse_voxel(ga, pathology), seed=100 + i)
        d = _defects(s.labels.data)
        if d:
            bad[(ga, 100 + i)] = d
    assert not bad, f"topology off target (GA, seed) -> {{label: betti}}: {bad}"


@pytest.mark.slow
@pytest.mark.parametrize("pathology", PATHOLOGIES)
def test_topology_many_seeds(pathology):
    bad = {}
    for ga in (21.5, 24.0, 27.5, 30.0, 33.5, 37.0):
        for seed in range(3):
            s = make_subject(ga, pathology, voxel=coarse_voxel(ga, pathology), seed=seed)
            d = _defects(s.labels.data)
            if d:
                bad[(ga, seed)] = d
    assert not bad, f"topology off target (GA, seed) -> {{label: betti}}: {bad}"


def _oracle_betti(mask: np.ndarray) -> tuple[int, int, int]:
    """b0 (6-conn), b2 (26-conn enclosed background), b1 = b0 + b2 - Euler (skimage, connectivity 1)."""
    from skimage.measure import euler_number

    m = np.pad(mask, 1)
    _, b0 = ndi.label(m, structure=ndi.generate_binary_structure(3, 1))
    bg, nbg = ndi.label(~m, structure=np.ones((3, 3, 3), bool))
    b2 = nbg - 1
    ec = euler_number(m, connectivity=1)
    return int(b0), int(b0 + b2 - ec), int(b2)


@pytest.mark.parametrize("pathology, ga", [("normal", 28.0), ("vm", 24.0), ("acc", 33.0), ("sb", 30.0),
                                           ("micro", 36.0)])
def test_topology_with_an_independent_oracle(pathology, ga):
    s = make_subject(ga, pathology, voxel=coarse_voxel(ga, pathology), seed=7)
    lab = s.labels.data
    for k, target in TARGET.items():
        assert _oracle_betti(lab == k) == target, f"label {k}"


@pytest.mark.parametrize("pathology, ga, voxel, seed", [
    ("acc", 22.0, None, 11), ("vm", 31.0, None, 12), ("sb", 36.0, None, 13), ("micro", 26.0, None, 14),
    pytest.param("normal", 37.0, 0.8, 1, marks=pytest.mark.slow),  # the finest grid at the largest brain
])
def test_topology_against_cubical_ripser(pathology, ga, voxel, seed):
    """Betti numbers of every FeTA tissue from CubicalRipser (checked against gudhi in test_metrics_topology),
    not from fetalseg.metrics, which the phantom itself uses to accept a subject."""
    pytest.importorskip("cripser")
    from test_metrics_topology import cripser_betti

    s = make_subject(ga, pathology, voxel=voxel or coarse_voxel(ga, pathology), seed=seed)
    got = {k: cripser_betti(s.labels.data == k) for k in TARGET}
    assert got == TARGET


def test_corpus_callosum_and_skull_are_generation_only(tmp_path):
    s = make_subject(30.0, "normal", voxel=1.4, seed=3)
    gen, feta = s.generation.data, s.labels.data
    assert np.all(feta[gen == 8] == 3)  # callosum is white matter in FeTA
    assert np.all(feta[np.isin(gen, (9, 10, 11, 12))] == 0)
    # the brain sits inside the skull: no FeTA tissue touches amniotic fluid or maternal tissue
    outside = ndi.binary_dilation(np.isin(gen, (11, 12)), structure=np.ones((3, 3, 3), bool))
    assert not np.any(outside & (feta > 0) & (feta != 7))


@pytest.mark.slow
@pytest.mark.parametrize("pathology", PATHOLOGIES)
def test_topology_at_0p8mm_late_ga_with_the_independent_oracle(pathology):
    """The grids above are coarse; the generator's own 0.8 mm grid at late GA, checked by the oracle."""
    for ga in (31.0, 36.0):
        s = make_subject(ga, pathology, voxel=0.8, seed=0)
        lab = s.labels.data
        for k, target in TARGET.items():
            assert _oracle_betti(lab == k) == target, f"{pathology} {ga} w label {k}"
